package images

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"

	buildahDefine "github.com/containers/buildah/define"
)

const miseConfigPath = "/opt/loopat-mise/config/config.toml"

// childContext is the per-loop build context: a Containerfile FROM the base ref, the
// mise.toml without [host], and a shim per declared host CLI. Its hash (which covers the
// base ref through the FROM line) is the child's tag, so the same mise.toml on the same
// base always maps to the same image.
func childContext(baseRef string, miseToml []byte) (*buildContext, error) {
	clis, err := ParseHostCLIs(miseToml)
	if err != nil {
		return nil, err
	}
	stripped, err := StripHostTable(miseToml)
	if err != nil {
		return nil, err
	}
	var cf strings.Builder
	fmt.Fprintf(&cf, "FROM %s\n", baseRef)
	fmt.Fprintf(&cf, "COPY --chown=loopat:loopat mise.toml %s\n", miseConfigPath)
	fmt.Fprintf(&cf, "RUN export MISE_TRUSTED_CONFIG_PATHS=%s MISE_YES=1 && mise install && mise reshim\n", miseConfigPath)
	c := &buildContext{}
	c.addFile("mise.toml", 0o644, stripped)
	if len(clis) > 0 {
		// After reshim, so mise cannot clobber them.
		cf.WriteString("COPY --chown=loopat:loopat host-bin/ /opt/loopat-mise/shims/\n")
		c.addDir("host-bin")
		for _, cli := range clis {
			c.addFile("host-bin/"+cli, 0o755, hostShim(cli))
		}
	}
	c.addFile("Containerfile", 0o644, []byte(cf.String()))
	return c, nil
}

// LoopImageRef is the child tag a mise.toml maps to on the current base, or the base ref for
// an empty mise.toml. It needs no podman.
func (b *Builder) LoopImageRef(miseToml []byte) (string, error) {
	base, err := b.BaseRef()
	if err != nil {
		return "", err
	}
	if len(bytes.TrimSpace(miseToml)) == 0 {
		return base, nil
	}
	c, err := childContext(base, miseToml)
	if err != nil {
		return "", err
	}
	return RefForHash(c.hash()), nil
}

// EnsureLoopImage returns the image a loop with this mise.toml runs in. An empty mise.toml
// uses the base image. When the mise.toml is invalid or its tools fail to install, it falls
// back to the base image and returns a warning for the loop to show; err is only for a
// missing base image or engine.
func (b *Builder) EnsureLoopImage(ctx, conn context.Context, miseToml []byte, progress func(Progress)) (ref, warning string, err error) {
	base, err := b.EnsureBase(ctx, conn, progress)
	if err != nil {
		return "", "", err
	}
	if len(bytes.TrimSpace(miseToml)) == 0 {
		return base, "", nil
	}
	c, err := childContext(base, miseToml)
	if err != nil {
		return base, b.fallbackWarning(err), nil
	}
	child := RefForHash(c.hash())

	b.mu.Lock()
	known, failed := b.childFail[child]
	b.mu.Unlock()
	if failed {
		return base, known, nil
	}
	err = b.ensure(ctx, conn, child, c, buildahDefine.PullNever, false, progress)
	if err == nil {
		return child, "", nil
	}
	var berr *BuildError
	if !errors.As(err, &berr) || (ctx != nil && ctx.Err() != nil) {
		return "", "", err // engine trouble or cancellation, not the user's mise.toml
	}
	w := b.fallbackWarning(err)
	b.mu.Lock()
	b.childFail[child] = w
	b.mu.Unlock()
	return base, w, nil
}

// RebuildLoopImage rebuilds a mise.toml's child image without the layer cache.
func (b *Builder) RebuildLoopImage(ctx, conn context.Context, miseToml []byte, progress func(Progress)) (string, error) {
	base, err := b.EnsureBase(ctx, conn, progress)
	if err != nil {
		return "", err
	}
	c, err := childContext(base, miseToml)
	if err != nil {
		return "", err
	}
	child := RefForHash(c.hash())
	return child, b.ensure(ctx, conn, child, c, buildahDefine.PullNever, true, progress)
}

func (b *Builder) fallbackWarning(err error) string {
	b.log.Warn("loop image unavailable, using the base sandbox image", "err", err)
	return "mise.toml tools are not installed, the loop runs on the base sandbox image: " + err.Error()
}
