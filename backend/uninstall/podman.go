package uninstall

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"
	"sync"
	"time"

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
	// d.Conn may wait for an engine that is still starting (up to a minute in the app);
	// an engine that is down must not hang uninstall, so the wait is bounded here. The
	// connection itself keeps ctx: cancelling the wait must not close it.
	type got struct {
		conn context.Context
		err  error
	}
	ch := make(chan got, 1)
	go func() {
		conn, err := d.Conn(ctx)
		ch <- got{conn, err}
	}()
	t := time.NewTimer(connectTimeout)
	defer t.Stop()
	select {
	case g := <-ch:
		if g.err != nil {
			return nil, fmt.Errorf("podman not reachable: %w", g.err)
		}
		return g.conn, nil
	case <-t.C:
		return nil, fmt.Errorf("podman not reachable: no answer in %s", connectTimeout)
	case <-ctx.Done():
		return nil, fmt.Errorf("podman not reachable: %w", ctx.Err())
	}
}

// connectTimeout bounds the wait for podman (a var for tests).
var connectTimeout = 20 * time.Second

// OnceConn makes every call of conn after the first return the first (bounded) call's
// answer, so the plan and the run of one uninstall wait for an unreachable podman only
// once. The first caller's ctx is the connection's lifetime.
func OnceConn(conn func(context.Context) (context.Context, error)) func(context.Context) (context.Context, error) {
	if conn == nil {
		return nil
	}
	var (
		once sync.Once
		c    context.Context
		err  error
	)
	return func(ctx context.Context) (context.Context, error) {
		once.Do(func() {
			c, err = connect(ctx, Deps{Conn: conn})
			if err != nil {
				err = errors.New(strings.TrimPrefix(err.Error(), "podman not reachable: "))
			}
		})
		return c, err
	}
}

// owner decides which labelled podman resources belong to the workspace. Since workspace
// ids, the label is the id. A workspace from before ids also owns what it labelled with
// its name (the legacy label), but only where that is provably its own: a container of one
// of its own loops (loop ids are random), a network no other home's container carries the
// name of. Two homes with the same base name shared that name, so the name alone is no proof.
type owner struct {
	label  string
	legacy string          // "" when the workspace was born with an id
	loops  map[string]bool // this workspace's loop ids (legacy containers only)
}

func ownerOf(ws config.Workspace) owner {
	o := owner{label: ws.Label(), legacy: ws.LegacyLabel}
	if o.legacy == o.label {
		o.legacy = ""
	}
	if o.legacy != "" {
		o.loops = map[string]bool{}
		if ents, err := os.ReadDir(ws.LoopsDir()); err == nil {
			for _, e := range ents {
				if e.IsDir() {
					o.loops[e.Name()] = true
				}
			}
		}
	}
	return o
}

// labels are the label values to list by (podman ANDs several label filters, so each is
// listed on its own).
func (o owner) labels() []string {
	if o.legacy != "" {
		return []string{o.label, o.legacy}
	}
	return []string{o.label}
}

// container reports whether a container's labels make it ours. The label filter already
// matches; checking again keeps the selection correct whatever the server does.
func (o owner) container(labels map[string]string) bool {
	switch w := labels[config.LabelKey]; {
	case w == "":
		return false
	case w == o.label:
		return true
	case o.legacy != "" && w == o.legacy:
		return o.loops[labels[labelLoopID]]
	}
	return false
}

// image reports whether an image's label says this workspace built it.
func (o owner) image(labels map[string]string) bool {
	w := labels[config.LabelKey]
	return w != "" && (w == o.label || (o.legacy != "" && w == o.legacy))
}

// myTag reports whether a ws- tag is this workspace's.
func (o owner) myTag(tag string) bool {
	return tag == images.WorkspaceTag(o.label) || (o.legacy != "" && tag == images.WorkspaceTag(o.legacy))
}

func inspectPodman(ctx context.Context, d Deps) (podmanView, error) {
	conn, err := connect(ctx, d)
	if err != nil {
		return podmanView{}, err
	}
	ws := ownerOf(d.Workspace)
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
		if w := c.Labels[config.LabelKey]; w != "" && !ws.container(c.Labels) {
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

func listContainers(conn context.Context, ws owner) ([]Container, error) {
	out := []Container{}
	seen := map[string]bool{}
	for _, label := range ws.labels() {
		list, err := containers.List(conn, new(containers.ListOptions).WithAll(true).
			WithFilters(map[string][]string{"label": {config.LabelKey + "=" + label}}))
		if err != nil {
			return nil, fmt.Errorf("list containers: %w", err)
		}
		for _, c := range list {
			if !ws.container(c.Labels) || seen[c.ID] {
				continue
			}
			seen[c.ID] = true
			name := c.ID
			if len(c.Names) > 0 {
				name = c.Names[0]
			}
			out = append(out, Container{Name: name, ID: c.ID, Running: c.State == "running", LoopID: c.Labels[labelLoopID]})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

func listNetworks(conn context.Context, ws owner) ([]Network, error) {
	// The legacy (name) network was shared by every home of that name: ours only while no
	// container of another home still carries the name.
	legacyShared := false
	if ws.legacy != "" {
		list, err := containers.List(conn, new(containers.ListOptions).WithAll(true).
			WithFilters(map[string][]string{"label": {config.LabelKey + "=" + ws.legacy}}))
		if err != nil {
			return nil, fmt.Errorf("list containers: %w", err)
		}
		for _, c := range list {
			if !ws.container(c.Labels) {
				legacyShared = true
			}
		}
	}
	out := []Network{}
	for _, label := range ws.labels() {
		if label == ws.legacy && legacyShared {
			continue
		}
		list, err := network.List(conn, new(network.ListOptions).
			WithFilters(map[string][]string{"label": {config.LabelKey + "=" + label}}))
		if err != nil {
			return nil, fmt.Errorf("list networks: %w", err)
		}
		for _, n := range list {
			if n.Labels[config.LabelKey] == label {
				out = append(out, Network{Name: n.Name, ID: n.ID})
			}
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
func planImages(conn context.Context, ws owner, allContainers []types.ListContainer) ([]Image, error) {
	list, err := pimages.List(conn, new(pimages.ListOptions).WithAll(false))
	if err != nil {
		return nil, fmt.Errorf("list images: %w", err)
	}
	users := map[string][]string{} // image ID -> containers of other workspaces (or unlabelled)
	for _, c := range allContainers {
		if ws.container(c.Labels) {
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
			if ws.myTag(tag) {
				mine = append(mine, t)
			} else {
				stays = append(stays, "workspace "+strings.TrimPrefix(tag, wsTagPrefix))
			}
		}
		if !ws.image(im.Labels) && len(mine) == 0 {
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
