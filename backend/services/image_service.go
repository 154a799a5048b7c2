package services

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"time"

	"github.com/loopat/desktop/backend/images"
)

// ImageStatus is what the onboarding and settings views show about the sandbox image.
type ImageStatus struct {
	Ref      string           `json:"ref"`     // tag the current config builds
	Present  bool             `json:"present"` // the tag exists: loops start without a build
	Building bool             `json:"building"`
	Progress *images.Progress `json:"progress,omitempty"` // latest build update
	Error    string           `json:"error,omitempty"`    // last background build error
}

// ImageService exposes the sandbox image to the UI. Build progress arrives as
// "image:progress" events.
type ImageService struct {
	ctx     context.Context // app lifetime: background builds stop with the app
	builder *images.Builder
	connect func() (context.Context, error) // the engine's current bindings connection
	pruneMu sync.Mutex                      // one clean-up at a time
}

// NewImageService wires the builder to the engine connection provider.
func NewImageService(appCtx context.Context, b *images.Builder, connect func() (context.Context, error)) *ImageService {
	return &ImageService{ctx: appCtx, builder: b, connect: connect}
}

// Status reports the image for the current config and any running build.
func (s *ImageService) Status() (ImageStatus, error) {
	st := s.builder.BuildState()
	out := ImageStatus{Building: st.Building, Progress: st.Last, Error: st.LastError}
	conn, err := s.connect()
	if err != nil {
		ref, rerr := s.builder.BaseRef()
		out.Ref = ref
		if rerr != nil {
			return out, rerr
		}
		return out, fmt.Errorf("podman engine: %w", err)
	}
	ctx, cancel := context.WithTimeout(s.ctx, 10*time.Second)
	defer cancel()
	out.Ref, out.Present, err = s.builder.SandboxImageStatus(ctx, conn)
	return out, err
}

// Build starts building the sandbox image in the background unless it exists or a build
// is already running; watch "image:progress" for the outcome.
func (s *ImageService) Build() error {
	conn, err := s.connect()
	if err != nil {
		return fmt.Errorf("podman engine: %w", err)
	}
	s.builder.StartBaseBuild(s.ctx, conn)
	return nil
}

// DiskView is Settings → Sandbox → Disk: what the sandbox uses on this machine.
type DiskView struct {
	Images      []images.DiskImage `json:"images"`
	Reclaimable int64              `json:"reclaimable"` // sizes of the images Prune would remove (upper bound)
	Loops       []LoopDisk         `json:"loops"`
	Caches      []CacheDisk        `json:"caches"`
	ImagesError string             `json:"imagesError,omitempty"` // engine down: images unknown, the rest still shown
}

// LoopDisk is one loop's folders on the host.
type LoopDisk struct {
	ID      string `json:"id"`
	Workdir int64  `json:"workdir"`
	Home    int64  `json:"home"`
	Partial bool   `json:"partial"` // counting stopped early (huge tree) or skipped unreadable entries
}

// CacheDisk is a tool cache inside a loop's home (mise downloads and installs).
type CacheDisk struct {
	Loop string `json:"loop"`
	Path string `json:"path"` // relative to the loop's home
	Size int64  `json:"size"`
}

// miseCacheDirs are where mise keeps downloads and installs inside a loop's home.
var miseCacheDirs = []string{".cache/mise", ".local/share/mise"}

// Disk reports sandbox images, per-loop folders and caches.
func (s *ImageService) Disk() (DiskView, error) {
	out := DiskView{Images: []images.DiskImage{}, Loops: []LoopDisk{}, Caches: []CacheDisk{}}
	if conn, err := s.connect(); err != nil {
		out.ImagesError = fmt.Sprintf("podman engine: %v", err)
	} else {
		ctx, cancel := context.WithTimeout(s.ctx, time.Minute)
		imgs, err := s.builder.Disk(ctx, conn)
		cancel()
		if err != nil {
			out.ImagesError = err.Error()
		}
		if imgs != nil {
			out.Images = imgs
		}
		for _, im := range out.Images {
			if im.Removable {
				out.Reclaimable += im.Size
			}
		}
	}
	ctx, cancel := context.WithTimeout(s.ctx, 30*time.Second)
	defer cancel()
	root := s.builder.Workspace().LoopsDir()
	ents, err := os.ReadDir(root)
	if err != nil && !os.IsNotExist(err) {
		return out, fmt.Errorf("read loops folder: %w", err)
	}
	for _, e := range ents {
		if !e.IsDir() { // DirEntry type is from lstat: a symlink is not a loop folder
			continue
		}
		dir := filepath.Join(root, e.Name())
		ld := LoopDisk{ID: e.Name()}
		var p1, p2 bool
		ld.Workdir, p1, _ = images.DirSize(ctx, filepath.Join(dir, "workdir"))
		ld.Home, p2, _ = images.DirSize(ctx, filepath.Join(dir, "home"))
		ld.Partial = p1 || p2
		out.Loops = append(out.Loops, ld)
		for _, rel := range miseCacheDirs {
			// The loop writes its home: no component of the cache path may be a symlink.
			if n, _, err := images.DirSizeUnder(ctx, filepath.Join(dir, "home"), rel); err == nil && n > 0 {
				out.Caches = append(out.Caches, CacheDisk{Loop: e.Name(), Path: rel, Size: n})
			}
		}
	}
	sort.Slice(out.Loops, func(i, j int) bool {
		return out.Loops[i].Workdir+out.Loops[i].Home > out.Loops[j].Workdir+out.Loops[j].Home
	})
	return out, nil
}

// Prune removes this workspace's superseded sandbox images that no container uses (never
// the current one) and reports what it freed.
func (s *ImageService) Prune() (images.PruneResult, error) {
	if !s.pruneMu.TryLock() {
		return images.PruneResult{}, fmt.Errorf("a clean-up is already running")
	}
	defer s.pruneMu.Unlock()
	conn, err := s.connect()
	if err != nil {
		return images.PruneResult{}, fmt.Errorf("podman engine: %w", err)
	}
	ctx, cancel := context.WithTimeout(s.ctx, 10*time.Minute)
	defer cancel()
	return s.builder.Prune(ctx, conn)
}
