package images

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/containers/podman/v5/pkg/bindings/containers"
	pimages "github.com/containers/podman/v5/pkg/bindings/images"
	"github.com/containers/podman/v5/pkg/bindings/system"
	"github.com/containers/podman/v5/pkg/domain/entities/types"

	"github.com/loopat/desktop/backend/config"
)

// loopIDLabel is backend/loops.LabelLoopID (loops imports this package).
const loopIDLabel = "loopat.loop-id"

// DiskImage is one sandbox image of this workspace, as the disk view shows it.
type DiskImage struct {
	Ref        string   `json:"ref"`
	ID         string   `json:"id"`
	Size       int64    `json:"size"`       // whole image, layers shared with others included
	UniqueSize int64    `json:"uniqueSize"` // layers no other image uses (-1 when unknown)
	Created    int64    `json:"created"`    // unix seconds
	Loops      []string `json:"loops"`      // this workspace's loops whose containers use it
	Others     int      `json:"others"`     // containers of other workspaces (or unlabelled) using it
	Current    bool     `json:"current"`    // the base the config builds, or a loop image built on it
	Shared     bool     `json:"shared"`     // other workspaces' ws- tags: prune only drops this one's tag
	Removable  bool     `json:"removable"`  // superseded and unused: Prune removes it
}

// PruneResult is what Prune did.
type PruneResult struct {
	Removed  []string `json:"removed"`  // images deleted
	Untagged []string `json:"untagged"` // images only untagged (other workspaces still use them)
	Failed   []string `json:"failed"`   // "ref: error" for images podman refused to remove
	Freed    int64    `json:"freed"`    // bytes the image store shrank by
}

// mine reports whether img belongs to this workspace's tag scheme: a sandbox repo image with
// this workspace's ws- tag. Other workspaces' ws- tags are counted in others.
func (b *Builder) mine(img *types.ImageSummary) (ours bool, others int) {
	own := WorkspaceTag(b.ws.Label())
	for _, rt := range img.RepoTags {
		if !strings.HasPrefix(rt, repoPrefix) {
			continue
		}
		tag := rt[strings.LastIndex(rt, ":")+1:]
		switch {
		case tag == own:
			ours = true
		case strings.HasPrefix(tag, "ws-"):
			others++
		}
	}
	return ours, others
}

// Disk lists this workspace's sandbox images: which is current, which loops use which, and
// which Prune would remove.
func (b *Builder) Disk(ctx, conn context.Context) ([]DiskImage, error) {
	call, stop := joinContexts(conn, ctx)
	defer stop()
	return b.disk(call, true)
}

func (b *Builder) disk(call context.Context, sizes bool) ([]DiskImage, error) {
	base, err := b.BaseRef()
	if err != nil {
		return nil, err
	}
	// All images, not only sandbox ones: an image of any repo built FROM a superseded
	// sandbox image keeps it (podman would refuse to remove a parent anyway).
	// (Top-level images only: build intermediates are not users.)
	list, err := pimages.List(call, new(pimages.ListOptions).WithAll(false))
	if err != nil {
		return nil, fmt.Errorf("list sandbox images: %w", err)
	}
	// Every container counts, running or not, of any workspace: podman would refuse to remove
	// the image anyway, and a stopped loop resumes in its container.
	ctrs, err := containers.List(call, new(containers.ListOptions).WithAll(true))
	if err != nil {
		return nil, fmt.Errorf("list containers: %w", err)
	}
	unique := map[string]int64{}
	if sizes {
		if df, err := system.DiskUsage(call, nil); err == nil {
			for _, im := range df.Images {
				unique[im.ImageID] = im.UniqueSize
			}
		} else {
			b.log.Warn("disk usage unavailable", "err", err)
		}
	}

	byID := map[string]*types.ImageSummary{}
	baseID := ""
	for _, img := range list {
		byID[img.ID] = img
		if slices.Contains(img.RepoTags, base) {
			baseID = img.ID
		}
	}
	out := []DiskImage{}
	for _, img := range list {
		ours, others := b.mine(img)
		if !ours {
			continue
		}
		d := DiskImage{Ref: imageRefOf(img), ID: img.ID, Size: img.Size, UniqueSize: -1, Created: img.Created,
			Loops: []string{}, Shared: others > 0, Current: baseID != "" && (img.ID == baseID || img.ParentId == baseID)}
		if u, ok := lookupUnique(unique, img.ID); ok {
			d.UniqueSize = u
		}
		for _, c := range ctrs {
			if !usesImage(c, img.ID) {
				continue
			}
			if c.Labels[config.LabelKey] == b.ws.Label() && c.Labels[loopIDLabel] != "" {
				d.Loops = append(d.Loops, c.Labels[loopIDLabel])
			} else {
				d.Others++
			}
		}
		d.Removable = !d.Current && len(d.Loops) == 0 && d.Others == 0
		out = append(out, d)
	}
	// A superseded image that is an ancestor of any image not being removed stays.
	kept := map[string]bool{}
	for _, d := range out {
		if !d.Removable {
			kept[d.ID] = true
		}
	}
	for _, img := range list {
		if _, ok := kept[img.ID]; ok || !isListed(out, img.ID) {
			for p := img.ParentId; p != ""; p = parentOf(byID, p) {
				kept[p] = true
			}
		}
	}
	for i := range out {
		if kept[out[i].ID] {
			out[i].Removable = false
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Created > out[j].Created })
	return out, nil
}

