//go:build integration

package images

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	buildahDefine "github.com/containers/buildah/define"
	pimages "github.com/containers/podman/v5/pkg/bindings/images"
	"github.com/containers/podman/v5/pkg/domain/entities/types"
	"github.com/google/uuid"

	"github.com/loopat/desktop/backend/config"
	"github.com/loopat/desktop/backend/events"
	"github.com/loopat/desktop/backend/images/podmansvc"
)

// One private podman service for the package's integration tests.
var svc *podmansvc.Service

func TestMain(m *testing.M) {
	var err error
	svc, err = podmansvc.Start(context.Background())
	if err != nil {
		fmt.Fprintf(os.Stderr, "integration tests need podman: %v\n", err)
		os.Exit(1)
	}
	code := m.Run()
	svc.Stop()
	os.Exit(code)
}

const hostCAs = "/usr/local/share/ca-certificates"

// itBuilder is a Builder as the app makes it, trusting the host's extra CAs (the same
// settings scripts/test/build-sandbox.sh uses, so the base image is a cache hit).
func itBuilder(t *testing.T, bus events.Publisher) *Builder {
	t.Helper()
	ws := config.Workspace{Home: t.TempDir(), Name: "itest-" + uuid.NewString()[:8]}
	var cas []string
	if ents, err := os.ReadDir(hostCAs); err == nil && len(ents) > 0 {
		cas = []string{hostCAs}
	}
	b := NewBuilder(ws, config.Sandbox{ExtraCACerts: cas, BaseImage: config.Default().Sandbox.BaseImage}, bus, nil)
	if _, err := readForwarder(assets); err != nil {
		// Compiled without `make forwarder`: build it exactly as the Makefile does.
		b.files = forwarderFS(t)
	}
	t.Cleanup(func() { untagWorkspace(t, ws.Name) })
	return b
}

var fwdOnce struct {
	sync.Once
	data []byte
	err  error
}

func forwarderFS(t *testing.T) fstest.MapFS {
	t.Helper()
	fwdOnce.Do(func() {
		out := filepath.Join(os.TempDir(), "loopat-host-itest-"+uuid.NewString()[:8])
		defer os.Remove(out)
		cmd := exec.Command("go", "build", "-buildvcs=false", "-trimpath", "-ldflags", "-s -w", "-o", out, "github.com/loopat/desktop/cmd/loopat-host")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if msg, err := cmd.CombinedOutput(); err != nil {
			fwdOnce.err = fmt.Errorf("build forwarder: %v: %s", err, msg)
			return
		}
		fwdOnce.data, fwdOnce.err = os.ReadFile(out)
	})
	if fwdOnce.err != nil {
		t.Fatal(fwdOnce.err)
	}
	cf, _ := assets.ReadFile(containerfilePath)
	return fstest.MapFS{containerfilePath: {Data: cf}, forwarderPath: {Data: fwdOnce.data, Mode: 0o755}}
}

// untagWorkspace removes a test workspace's ws- tags; the images stay (the base is a cache).
func untagWorkspace(t *testing.T, name string) {
	list, err := pimages.List(svc.Conn, nil)
	if err != nil {
		t.Errorf("list images: %v", err)
		return
	}
	tag := WorkspaceTag(name)
	for _, img := range list {
		for _, rt := range img.RepoTags {
			if strings.HasSuffix(rt, ":"+tag) {
				if err := pimages.Untag(svc.Conn, img.ID, tag, strings.TrimSuffix(rt, ":"+tag), nil); err != nil {
					t.Errorf("untag %s: %v", rt, err)
				}
			}
		}
	}
}

func removeImage(t *testing.T, ref string) {
	t.Cleanup(func() {
		info, err := pimages.GetImage(svc.Conn, ref, nil)
		if err != nil || info.ImageData == nil {
			return // never built (or already gone)
		}
		// By ID: removing one of several tags would only untag and leave the image behind.
		if _, errs := pimages.Remove(svc.Conn, []string{info.ID}, new(pimages.RemoveOptions).WithForce(true)); len(errs) > 0 {
			t.Errorf("remove %s: %v", ref, errs)
		}
	})
}

