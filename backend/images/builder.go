// Package images builds and caches loopat's sandbox images: the base workbench image from
// the embedded Containerfile, and per-loop child images with the tools of a loop's mise.toml.
//
// Every image is tagged with a hash of its exact build context, so an existing tag is a
// cache hit that costs one API call and no build. Builds go through the podman bindings
// (the client tars the context), stream progress on the bus, and are coalesced per tag.
package images

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"

	buildahDefine "github.com/containers/buildah/define"
	pimages "github.com/containers/podman/v5/pkg/bindings/images"
	"github.com/containers/podman/v5/pkg/domain/entities/types"

	"github.com/loopat/desktop/backend/config"
	"github.com/loopat/desktop/backend/events"
)

// Builder ensures sandbox images exist. It is safe for concurrent use.
type Builder struct {
	ws    config.Workspace
	sb    config.Sandbox
	bus   events.Publisher
	log   *slog.Logger
	files fs.FS // Containerfile and forwarder; tests substitute their own

	mu        sync.Mutex
	flights   map[string]*flight // in-progress builds by canonical ref
	childFail map[string]string  // child ref -> warning, so a broken mise.toml is not rebuilt every start
	claude    map[string]string  // image ID -> `claude --version`
	lastBuild *Progress          // latest update of any build, for status views

	bgBuilding bool   // StartBaseBuild running
	bgErr      string // its last error
}

type flight struct {
	done chan struct{}
	err  error
}

// NewBuilder returns a Builder for workspace ws. bus may be nil.
func NewBuilder(ws config.Workspace, sb config.Sandbox, bus events.Publisher, log *slog.Logger) *Builder {
	if log == nil {
		log = slog.Default()
	}
	return &Builder{
		ws: ws, sb: sb, bus: bus, log: log.With("component", "images"), files: assets,
		flights: map[string]*flight{}, childFail: map[string]string{}, claude: map[string]string{},
	}
}

func (b *Builder) baseImage() string {
	if s := strings.TrimSpace(b.sb.BaseImage); s != "" {
		return s
	}
	return config.Default().Sandbox.BaseImage
}

var baseImageArg = regexp.MustCompile(`(?m)^ARG BASE_IMAGE=.*$`)

// baseContext assembles the base image's build context: the Containerfile (with the
// configured base image as its FROM default), ca/ and bin/loopat-host.
func (b *Builder) baseContext() (*buildContext, error) {
	cf, err := fs.ReadFile(b.files, containerfilePath)
	if err != nil {
		return nil, fmt.Errorf("read embedded Containerfile: %w", err)
	}
	base := b.baseImage()
	if err := validateImageRef(base); err != nil {
		return nil, err
	}
	if !baseImageArg.Match(cf) {
		return nil, errors.New("embedded Containerfile has no ARG BASE_IMAGE line")
	}
	cf = baseImageArg.ReplaceAll(cf, []byte("ARG BASE_IMAGE="+base))

	fwd, err := readForwarder(b.files)
	if err != nil {
		return nil, err
	}
	certs, err := sandboxCACerts(b.sb.ExtraCACerts, b.sb.TrustHostCAs)
	if err != nil {
		return nil, err
	}

	c := &buildContext{}
	c.addFile("Containerfile", 0o644, cf)
	c.addDir("ca")
	for _, e := range certs {
		c.addFile(e.Path, e.Mode, e.Data)
	}
	c.addDir("bin")
	c.addFile(forwarderPath, 0o755, fwd)
	return c, nil
}

// BaseRef is the tag the base image has for the current Containerfile, forwarder and CA
// certificates. It needs no podman.
func (b *Builder) BaseRef() (string, error) {
	c, err := b.baseContext()
	if err != nil {
		return "", err
	}
	return RefForHash(c.hash()), nil
}

// EnsureBase returns the base image ref, building it when the tag does not exist yet.
// progress may be nil; updates also go to the bus.
func (b *Builder) EnsureBase(ctx, conn context.Context, progress func(Progress)) (string, error) {
	c, err := b.baseContext()
	if err != nil {
		return "", err
	}
	ref := RefForHash(c.hash())
	// A missing FROM image may be pulled (users start without debian locally); a present one never is.
	return ref, b.ensure(ctx, conn, ref, c, buildahDefine.PullIfMissing, false, progress)
}

// RebuildBase builds the base image again without the layer cache, keeping its tag.
func (b *Builder) RebuildBase(ctx, conn context.Context, progress func(Progress)) (string, error) {
	c, err := b.baseContext()
	if err != nil {
		return "", err
	}
	ref := RefForHash(c.hash())
	return ref, b.ensure(ctx, conn, ref, c, buildahDefine.PullIfMissing, true, progress)
}

// ensure makes ref exist (building c when needed, or always when force) and carry this
// workspace's tag. Concurrent calls for one ref share one build.
func (b *Builder) ensure(ctx, conn context.Context, ref string, c *buildContext, pull buildahDefine.PullPolicy, force bool, progress func(Progress)) error {
	call, stop := joinContexts(conn, ctx)
	defer stop()
	wsRef := workspaceRef(ref, b.ws.Label())
	if !force {
		// Hot path: both tags exist, two cheap lookups, no context tar, no build.
		ok, err := pimages.Exists(call, ref, nil)
		if err == nil && ok {
			ok, err = pimages.Exists(call, wsRef, nil)
		}
		if err != nil {
			return fmt.Errorf("look up image %s: %w", ref, err)
		}
		if ok {
			return nil
		}
	}

	b.mu.Lock()
	if f, ok := b.flights[ref]; ok {
		b.mu.Unlock()
		select {
		case <-f.done:
			if f.err != nil || !force {
				return f.err
			}
			// A forced rebuild that joined a normal ensure still rebuilds.
			return b.ensure(ctx, conn, ref, c, pull, force, progress)
		case <-call.Done():
			return fmt.Errorf("wait for build of %s: %w", ref, call.Err())
		}
	}
	f := &flight{done: make(chan struct{})}
	b.flights[ref] = f
	b.mu.Unlock()

	f.err = b.buildOrTag(call, ref, wsRef, c, pull, force, progress)

	b.mu.Lock()
	delete(b.flights, ref)
	b.mu.Unlock()
	close(f.done)
	return f.err
}

