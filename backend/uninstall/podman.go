package uninstall

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/containers/podman/v5/pkg/bindings/containers"
	pimages "github.com/containers/podman/v5/pkg/bindings/images"
	"github.com/containers/podman/v5/pkg/bindings/network"
	"github.com/containers/podman/v5/pkg/domain/entities/types"

	"github.com/loopat/desktop/backend/config"
	"github.com/loopat/desktop/backend/images"
)

// Labels and tag conventions shared with backend/loops and backend/images.
const (
	labelLoopID = "loopat.loop-id"
	wsTagPrefix = "ws-"
	sandboxRepo = "localhost/loopat-sandbox-"
)

type podmanView struct {
	containers      []Container
	images          []Image
	networks        []Network
	otherWorkspaces []string
}

func connect(ctx context.Context, d Deps) (context.Context, error) {
	if d.Conn == nil {
		return nil, errors.New("podman is not configured")
	}
	conn, err := d.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("podman not reachable: %w", err)
	}
	return conn, nil
}

// ours reports whether labels mark a resource of workspace ws. The label filter already
// matches exactly; checking again keeps the selection correct whatever the server does.
func ours(labels map[string]string, ws string) bool { return labels[config.LabelKey] == ws }

func inspectPodman(ctx context.Context, d Deps) (podmanView, error) {
	conn, err := connect(ctx, d)
	if err != nil {
		return podmanView{}, err
	}
	ws := d.Workspace.Name
	var v podmanView
	if v.containers, err = listContainers(conn, ws); err != nil {
		return v, err
	}
	all, err := containers.List(conn, new(containers.ListOptions).WithAll(true))
	if err != nil {
		return v, fmt.Errorf("list containers: %w", err)
	}
	others := map[string]bool{}
	for _, c := range all {
		if w := c.Labels[config.LabelKey]; w != "" && w != ws {
			others[w] = true
		}
	}
	if v.images, err = planImages(conn, ws, all); err != nil {
		return v, err
	}
	for _, im := range v.images {
		for _, u := range im.StaysFor {
			if w, ok := strings.CutPrefix(u, "workspace "); ok {
				others[w] = true
			}
		}
	}
	if v.networks, err = listNetworks(conn, ws); err != nil {
		return v, err
	}
	v.otherWorkspaces = sortedKeys(others)
	return v, nil
}

func listContainers(conn context.Context, ws string) ([]Container, error) {
	list, err := containers.List(conn, new(containers.ListOptions).WithAll(true).
		WithFilters(map[string][]string{"label": {config.LabelKey + "=" + ws}}))
	if err != nil {
		return nil, fmt.Errorf("list containers: %w", err)
	}
	out := []Container{}
	for _, c := range list {
		if !ours(c.Labels, ws) {
			continue
		}
		name := c.ID
		if len(c.Names) > 0 {
			name = c.Names[0]
		}
		out = append(out, Container{Name: name, ID: c.ID, Running: c.State == "running", LoopID: c.Labels[labelLoopID]})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

func listNetworks(conn context.Context, ws string) ([]Network, error) {
	list, err := network.List(conn, new(network.ListOptions).
		WithFilters(map[string][]string{"label": {config.LabelKey + "=" + ws}}))
	if err != nil {
		return nil, fmt.Errorf("list networks: %w", err)
	}
	out := []Network{}
	for _, n := range list {
		if ours(n.Labels, ws) {
			out = append(out, Network{Name: n.Name, ID: n.ID})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// splitRef cuts "repo:tag" at the last colon (registry ports contain colons too).
func splitRef(ref string) (repo, tag string) {
	i := strings.LastIndex(ref, ":")
	if i < 0 || strings.Contains(ref[i:], "/") {
		return ref, ""
	}
	return ref[:i], ref[i+1:]
}

// planImages finds the images of workspace ws: those it built (label) and those it uses
// (its ws- tag on a sandbox repo, see images.WorkspaceTag). An image stays, losing only
// this workspace's tags, while another workspace's ws- tag or another workspace's
// container still uses it.
func planImages(conn context.Context, ws string, allContainers []types.ListContainer) ([]Image, error) {
	list, err := pimages.List(conn, new(pimages.ListOptions).WithAll(false))
	if err != nil {
		return nil, fmt.Errorf("list images: %w", err)
	}
	myTag := images.WorkspaceTag(ws)
	users := map[string][]string{} // image ID -> containers of other workspaces (or unlabelled)
	for _, c := range allContainers {
		if ours(c.Labels, ws) {
			continue
		}
		name := c.ID
		if len(c.Names) > 0 {
			name = c.Names[0]
		}
		users[c.ImageID] = append(users[c.ImageID], "container "+name)
	}
	out := []Image{}
	for _, im := range list {
		var mine []string
		var stays []string
		for _, t := range im.RepoTags {
			repo, tag := splitRef(t)
			if !strings.HasPrefix(repo, sandboxRepo) || !strings.HasPrefix(tag, wsTagPrefix) {
				continue
			}
			if tag == myTag {
				mine = append(mine, t)
			} else {
				stays = append(stays, "workspace "+strings.TrimPrefix(tag, wsTagPrefix))
			}
		}
		if !ours(im.Labels, ws) && len(mine) == 0 {
			continue
		}
		stays = append(stays, users[im.ID]...)
		img := Image{ID: im.ID, Size: im.Size, Tags: append([]string{}, im.RepoTags...), Ref: imageRef(im.RepoTags, im.ID)}
		if len(stays) > 0 {
			img.Action, img.StaysFor, img.UntagRefs = ImageUntag, dedupe(stays), mine
		} else {
			img.Action = ImageRemove
		}
		out = append(out, img)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Ref < out[j].Ref })
	return out, nil
}

func imageRef(tags []string, id string) string {
	for _, t := range tags {
		if _, tag := splitRef(t); tag == "latest" {
			return t
		}
	}
	if len(tags) > 0 {
		return tags[0]
	}
	if len(id) > 12 {
		id = id[:12]
	}
	return "<none> " + id
}

func dedupe(in []string) []string {
	seen := map[string]bool{}
	out := in[:0:0]
	for _, s := range in {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}

// notFound reports podman's "already gone" errors, which count as success on a rerun.
func notFound(err error) bool {
	if err == nil {
		return false
	}
	s := strings.ToLower(err.Error())
	for _, m := range []string{"no such container", "no container with", "no such image", "image not known",
		"unable to find network", "network not found", "no such network", "not found"} {
		if strings.Contains(s, m) {
			return true
		}
	}
	return false
}