func inspect(t *testing.T, ref string) *types.ImageInspectReport {
	t.Helper()
	info, err := pimages.GetImage(svc.Conn, ref, nil)
	if err != nil || info.ImageData == nil {
		t.Fatalf("inspect %s: %v", ref, err)
	}
	return info
}

// probe runs cmd in a throwaway container of ref.
func probe(ctx context.Context, ref, ws string, cmd []string) (string, int, error) {
	call, stop := joinContexts(svc.Conn, ctx)
	defer stop()
	return runOnce(call, ref, ws, cmd)
}

// removeNewDangling removes, at cleanup, the untagged images that appeared during the test:
// a failed build leaves the layers of its successful steps behind as cache.
func removeNewDangling(t *testing.T) {
	dangling := func() map[string]bool {
		list, err := pimages.List(svc.Conn, new(pimages.ListOptions).WithFilters(map[string][]string{"dangling": {"true"}}))
		if err != nil {
			t.Fatalf("list dangling images: %v", err)
		}
		ids := map[string]bool{}
		for _, img := range list {
			ids[img.ID] = true
		}
		return ids
	}
	before := dangling()
	t.Cleanup(func() {
		for id := range dangling() {
			if !before[id] {
				// Not forced: an image a container uses is someone else's.
				_, _ = pimages.Remove(svc.Conn, []string{id}, nil)
			}
		}
	})
}