func (b *Builder) buildOrTag(call context.Context, ref, wsRef string, c *buildContext, pull buildahDefine.PullPolicy, force bool, progress func(Progress)) error {
	var oldID string
	if info, err := pimages.GetImage(call, ref, nil); err == nil && info != nil && info.ImageData != nil && info.ID != "" {
		if !force {
			// Built by another workspace (or before this workspace's tag existed): share it.
			b.log.Info("sandbox image present, tagging for workspace", "ref", ref, "tag", wsRef)
			return tagRef(call, ref, wsRef)
		}
		oldID = info.ID
	} else if ok, _ := pimages.Exists(call, wsRef, nil); ok && !force {
		// Someone removed only the canonical tag: restore it from the workspace tag.
		return tagRef(call, wsRef, ref)
	}
	id, err := b.build(call, ref, wsRef, c, pull, force, progress)
	if err != nil {
		return err
	}
	if oldID != "" && !strings.HasPrefix(oldID, id) {
		// The forced rebuild moved the tags; drop the old image unless a container still uses it.
		if _, errs := pimages.Remove(call, []string{oldID}, nil); len(errs) > 0 {
			b.log.Info("old sandbox image kept", "id", oldID, "reason", errors.Join(errs...))
		}
	}
	return nil
}

func tagRef(call context.Context, ref, target string) error {
	i := strings.LastIndex(target, ":")
	if err := pimages.Tag(call, ref, target[i+1:], target[:i], nil); err != nil {
		return fmt.Errorf("tag %s as %s: %w", ref, target, err)
	}
	return nil
}

// build runs one podman build of c tagged ref and wsRef, returning the image ID.
func (b *Builder) build(call context.Context, ref, wsRef string, c *buildContext, pull buildahDefine.PullPolicy, noCache bool, progress func(Progress)) (string, error) {
	dir, err := os.MkdirTemp("", "loopat-build-")
	if err != nil {
		return "", fmt.Errorf("build image: %w", err)
	}
	defer os.RemoveAll(dir)
	if err := c.writeTo(dir); err != nil {
		return "", fmt.Errorf("build image %s: %w", ref, err)
	}

	emit := func(p Progress) {
		b.mu.Lock()
		pp := p
		b.lastBuild = &pp
		b.mu.Unlock()
		if b.bus != nil {
			b.bus.Publish(ProgressTopic, p)
		}
		if progress != nil {
			progress(p)
		}
	}
	parser := newProgressParser(ref, emit)
	b.log.Info("building sandbox image", "ref", ref, "noCache", noCache)

	opts := types.BuildOptions{}
	opts.ContextDirectory = dir
	opts.Output = ref
	opts.AdditionalTags = []string{wsRef}
	opts.Labels = []string{config.LabelKey + "=" + b.ws.Label()}
	opts.PullPolicy = pull
	opts.Layers = true
	opts.NoCache = noCache
	opts.RemoveIntermediateCtrs = true
	opts.ForceRmIntermediateCtrs = true // also after a failed step, or its container pins the layers
	// Without an explicit format and isolation the server finds no cached layers (the podman
	// CLI sends these too), so every build would start from scratch.
	opts.OutputFormat = buildahDefine.OCIv1ImageManifest
	opts.Isolation = buildahDefine.IsolationOCI
	opts.Out = parser
	report, err := pimages.Build(call, []string{filepath.Join(dir, "Containerfile")}, opts)
	if err == nil && (report == nil || report.ID == "") {
		err = errors.New("podman reported no image ID")
	}
	if err != nil {
		if call.Err() != nil {
			err = fmt.Errorf("%w (%v)", call.Err(), err)
		}
		step, tail := parser.failure()
		berr := &BuildError{Image: ref, Step: step, Tail: tail, Err: err}
		if looksLikeTLSFailure(tail) {
			berr.Hint = TLSHint
		}
		parser.finish(berr)
		b.log.Warn("sandbox image build failed", "ref", ref, "step", step, "err", err)
		return "", berr
	}
	parser.finish(nil)
	b.log.Info("built sandbox image", "ref", ref, "id", report.ID)
	return report.ID, nil
}

// LastProgress is the latest build update seen by this Builder, if any.
func (b *Builder) LastProgress() (Progress, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.lastBuild == nil {
		return Progress{}, false
	}
	return *b.lastBuild, true
}

// joinContexts returns a context carrying conn's podman connection that is cancelled with
// either ctx or conn.
func joinContexts(conn, ctx context.Context) (context.Context, context.CancelFunc) {
	call, cancel := context.WithCancel(conn)
	if ctx == nil {
		return call, cancel
	}
	stop := context.AfterFunc(ctx, cancel)
	return call, func() { stop(); cancel() }
}
