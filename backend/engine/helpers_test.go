package engine

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/loopat/desktop/backend/config"
	"github.com/loopat/desktop/backend/events"
)

// The test binary doubles as a fake `podman` for unit tests (no podman may run there):
// with FAKE_PODMAN_SELF=1 it answers `--version`, `system connection list` and serves a
// minimal API (`/_ping`) for `system service --time=0 unix://PATH`.
func TestMain(m *testing.M) {
	if os.Getenv("FAKE_PODMAN_SELF") == "1" {
		os.Exit(fakePodmanMain(os.Args[1:]))
	}
	os.Exit(m.Run())
}

func fakePodmanMain(args []string) int {
	if log := os.Getenv("FAKE_PODMAN_SELF_LOG"); log != "" {
		if f, err := os.OpenFile(log, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600); err == nil {
			fmt.Fprintln(f, strings.Join(args, " "))
			f.Close()
		}
	}
	switch {
	case len(args) == 1 && args[0] == "--version":
		fmt.Println("podman version 4.3.1")
	case len(args) >= 3 && args[0] == "system" && args[1] == "connection":
		if c := os.Getenv("FAKE_PODMAN_SELF_CONNECTIONS"); c != "" {
			fmt.Println(c)
		} else {
			fmt.Println("[]")
		}
	case len(args) == 4 && args[0] == "system" && args[1] == "service":
		path := strings.TrimPrefix(args[3], "unix://")
		l, err := net.Listen("unix", path)
		if err != nil {
			fmt.Fprintln(os.Stderr, "Error:", err)
			return 125
		}
		_ = http.Serve(l, pingHandler("4.3.1"))
	default:
		fmt.Fprintln(os.Stderr, "Error: fake podman: unsupported", args)
		return 125
	}
	return 0
}

func pingHandler(version string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/_ping") {
			w.Header().Set("Libpod-API-Version", version)
			io.WriteString(w, "OK")
			return
		}
		http.NotFound(w, r)
	})
}

// fakeAPI serves /_ping on a unix socket until the test ends or stop is called.
type fakeAPI struct {
	path string
	mu   sync.Mutex
	srv  *http.Server
}

func startFakeAPI(t *testing.T, path string) *fakeAPI {
	t.Helper()
	a := &fakeAPI{path: path}
	a.start(t)
	t.Cleanup(a.stop)
	return a
}

func (a *fakeAPI) start(t *testing.T) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(a.path), 0o700); err != nil {
		t.Fatal(err)
	}
	os.Remove(a.path)
	l, err := net.Listen("unix", a.path)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: pingHandler("5.6.2")}
	a.mu.Lock()
	a.srv = srv
	a.mu.Unlock()
	go srv.Serve(l)
}

func (a *fakeAPI) stop() {
	a.mu.Lock()
	srv := a.srv
	a.srv = nil
	a.mu.Unlock()
	if srv != nil {
		srv.Close()
		os.Remove(a.path)
	}
}

func (a *fakeAPI) uri() string { return "unix://" + a.path }

// shortDir is a temp dir with a short path (unix socket paths are limited to ~104 bytes).
func shortDir(t *testing.T) string {
	t.Helper()
	d, err := os.MkdirTemp("", "eng")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(d) })
	return d
}

type env map[string]string

func (e env) get(k string) string { return e[k] }

func noPodman(string) (string, error) { return "", fmt.Errorf("not found") }

// recorder is an events.Publisher that keeps engine states.
type recorder struct {
	mu     sync.Mutex
	states []State
	topics []string
}

func (r *recorder) Publish(topic string, data any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.topics = append(r.topics, topic)
	if s, ok := data.(State); ok {
		r.states = append(r.states, s)
	}
}

func (r *recorder) phases() []Phase {
	r.mu.Lock()
	defer r.mu.Unlock()
	var ps []Phase
	for _, s := range r.states {
		ps = append(ps, s.Phase)
	}
	return ps
}

var _ events.Publisher = (*recorder)(nil)

type testEngine struct {
	*Engine
	bus *recorder
	ws  config.Workspace
}

func newTestEngine(t *testing.T, cfg config.Config, o Options) *testEngine {
	t.Helper()
	ws, err := config.NewWorkspace(filepath.Join(shortDir(t), "ws"))
	if err != nil {
		t.Fatal(err)
	}
	if err := ws.Ensure(); err != nil {
		t.Fatal(err)
	}
	if o.RootfulSocket == "" {
		o.RootfulSocket = filepath.Join(shortDir(t), "absent-rootful.sock")
	}
	if o.PingInterval == 0 {
		o.PingInterval = 100 * time.Millisecond
	}
	bus := &recorder{}
	log := slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	e := NewWithOptions(ws, cfg, bus, log, o)
	t.Cleanup(func() { e.Close() })
	return &testEngine{Engine: e, bus: bus, ws: ws}
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// selfPodman makes the test binary the podman executable (see TestMain).
func selfPodman(t *testing.T, connectionsJSON string) (path string, log string) {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	log = filepath.Join(t.TempDir(), "podman-calls.log")
	t.Setenv("FAKE_PODMAN_SELF", "1")
	t.Setenv("FAKE_PODMAN_SELF_LOG", log)
	t.Setenv("FAKE_PODMAN_SELF_CONNECTIONS", connectionsJSON)
	return exe, log
}

func fakePodmanScript(t *testing.T) string {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	p := filepath.Join(filepath.Dir(file), "..", "..", "scripts", "test", "fake-podman")
	abs, err := filepath.Abs(p)
	if err != nil {
		t.Fatal(err)
	}
	return abs
}

func waitPhase(t *testing.T, e *Engine, want Phase, within time.Duration) State {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), within)
	defer cancel()
	st, err := e.WaitFor(ctx, func(s State) bool { return s.Phase == want })
	if err != nil {
		t.Fatalf("phase %s not reached within %s; state %+v", want, within, st)
	}
	return st
}