func ctxT(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// countBuilds counts build starts ("STEP 1/") seen on the bus.
func countBuilds(bus *events.Bus) (count func() int, stop func()) {
	const drainMarker = "itest-drain-"
	ch, cancel := bus.Subscribe(4096, func(topic string) bool { return topic == ProgressTopic })
	var mu sync.Mutex
	n := 0
	drained := make(chan string, 1)
	go func() {
		for ev := range ch {
			p, ok := ev.Data.(Progress)
			switch {
			case ok && strings.HasPrefix(p.Line, drainMarker):
				drained <- p.Line
			case ok && strings.HasPrefix(p.Line, "STEP 1/"):
				mu.Lock()
				n++
				mu.Unlock()
			}
		}
	}()
	return func() int {
			// A subscriber gets events in publish order: once a marker published now has
			// arrived, every build event published before it is counted (no sleep-and-hope).
			marker := drainMarker + uuid.NewString()
			bus.Publish(ProgressTopic, Progress{Line: marker})
			timeout := time.After(10 * time.Second)
			for {
				select {
				case got := <-drained:
					if got != marker {
						continue
					}
					mu.Lock()
					defer mu.Unlock()
					return n
				case <-timeout:
					return -1 // the assertion on the count fails with this
				}
			}
		}, func() {
			cancel()
		}
}

func TestBaseImageBuildLabelsCacheAndContents(t *testing.T) {
	bus := events.New()
	b := itBuilder(t, bus)
	ctx := ctxT(t, 20*time.Minute)
	want, err := b.BaseRef()
	if err != nil {
		t.Fatal(err)
	}
	var steps []Progress
	start := time.Now()
	ref, err := b.EnsureBase(ctx, svc.Conn, func(p Progress) { steps = append(steps, p) })
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("first ensure of %s: %s, %d progress updates", ref, time.Since(start).Round(time.Millisecond), len(steps))
	if ref != want {
		t.Fatalf("EnsureBase returned %s, BaseRef says %s", ref, want)
	}
	// The base is usually cached here (scripts/test/build-sandbox.sh built it), so these two
	// fresh-build checks mostly skip; TestFreshBuildReportsProgressAndLabel always builds.
	if len(steps) > 0 {
		last := steps[len(steps)-1]
		if !last.Done || last.Err != "" || last.Percent != 100 || last.Total == 0 {
			t.Errorf("last progress of a fresh build: %+v", last)
		}
	}

	info := inspect(t, ref)
	if info.Labels[config.LabelKey] == "" {
		t.Errorf("image lacks label %s: %v", config.LabelKey, info.Labels)
	}
	if len(steps) > 0 && info.Labels[config.LabelKey] != b.ws.Name {
		t.Errorf("label %s=%q, want the building workspace %q", config.LabelKey, info.Labels[config.LabelKey], b.ws.Name)
	}
	if !slices.Contains(info.RepoTags, workspaceRef(ref, b.ws.Name)) {
		t.Errorf("workspace tag missing: %v", info.RepoTags)
	}
	if info.Config.User != "loopat" || strings.Join(info.Config.Cmd, " ") != "/bin/sleep infinity" {
		t.Errorf("user %q cmd %v", info.Config.User, info.Config.Cmd)
	}

	// Cache hit: no build, no progress, fast.
	count, stop := countBuilds(bus)
	defer stop()
	var hits []time.Duration
	for i := 0; i < 5; i++ {
		s := time.Now()
		again, err := b.EnsureBase(ctx, svc.Conn, func(p Progress) { t.Errorf("cache hit reported progress %+v", p) })
		hits = append(hits, time.Since(s))
		if err != nil || again != ref {
			t.Fatalf("cache hit: %s %v", again, err)
		}
	}
	slices.Sort(hits)
	// The ≤ 150 ms goal is bench/images' to judge (measured side by side, not under a loaded
	// test run); here a hit must only be a hit: no build, no progress, the same image.
	t.Logf("cache-hit ensure: median %s", hits[2])
	if after := inspect(t, ref); after.ID != info.ID {
		t.Errorf("cache hit changed the image: %s -> %s", info.ID, after.ID)
	}

	// Another workspace shares the image: tagged, not rebuilt.
	b2 := itBuilder(t, bus)
	ref2, err := b2.EnsureBase(ctx, svc.Conn, nil)
	if err != nil || ref2 != ref {
		t.Fatalf("second workspace: %s %v", ref2, err)
	}
	shared := inspect(t, ref)
	if shared.ID != info.ID || !slices.Contains(shared.RepoTags, workspaceRef(ref, b2.ws.Name)) {
		t.Errorf("second workspace did not share the image: %s %v", shared.ID, shared.RepoTags)
	}
	if n := count(); n != 0 {
		t.Errorf("cache hits started %d builds", n)
	}

	// What the loop user gets.
	out, code, err := probe(ctx, ref, b.ws.Name, []string{"sh", "-c",
		"id -u; id -g; echo $HOME; sudo -n true && echo sudo-ok; for c in claude mise loopat-host; do command -v $c; done; echo $PATH; test -w /opt/loopat-mise/shims && echo shims-writable"})
	if err != nil || code != 0 {
		t.Fatalf("probe: %d %v %s", code, err, out)
	}
	for _, w := range []string{"2000\n2000\n/home/loopat", "sudo-ok", "/usr/local/bin/loopat-host", "/usr/local/bin/claude", "mise",
		"/opt/loopat-mise/shims:", "shims-writable"} {
		if !strings.Contains(out, w) {
			t.Errorf("probe output lacks %q:\n%s", w, out)
		}
	}
	v, err := b.ClaudeVersion(ctx, svc.Conn)
	if err != nil || !strings.Contains(v, "2.1.328") {
		t.Errorf("ClaudeVersion = %q, %v", v, err)
	}
	if ref, present, err := b.SandboxImageStatus(ctx, svc.Conn); err != nil || !present || ref != want {
		t.Errorf("SandboxImageStatus = %s %v %v", ref, present, err)
	}

	// The UI's background build (ImageService.Build) on an existing image: done, no error.
	if !b.StartBaseBuild(ctx, svc.Conn) {
		t.Fatal("StartBaseBuild did not start")
	}
	deadline := time.Now().Add(30 * time.Second)
	for b.BuildState().Building && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if st := b.BuildState(); st.Building || st.LastError != "" {
		t.Errorf("background ensure: %+v", st)
	}
}

// A build that really runs (a throwaway variant of the small test base image, unique per
// run so the layer cache cannot answer it) reports its steps to the caller and the bus, ends
// with a done 100% update, and labels and tags the image for the building workspace; the
// next ensure of it is a hit with no progress.
func TestFreshBuildReportsProgressAndLabel(t *testing.T) {
	bus := events.New()
	b := itBuilder(t, bus)
	ctx := ctxT(t, 5*time.Minute)
	c := &buildContext{}
	c.addFile("Containerfile", 0o644, []byte("FROM "+b.baseImage()+"\nRUN echo variant-"+uuid.NewString()+" > /variant\n"))
	ref := RefForHash(c.hash())
	removeNewDangling(t) // registered first, so it runs after removeImage has freed the layers
	removeImage(t, ref)
	ch, cancel := bus.Subscribe(4096, func(topic string) bool { return topic == ProgressTopic })
	defer cancel()

	var steps []Progress
	if err := b.ensure(ctx, svc.Conn, ref, c, buildahDefine.PullIfMissing, false, func(p Progress) { steps = append(steps, p) }); err != nil {
		t.Fatal(err)
	}
	if len(steps) == 0 {
		t.Fatal("a fresh build reported no progress")
	}
	sawStep := false
	for _, p := range steps {
		if p.Image != ref {
			t.Errorf("progress for %q, want %q: %+v", p.Image, ref, p)
		}
		sawStep = sawStep || strings.HasPrefix(p.Line, "STEP 2/")
	}
	if !sawStep {
		t.Errorf("no progress for the RUN step: %+v", steps)
	}
	// FROM, RUN and the LABEL step buildah appends.
	if last := steps[len(steps)-1]; !last.Done || last.Err != "" || last.Percent != 100 || last.Total != 3 {
		t.Errorf("last progress of a fresh build: %+v", last)
	}
	// The bus carries the same updates, the final one included (it was published before ensure returned).
	for final := false; !final; {
		select {
		case ev := <-ch:
			p, ok := ev.Data.(Progress)
			final = ok && p.Image == ref && p.Done && p.Err == ""
		case <-time.After(10 * time.Second):
			t.Fatal("no final progress event on the bus")
		}
	}

	info := inspect(t, ref)
	if got := info.Labels[config.LabelKey]; got != b.ws.Label() {
		t.Errorf("label %s=%q, want the building workspace %q", config.LabelKey, got, b.ws.Label())
	}
	if !slices.Contains(info.RepoTags, workspaceRef(ref, b.ws.Label())) {
		t.Errorf("workspace tag missing: %v", info.RepoTags)
	}
	if err := b.ensure(ctx, svc.Conn, ref, c, buildahDefine.PullIfMissing, false, func(p Progress) {
		t.Errorf("ensure of a built variant reported progress %+v", p)
	}); err != nil {
		t.Fatal(err)
	}
	if again := inspect(t, ref); again.ID != info.ID {
		t.Errorf("second ensure changed the image: %s -> %s", info.ID, again.ID)
	}
}

func TestSandboxImageStatusAbsent(t *testing.T) {
	b := itBuilder(t, nil)
	cf, _ := assets.ReadFile(containerfilePath)
	b.files = fstest.MapFS{containerfilePath: {Data: cf}, forwarderPath: {Data: []byte("never built " + uuid.NewString()), Mode: 0o755}}
	ref, present, err := b.SandboxImageStatus(ctxT(t, time.Minute), svc.Conn)
	if err != nil || present || !strings.HasPrefix(ref, repoPrefix) {
		t.Fatalf("status of an unbuilt config: %s %v %v", ref, present, err)
	}
}

func TestLoopImageShimsSameRefAndCoalescing(t *testing.T) {
	bus := events.New()
	b := itBuilder(t, bus)
	ctx := ctxT(t, 20*time.Minute)
	base, err := b.EnsureBase(ctx, svc.Conn, nil)
	if err != nil {
		t.Fatal(err)
	}
	// A unique comment makes a fresh tag each run (the comment is part of the file mise reads).
	toml := []byte("# itest " + uuid.NewString() + "\n[tools]\n\n[host]\nclis = [\"aone\", \"gh\"]\n")
	want, err := b.LoopImageRef(toml)
	if err != nil {
		t.Fatal(err)
	}
	removeImage(t, want)

	count, stop := countBuilds(bus)
	defer stop()
	var wg sync.WaitGroup
	refs := make([]string, 3)
	warns := make([]string, 3)
	errs := make([]error, 3)
	for i := range refs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			refs[i], warns[i], errs[i] = b.EnsureLoopImage(ctx, svc.Conn, toml, nil)
		}()
	}
	wg.Wait()
	for i := range refs {
		if errs[i] != nil || warns[i] != "" || refs[i] != want || refs[i] == base {
			t.Fatalf("ensure %d: ref %s warning %q err %v (want %s)", i, refs[i], warns[i], errs[i], want)
		}
	}
	if n := count(); n != 1 {
		t.Errorf("3 concurrent ensures of one tag ran %d builds, want 1", n)
	}
	info := inspect(t, want)
	if info.Labels[config.LabelKey] != b.ws.Name {
		t.Errorf("child label %v", info.Labels)
	}

	// Same mise.toml, same image, no build.
	again, warn, err := b.EnsureLoopImage(ctx, svc.Conn, append([]byte(nil), toml...), nil)
	if err != nil || warn != "" || again != want {
		t.Fatalf("same toml: %s %q %v", again, warn, err)
	}
	if n := count(); n != 1 {
		t.Errorf("same toml rebuilt (%d builds)", n)
	}

	// Only the canonical tag removed (podman rmi of one tag): restored from the workspace tag.
	repo, tag := want[:strings.LastIndex(want, ":")], latestTag
	if err := pimages.Untag(svc.Conn, want, tag, repo, nil); err != nil {
		t.Fatal(err)
	}
	if again, _, err := b.EnsureLoopImage(ctx, svc.Conn, toml, nil); err != nil || again != want {
		t.Fatalf("after untag: %s %v", again, err)
	}
	if restored := inspect(t, want); restored.ID != info.ID {
		t.Errorf("canonical tag not restored onto the same image: %s vs %s", restored.ID, info.ID)
	}
	if n := count(); n != 1 {
		t.Errorf("restoring a tag rebuilt (%d builds)", n)
	}

	out, code, err := probe(ctx, want, b.ws.Name, []string{"sh", "-c",
		"for c in aone gh; do command -v $c; done; cat /opt/loopat-mise/shims/aone; stat -c %a /opt/loopat-mise/shims/gh; grep -c host /opt/loopat-mise/config/config.toml || true"})
	if err != nil || code != 0 {
		t.Fatalf("probe: %d %v %s", code, err, out)
	}
	for _, w := range []string{"/opt/loopat-mise/shims/aone\n/opt/loopat-mise/shims/gh", string(hostShim("aone")), "755", "\n0"} {
		if !strings.Contains(out, w) {
			t.Errorf("probe output lacks %q:\n%s", w, out)
		}
	}
}