// Prune removes this workspace's superseded sandbox images that no container uses. An image
// other workspaces also tag loses only this workspace's tag. Podman itself refuses to remove
// an image a container (created meanwhile) uses; that lands in Failed.
func (b *Builder) Prune(ctx, conn context.Context) (PruneResult, error) {
	call, stop := joinContexts(conn, ctx)
	defer stop()
	res := PruneResult{Removed: []string{}, Untagged: []string{}, Failed: []string{}}
	imgs, err := b.disk(call, true)
	if err != nil {
		return res, err
	}
	before := storeSize(call)
	own := WorkspaceTag(b.ws.Label())
	var uniqueSum, sizeSum int64
	// Newest first: a child goes before the parent it was built on.
	for _, d := range imgs {
		if !d.Removable {
			continue
		}
		info, err := pimages.GetImage(call, d.ID, nil)
		if err != nil {
			res.Failed = append(res.Failed, fmt.Sprintf("%s: %v", d.Ref, err))
			continue
		}
		// Only this repo's latest tag and this workspace's tag are removed; any other tag
		// (another workspace's, or one the user added) keeps the image.
		var drop []string
		keep := false
		for _, rt := range info.RepoTags {
			tag := rt[strings.LastIndex(rt, ":")+1:]
			if strings.HasPrefix(rt, repoPrefix) && (tag == own || tag == latestTag) {
				drop = append(drop, rt)
			} else {
				keep = true
			}
		}
		if d.Shared {
			drop = []string{workspaceRef(d.Ref, b.ws.Label())}
		}
		failed := false
		for _, rt := range drop {
			repo, tag := rt[:strings.LastIndex(rt, ":")], rt[strings.LastIndex(rt, ":")+1:]
			if err := pimages.Untag(call, d.ID, tag, repo, nil); err != nil {
				res.Failed = append(res.Failed, fmt.Sprintf("%s: %v", rt, err))
				failed = true
				break
			}
		}
		if failed {
			continue
		}
		if keep || d.Shared {
			res.Untagged = append(res.Untagged, d.Ref)
			continue
		}
		// Untagged and no other tag: delete it. Without force, so a container using it keeps it.
		if _, errs := pimages.Remove(call, []string{d.ID}, nil); len(errs) > 0 {
			res.Failed = append(res.Failed, fmt.Sprintf("%s: %v", d.Ref, errs[0]))
			// Put the names back so the image stays listed and recognisable.
			for _, rt := range drop {
				i := strings.LastIndex(rt, ":")
				if err := pimages.Tag(call, d.ID, rt[i+1:], rt[:i], nil); err != nil {
					b.log.Warn("re-tag after failed removal", "ref", rt, "err", err)
				}
			}
			continue
		}
		res.Removed = append(res.Removed, d.Ref)
		if d.UniqueSize > 0 {
			uniqueSum += d.UniqueSize
		}
		sizeSum += d.Size
	}
	after := storeSize(call)
	res.Freed = uniqueSum
	if before >= 0 && after >= 0 && before-after > uniqueSum {
		// Removing a parent and its child frees layers neither owned alone.
		// Bounded by what was removed: a build running meanwhile must not count.
		res.Freed = min(before-after, sizeSum)
	}
	b.log.Info("pruned sandbox images", "removed", len(res.Removed), "untagged", len(res.Untagged),
		"failed", len(res.Failed), "freed", res.Freed)
	return res, nil
}

// storeSize is the image store's total size, or -1.
func storeSize(call context.Context) int64 {
	df, err := system.DiskUsage(call, nil)
	if err != nil {
		return -1
	}
	return df.ImagesSize
}

func usesImage(c types.ListContainer, id string) bool {
	return c.ImageID == id || len(c.ImageID) >= 12 && strings.HasPrefix(id, c.ImageID)
}

func lookupUnique(m map[string]int64, id string) (int64, bool) {
	if v, ok := m[id]; ok {
		return v, true
	}
	for k, v := range m { // podman 4 reports short ids in df
		if len(k) >= 12 && strings.HasPrefix(id, k) {
			return v, true
		}
	}
	return 0, false
}

func parentOf(byID map[string]*types.ImageSummary, id string) string {
	if img, ok := byID[id]; ok {
		return img.ParentId
	}
	return ""
}

func isListed(out []DiskImage, id string) bool {
	for _, d := range out {
		if d.ID == id {
			return true
		}
	}
	return false
}

func imageRefOf(img *types.ImageSummary) string {
	for _, t := range img.RepoTags {
		if strings.HasPrefix(t, repoPrefix) && strings.HasSuffix(t, ":"+latestTag) {
			return t
		}
	}
	for _, t := range img.RepoTags {
		if strings.HasPrefix(t, repoPrefix) {
			return t
		}
	}
	return img.ID
}
