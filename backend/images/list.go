package images

import (
	"context"
	"sort"
	"strings"
	"time"

	pimages "github.com/containers/podman/v5/pkg/bindings/images"

	"github.com/loopat/desktop/backend/config"
)

// Listed is one loopat sandbox image on the engine.
type Listed struct {
	Ref        string    // the :latest tag, else the first tag
	ID         string    // short id
	Size       int64     // bytes
	Created    time.Time //
	BuiltBy    string    // workspace label
	Workspaces []string  // workspaces tagging it ws-NAME
	Current    bool      // the base image the config builds
}

// List returns the loopat sandbox images, newest first; baseErr says why the current base
// ref is unknown (the list is still returned).
func (b *Builder) List(ctx, conn context.Context) (list []Listed, baseErr error, err error) {
	call, stop := joinContexts(conn, ctx)
	defer stop()
	base, baseErr := b.BaseRef()
	imgs, err := pimages.List(call, new(pimages.ListOptions).WithFilters(map[string][]string{"reference": {repoPrefix + "*"}}))
	if err != nil {
		return nil, baseErr, err
	}
	sort.Slice(imgs, func(i, j int) bool { return imgs[i].Created > imgs[j].Created })
	for _, img := range imgs {
		l := Listed{ID: img.ID, Size: img.Size, Created: time.Unix(img.Created, 0), BuiltBy: img.Labels[config.LabelKey], Workspaces: []string{}}
		for _, t := range img.RepoTags {
			tag := t[strings.LastIndex(t, ":")+1:]
			if tag == latestTag {
				l.Ref = t
			} else if strings.HasPrefix(tag, "ws-") {
				l.Workspaces = append(l.Workspaces, strings.TrimPrefix(tag, "ws-"))
			}
		}
		if l.Ref == "" && len(img.RepoTags) > 0 {
			l.Ref = img.RepoTags[0]
		}
		l.Current = baseErr == nil && l.Ref == base
		if len(l.ID) > 12 {
			l.ID = l.ID[:12]
		}
		list = append(list, l)
	}
	return list, baseErr, nil
}