func TestLoopImageRealTool(t *testing.T) {
	b := itBuilder(t, nil)
	ctx := ctxT(t, 20*time.Minute)
	// npm: tools install from the npm registry, reachable here through the trusted CA.
	toml := []byte("[tools]\n\"npm:cowsay\" = \"1.6.0\"\n")
	want, err := b.LoopImageRef(toml)
	if err != nil {
		t.Fatal(err)
	}
	removeImage(t, want)
	ref, warn, err := b.EnsureLoopImage(ctx, svc.Conn, toml, nil)
	if err != nil || warn != "" || ref != want {
		t.Fatalf("ensure: %s %q %v", ref, warn, err)
	}
	out, code, err := probe(ctx, ref, b.ws.Name, []string{"cowsay", "loopat"})
	if err != nil || code != 0 || !strings.Contains(out, "< loopat >") {
		t.Fatalf("cowsay in the child image: %d %v\n%s", code, err, out)
	}
}

func TestLoopImageBrokenFallsBackWithWarning(t *testing.T) {
	bus := events.New()
	b := itBuilder(t, bus)
	ctx := ctxT(t, 20*time.Minute)
	base, err := b.EnsureBase(ctx, svc.Conn, nil)
	if err != nil {
		t.Fatal(err)
	}

	// Not TOML at all: no build, base image, warning.
	ref, warn, err := b.EnsureLoopImage(ctx, svc.Conn, []byte("[tools\nnode = 20\n"), nil)
	if err != nil || ref != base || !strings.Contains(warn, "mise.toml") {
		t.Fatalf("invalid toml: %s %q %v", ref, warn, err)
	}

	// Valid TOML that mise refuses: the build fails at the mise step.
	toml := []byte("# itest " + uuid.NewString() + "\nmin_version = \"9999.1.1\"\n[tools]\n")
	child, _ := b.LoopImageRef(toml)
	removeImage(t, child)
	ch, cancel := bus.Subscribe(4096, func(topic string) bool { return topic == ProgressTopic })
	defer cancel()
	removeNewDangling(t)
	ref, warn, err = b.EnsureLoopImage(ctx, svc.Conn, toml, nil)
	if err != nil || ref != base {
		t.Fatalf("broken child: ref %s err %v, want base %s", ref, err, base)
	}
	// buildah appends a LABEL step: FROM, COPY, RUN mise install, LABEL.
	for _, w := range []string{"base sandbox image", "STEP 3/4: RUN", "mise install", "9999.1.1"} {
		if !strings.Contains(warn, w) {
			t.Errorf("warning lacks %q:\n%s", w, warn)
		}
	}
	var final *Progress
	for final == nil {
		select {
		case ev := <-ch:
			if p := ev.Data.(Progress); p.Done && p.Image == child {
				final = &p
			}
		case <-time.After(5 * time.Second):
			t.Fatal("no final progress event for the failed build")
		}
	}
	if final.Err == "" || final.Step != 3 {
		t.Errorf("final progress of the failed build: %+v", final)
	}
	if ok, _ := pimages.Exists(svc.Conn, child, nil); ok {
		t.Error("a failed build must not leave its tag")
	}
	// Remembered: the next start does not rebuild (a build reports progress before it returns).
	ref2, warn2, err := b.EnsureLoopImage(ctx, svc.Conn, toml, func(p Progress) {
		t.Errorf("second ensure of a broken toml built again: %+v", p)
	})
	if err != nil || ref2 != base || warn2 != warn {
		t.Errorf("second ensure of a broken toml: %s %q %v", ref2, warn2, err)
	}
}

