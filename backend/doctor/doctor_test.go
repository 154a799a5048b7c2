package doctor

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/loopat/desktop/backend/config"
	"github.com/loopat/desktop/backend/engine"
)

// fakeAPI answers /_ping on a unix socket, standing in for podman in unit tests.
func fakeAPI(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "doc")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	l, err := net.Listen("unix", filepath.Join(dir, "api.sock"))
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Libpod-API-Version", "4.3.1")
		io.WriteString(w, "OK")
	})}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	return "unix://" + l.Addr().String()
}

func script(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "podman")
	if err := os.WriteFile(p, []byte("#!/bin/sh\n"+body+"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

func workspace(t *testing.T) config.Workspace {
	t.Helper()
	ws, err := config.NewWorkspace(filepath.Join(t.TempDir(), ".loopat"))
	if err != nil {
		t.Fatal(err)
	}
	if err := ws.Ensure(); err != nil {
		t.Fatal(err)
	}
	return ws
}

func startEngine(t *testing.T, ws config.Workspace, cfg config.Config, o engine.Options) *engine.Engine {
	t.Helper()
	e := engine.NewWithOptions(ws, cfg, nil, slog.New(slog.NewTextHandler(io.Discard, nil)), o)
	e.Start(context.Background())
	t.Cleanup(func() { e.Close() })
	return e
}

type fakeImages struct {
	present bool
	claude  string
	block   bool
}

func (i fakeImages) SandboxImageStatus(ctx context.Context, conn context.Context) (string, bool, error) {
	if conn == nil {
		return "", false, errors.New("no conn")
	}
	return "localhost/loopat-sandbox-0123456789abcdef:latest", i.present, nil
}

func (i fakeImages) ClaudeVersion(ctx context.Context, conn context.Context) (string, error) {
	if i.block {
		select {} // a probe that ignores its context
	}
	return i.claude, nil
}

func byID(rs []Result) map[string]Result {
	m := map[string]Result{}
	for _, r := range rs {
		m[r.ID] = r
	}
	return m
}

func TestAllGreenOnLinux(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		t.Fatal("git is required on this machine")
	}
	ws := workspace(t)
	cfg := config.Default()
	cfg.Engine.Podman = script(t, `echo "podman version 4.3.1"`)
	uri := fakeAPI(t)
	eng := startEngine(t, ws, cfg, engine.Options{GOOS: "linux", Getenv: func(k string) string {
		if k == "CONTAINER_HOST" {
			return uri
		}
		return ""
	}})
	start := time.Now()
	rs := Run(context.Background(), Deps{Workspace: ws, Config: cfg, Engine: eng, GOOS: "linux",
		Images: fakeImages{present: true, claude: "2.1.328 (Claude Code)"}, Keychain: func() error { return nil }})
	t.Logf("run took %s", time.Since(start))
	var ids []string
	for _, r := range rs {
		ids = append(ids, r.ID)
		if !r.OK || r.Label == "" {
			t.Errorf("%s failed: %+v", r.ID, r)
		}
	}
	if got := strings.Join(ids, ","); got != "workspace,config,podman,engine,podman-mode,storage-driver,sandbox-image,claude,keychain,git" {
		t.Fatalf("ids/order: %s", got)
	}
	m := byID(rs)
	if !strings.Contains(m[IDPodman].Label, "4.3.1") || !strings.Contains(m[IDClaude].Label, "2.1.328") || !strings.Contains(m[IDEngine].Label, "ready") {
		t.Fatalf("labels: %+v", rs)
	}
	labelledOnce(t, rs)
}

// labelledOnce: every label is "<subject>: <what the check found>", the subject written
// once (runOne adds it; a check writing it too showed "podman engine: podman engine: …").
func labelledOnce(t *testing.T, rs []Result) {
	t.Helper()
	for _, r := range rs {
		subject := subjectOf(r.ID)
		rest, ok := strings.CutPrefix(r.Label, subject+": ")
		if !ok || rest == "" || strings.HasPrefix(rest, subject+":") {
			t.Errorf("%s: label %q is not %q once followed by what was found", r.ID, r.Label, subject+": ")
		}
	}
}

func TestFailuresCarryPlatformHints(t *testing.T) {
	ws := workspace(t)
	cfg := config.Default()
	cfg.Engine.Podman = "/nonexistent/podman"
	_, loadErr := config.Parse(ws.ConfigPath(), []byte("[ui]\ntheme = \"neon\"\n"))
	if loadErr == nil {
		t.Fatal("config should be invalid")
	}
	for goos, want := range map[string]string{
		"darwin": "brew install podman, then: podman machine init && podman machine start",
		"linux":  "sudo apt install podman uidmap fuse-overlayfs",
	} {
		t.Run(goos, func(t *testing.T) {
			eng := startEngine(t, ws, cfg, engine.Options{GOOS: goos, Getenv: func(string) string { return "" },
				LookPath: func(string) (string, error) { return "", errors.New("no") }, RootfulSocket: "/nonexistent.sock"})
			rs := Run(context.Background(), Deps{Workspace: ws, Config: cfg, ConfigErr: loadErr, Engine: eng, GOOS: goos,
				Keychain: func() error {
					return errors.New("The name org.freedesktop.secrets was not provided by any .service files")
				}})
			m := byID(rs)
			for _, r := range rs {
				if !r.OK && r.Hint == "" {
					t.Errorf("%s fails without a hint: %+v", r.ID, r)
				}
			}
			if r := m[IDPodman]; r.OK || !strings.HasPrefix(r.Hint, want) {
				t.Errorf("podman: %+v", r)
			}
			if r := m[IDEngine]; r.OK || !strings.Contains(r.Label, "absent") || !strings.HasPrefix(r.Hint, want) {
				t.Errorf("engine: %+v", r)
			}
			if r := m[IDConfig]; r.OK || !strings.Contains(r.Label, loadErr.Error()) || !strings.Contains(r.Hint, "line 2") {
				t.Errorf("config: %+v", r)
			}
			if r := m[IDKeychain]; r.OK || !strings.Contains(r.Label, "org.freedesktop.secrets") {
				t.Errorf("keychain: %+v", r)
			}
			if r := m[IDSandboxImage]; r.OK {
				t.Errorf("sandbox image without images service: %+v", r)
			}
			_, hasMachine := m[IDMachine]
			if hasMachine != (goos == "darwin") {
				t.Errorf("machine item present=%v on %s", hasMachine, goos)
			}
			if goos == "darwin" && (m[IDMachine].OK || m[IDMachine].Hint == "") {
				t.Errorf("machine: %+v", m[IDMachine])
			}
		})
	}
}

func TestMachineItemOnDarwin(t *testing.T) {
	_, file, _, _ := runtime.Caller(0)
	fake, _ := filepath.Abs(filepath.Join(filepath.Dir(file), "..", "..", "scripts", "test", "fake-podman"))
	t.Setenv("FAKE_PODMAN_STATE", t.TempDir())
	t.Setenv("FAKE_PODMAN_DELAY", "0")
	// The fake podman is a shell script run several times per discovery: on a loaded CI
	// machine that can pass the 6 s an app-start check gets. This test is about what the
	// items say, not how fast they say it.
	old := engineTimeout
	engineTimeout = time.Minute
	t.Cleanup(func() { engineTimeout = old })
	if out, err := exec.Command(fake, "machine", "init").CombinedOutput(); err != nil {
		t.Fatalf("%v %s", err, out)
	}
	ws := workspace(t)
	cfg := config.Default()
	cfg.Engine.Podman = fake
	eng := startEngine(t, ws, cfg, engine.Options{GOOS: "darwin", Getenv: func(string) string { return "" }})
	d := Deps{Workspace: ws, Config: cfg, Engine: eng, GOOS: "darwin", Keychain: func() error { return nil }}
	stopped := Run(context.Background(), d)
	labelledOnce(t, stopped)
	m := byID(stopped)
	if r := m[IDMachine]; r.OK || r.Hint != engine.MachineStoppedHint {
		t.Fatalf("stopped machine: %+v", r)
	}
	if r := m[IDEngine]; r.OK || !strings.Contains(r.Label, "machine-stopped") || r.Hint != engine.MachineStoppedHint {
		t.Fatalf("engine with stopped machine: %+v", r)
	}
	if r := m[IDPodman]; !r.OK || !strings.Contains(r.Label, "5.6.2") {
		t.Fatalf("podman: %+v", r)
	}
	if out, err := exec.Command(fake, "machine", "start").CombinedOutput(); err != nil {
		t.Fatalf("%v %s", err, out)
	}
	running := Run(context.Background(), d)
	labelledOnce(t, running)
	if r := byID(running)[IDMachine]; !r.OK || !strings.Contains(r.Label, "running") {
		t.Fatalf("running machine: %+v", r)
	}
}

func TestHungCheckIsBounded(t *testing.T) {
	old := claudeTimeout
	claudeTimeout = 500 * time.Millisecond
	t.Cleanup(func() { claudeTimeout = old })
	ws := workspace(t)
	cfg := config.Default()
	cfg.Engine.Podman = script(t, `echo "podman version 4.3.1"`)
	uri := fakeAPI(t)
	eng := startEngine(t, ws, cfg, engine.Options{GOOS: "linux", Getenv: func(k string) string {
		if k == "CONTAINER_HOST" {
			return uri
		}
		return ""
	}})
	start := time.Now()
	rs := Run(context.Background(), Deps{Workspace: ws, Config: cfg, Engine: eng, GOOS: "linux",
		Images: fakeImages{present: true, block: true}, Keychain: func() error { return nil }})
	took := time.Since(start)
	r := byID(rs)[IDClaude]
	if r.OK || !strings.HasPrefix(r.Label, "claude (in sandbox): no answer within") || r.Hint == "" {
		t.Fatalf("hung claude probe (labelled by its subject, as the UI matches rows): %+v", r)
	}
	// The fake probe never answers: returning at all proves the timeout; the bound is loose
	// so a loaded machine does not fail it.
	if took > 15*time.Second {
		t.Fatalf("run took %s with a 500ms claude timeout", took)
	}
	if r := byID(rs)[IDSandboxImage]; !r.OK {
		t.Fatalf("other checks must still pass: %+v", r)
	}
}

func TestSandboxImageNotBuiltYet(t *testing.T) {
	ws := workspace(t)
	cfg := config.Default()
	cfg.Engine.Podman = script(t, `echo "podman version 4.3.1"`)
	uri := fakeAPI(t)
	eng := startEngine(t, ws, cfg, engine.Options{GOOS: "linux", Getenv: func(k string) string {
		if k == "CONTAINER_HOST" {
			return uri
		}
		return ""
	}})
	m := byID(Run(context.Background(), Deps{Workspace: ws, Config: cfg, Engine: eng, GOOS: "linux",
		Images: fakeImages{present: false}, Keychain: func() error { return nil }}))
	if r := m[IDSandboxImage]; !r.OK || !strings.Contains(r.Label, "not built yet") {
		t.Fatalf("buildable image should pass: %+v", r)
	}
	if r := m[IDClaude]; r.OK || !strings.Contains(r.Hint, "loopat image build") {
		t.Fatalf("claude without image: %+v", r)
	}
}

func TestTooOld(t *testing.T) {
	for v, want := range map[string]bool{"podman version 3.4.4": true, "podman version 4.2.0": true, "podman version 4.3.1": false, "podman version 5.6.2": false, "garbage": false} {
		if tooOld(v) != want {
			t.Errorf("tooOld(%q) != %v", v, want)
		}
	}
}

func TestPodmanModeShowsRootlessDifferences(t *testing.T) {
	rootless := PodmanModeResult(engine.HostInfo{Known: true, Rootless: true, CgroupVersion: "v1", RootlessNetwork: "slirp4netns", StorageDriver: "overlay"})
	if !rootless.OK || !strings.Contains(rootless.Label, "rootless") || !strings.Contains(rootless.Label, "cgroup v1") ||
		!strings.Contains(rootless.Label, "slirp4netns") || !strings.Contains(rootless.Detail, "podman unshare") {
		t.Fatalf("rootless: %+v", rootless)
	}
	rootful := PodmanModeResult(engine.HostInfo{Known: true, StorageDriver: "overlay"})
	if !rootful.OK || !strings.Contains(rootful.Label, "rootful") || !strings.Contains(rootful.Detail, "uid 2000") {
		t.Fatalf("rootful: %+v", rootful)
	}
	unknown := PodmanModeResult(engine.HostInfo{Error: "podman info: boom"})
	if !strings.Contains(unknown.Label, "unknown") || unknown.Detail != "podman info: boom" {
		t.Fatalf("unknown: %+v", unknown)
	}
}

func TestStorageFlagsVfsWithHowToSwitch(t *testing.T) {
	if r := StorageResult(engine.HostInfo{Known: true, StorageDriver: "overlay"}, "linux"); !r.OK || r.Label != "overlay" {
		t.Fatalf("overlay: %+v", r)
	}
	newKernel := StorageResult(engine.HostInfo{Known: true, Rootless: true, StorageDriver: "vfs", Kernel: "6.8.0-45-generic"}, "linux")
	if newKernel.OK || !strings.Contains(newKernel.Label, "vfs") || !strings.Contains(newKernel.Hint, "native overlay") ||
		!strings.Contains(newKernel.Hint, "~/.config/containers/storage.conf") || !strings.Contains(newKernel.Hint, "podman system reset") ||
		strings.Contains(newKernel.Hint, "fuse-overlayfs") {
		t.Fatalf("vfs on 6.8: %+v", newKernel)
	}
	oldKernel := StorageResult(engine.HostInfo{Known: true, StorageDriver: "vfs", Kernel: "5.10.0-28-amd64"}, "linux")
	if oldKernel.OK || !strings.Contains(oldKernel.Hint, "fuse-overlayfs") || !strings.Contains(oldKernel.Hint, "/etc/containers/storage.conf") {
		t.Fatalf("vfs on 5.10 rootful: %+v", oldKernel)
	}
	mac := StorageResult(engine.HostInfo{Known: true, Rootless: true, StorageDriver: "vfs", Kernel: "6.12.0"}, "darwin")
	if !strings.Contains(mac.Hint, "podman machine ssh") {
		t.Fatalf("vfs in a machine: %+v", mac)
	}
	for rel, want := range map[string]bool{"5.13.0": true, "5.12.19": false, "6.1.0-18-amd64": true, "4.19": false, "junk": false} {
		if got := kernelAtLeast(rel, 5, 13); got != want {
			t.Errorf("kernelAtLeast(%q) = %v", rel, got)
		}
	}
}
