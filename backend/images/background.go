package images

import (
	"context"
)

// BuildState is the base image build as status views see it.
type BuildState struct {
	Building  bool      `json:"building"`
	Last      *Progress `json:"last,omitempty"` // latest progress of any build
	LastError string    `json:"lastError,omitempty"`
}

// StartBaseBuild ensures the base image in the background (progress on the bus) and reports
// whether it started one; false means a background build is already running.
func (b *Builder) StartBaseBuild(ctx, conn context.Context) bool {
	b.mu.Lock()
	if b.bgBuilding {
		b.mu.Unlock()
		return false
	}
	b.bgBuilding = true
	b.bgErr = ""
	b.mu.Unlock()
	go func() {
		_, err := b.EnsureBase(ctx, conn, nil)
		b.mu.Lock()
		b.bgBuilding = false
		if err != nil {
			b.bgErr = err.Error()
		}
		b.mu.Unlock()
	}()
	return true
}

// BuildState reports the background build.
func (b *Builder) BuildState() BuildState {
	b.mu.Lock()
	defer b.mu.Unlock()
	st := BuildState{Building: b.bgBuilding, LastError: b.bgErr}
	if b.lastBuild != nil {
		p := *b.lastBuild
		st.Last = &p
	}
	return st
}