func TestFailedBuildReportsStepAndTail(t *testing.T) {
	b := itBuilder(t, nil)
	ctx := ctxT(t, 20*time.Minute)
	base, err := b.EnsureBase(ctx, svc.Conn, nil)
	if err != nil {
		t.Fatal(err)
	}
	c := &buildContext{}
	c.addFile("Containerfile", 0o644, []byte("FROM "+base+"\nRUN echo marker-"+uuid.NewString()[:8]+" && for i in $(seq 1 40); do echo line$i; done && exit 3\n"))
	ref := RefForHash(c.hash())
	removeNewDangling(t)
	err = b.ensure(ctx, svc.Conn, ref, c, buildahDefine.PullNever, false, nil)
	var berr *BuildError
	if !errors.As(err, &berr) {
		t.Fatalf("want a BuildError, got %v", err)
	}
	if !strings.HasPrefix(berr.Step, "STEP 2/3: RUN echo marker-") {
		t.Errorf("failing step %q", berr.Step)
	}
	if len(berr.Tail) == 0 || berr.Tail[len(berr.Tail)-1] != "line40" || len(berr.Tail) > tailLines {
		t.Errorf("tail %q", berr.Tail)
	}
	if !strings.Contains(err.Error(), "STEP 2/3") || !strings.Contains(err.Error(), "line40") {
		t.Errorf("error text: %v", err)
	}
}
