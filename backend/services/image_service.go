package services

import (
	"context"
	"fmt"
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
