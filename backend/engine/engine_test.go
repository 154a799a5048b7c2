package engine

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/containers/podman/v5/pkg/bindings"

	"github.com/loopat/desktop/backend/config"
)

func TestDiscoveryOrder(t *testing.T) {
	dir := shortDir(t)
	hostAPI := startFakeAPI(t, filepath.Join(dir, "host.sock"))
	cfgAPI := startFakeAPI(t, filepath.Join(dir, "cfg.sock"))
	connAPI := startFakeAPI(t, filepath.Join(dir, "conn.sock"))
	xdg := filepath.Join(dir, "xdg")
	rootlessAPI := startFakeAPI(t, filepath.Join(xdg, "podman", "podman.sock"))
	rootfulAPI := startFakeAPI(t, filepath.Join(dir, "rootful.sock"))
	conns := `[{"Name":"other","URI":"unix:///nowhere.sock","Default":false},{"Name":"work","URI":"` + connAPI.uri() + `","Identity":"","IsMachine":false,"Default":true}]`
	podman, _ := selfPodman(t, conns)

	cfg := config.Default()
	cfg.Engine.Podman = podman
	cfg.Engine.URL = cfgAPI.uri()
	vars := env{"CONTAINER_HOST": hostAPI.uri(), "XDG_RUNTIME_DIR": xdg}
	o := Options{GOOS: "linux", Getenv: vars.get, RootfulSocket: rootfulAPI.path}

	steps := []struct {
		source, uri string
		remove      func()
	}{
		{SourceContainerHost, hostAPI.uri(), func() { delete(vars, "CONTAINER_HOST") }},
		{SourceConfig, cfgAPI.uri(), func() { cfg.Engine.URL = "" }},
		{SourceConnection + ":work", connAPI.uri(), func() { t.Setenv("FAKE_PODMAN_SELF_CONNECTIONS", "[]") }},
		{SourceRootless, rootlessAPI.uri(), rootlessAPI.stop},
		{SourceRootful, rootfulAPI.uri(), rootfulAPI.stop},
	}
	for _, s := range steps {
		e := newTestEngine(t, cfg, o)
		st := e.Refresh(context.Background())
		if st.Phase != PhaseReady || st.Source != s.source || st.URI != s.uri {
			t.Fatalf("want ready via %s %s, got %+v", s.source, s.uri, st)
		}
		if st.Version == "" {
			t.Errorf("no version in %+v", st)
		}
		s.remove()
	}
}

func TestExplicitURLIsExclusive(t *testing.T) {
	dir := shortDir(t)
	rootful := startFakeAPI(t, filepath.Join(dir, "rootful.sock"))
	vars := env{"CONTAINER_HOST": "unix://" + filepath.Join(dir, "gone.sock")}
	e := newTestEngine(t, config.Default(), Options{GOOS: "linux", Getenv: vars.get, LookPath: noPodman, RootfulSocket: rootful.path})
	st := e.Refresh(context.Background())
	if st.Phase != PhaseError || st.Source != SourceContainerHost || !strings.Contains(st.Reason, "gone.sock") || st.Hint == "" {
		t.Fatalf("an unreachable CONTAINER_HOST must be an error, not a fallback: %+v", st)
	}
	var nre *NotReadyError
	if _, err := e.Conn(context.Background()); !errors.As(err, &nre) || !strings.Contains(err.Error(), "CONTAINER_HOST") {
		t.Fatalf("Conn error should say why: %v", err)
	}
}

func TestNoPodmanIsAbsentWithPlatformHint(t *testing.T) {
	for goos, hint := range map[string]string{"linux": "sudo apt install podman uidmap fuse-overlayfs", "darwin": "brew install podman"} {
		e := newTestEngine(t, config.Default(), Options{GOOS: goos, Getenv: env{}.get, LookPath: noPodman})
		cfg := e.cfg
		cfg.Engine.Podman = "definitely-not-podman-here"
		e.SetConfig(cfg)
		st := e.Refresh(context.Background())
		if st.Phase != PhaseAbsent || !strings.Contains(st.Hint, hint) {
			t.Errorf("%s: want absent with hint %q, got %+v", goos, hint, st)
		}
	}
}

func TestStartPublishesStatesAndConnWorks(t *testing.T) {
	dir := shortDir(t)
	api := startFakeAPI(t, filepath.Join(dir, "api.sock"))
	e := newTestEngine(t, config.Default(), Options{GOOS: "linux", Getenv: env{"CONTAINER_HOST": api.uri()}.get})
	if _, err := e.Conn(context.Background()); err == nil {
		t.Fatal("Conn before discovery must fail")
	}
	e.Start(context.Background())
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	conn, err := e.WaitReady(ctx)
	if err != nil {
		t.Fatal(err)
	}
	client, err := bindings.GetClient(conn)
	if err != nil || client.URI.Path != api.path {
		t.Fatalf("conn carries no client for %s: %v", api.path, err)
	}
	// The bus event follows the state change: wait for it rather than sleep and hope.
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		got := e.bus.phases()
		if len(got) > 0 && got[len(got)-1] == PhaseReady {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("engine:state events: %v", got)
		}
	}
	// The returned context follows the caller's cancellation.
	cctx, ccancel := context.WithCancel(context.Background())
	c2, _ := e.Conn(cctx)
	ccancel()
	if c2.Err() == nil {
		t.Fatal("Conn context ignores caller cancellation")
	}
}

func TestMonitorNoticesLossAndRecovers(t *testing.T) {
	dir := shortDir(t)
	api := startFakeAPI(t, filepath.Join(dir, "api.sock"))
	e := newTestEngine(t, config.Default(), Options{GOOS: "linux", Getenv: env{"CONTAINER_HOST": api.uri()}.get})
	e.Start(context.Background())
	waitPhase(t, e.Engine, PhaseReady, 5*time.Second)

	api.stop()
	start := time.Now()
	st := waitPhase(t, e.Engine, PhaseError, 3*time.Second)
	t.Logf("loss noticed after %s: %s", time.Since(start), st.Reason)
	if _, err := e.Conn(context.Background()); err == nil {
		t.Fatal("Conn must fail while the engine is gone")
	}

	api.start(t)
	waitPhase(t, e.Engine, PhaseReady, 3*time.Second)
	// The bus event follows the state change by a moment.
	// A phase may be published twice in a row (its reason changes); the order counts.
	var ps []Phase
	for deadline := time.Now().Add(time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		ps = ps[:0]
		for _, p := range e.bus.phases() {
			if len(ps) == 0 || ps[len(ps)-1] != p {
				ps = append(ps, p)
			}
		}
		if len(ps) >= 3 && ps[len(ps)-1] == PhaseReady {
			break
		}
	}
	if len(ps) < 3 || ps[len(ps)-1] != PhaseReady || ps[len(ps)-2] != PhaseError {
		t.Fatalf("want ... ready, error, ready; got %v", ps)
	}
}

func TestOwnServiceStartsRestartsAndStops(t *testing.T) {
	podman, calls := selfPodman(t, "[]")
	cfg := config.Default()
	cfg.Engine.Podman = podman
	e := newTestEngine(t, cfg, Options{GOOS: "linux", Getenv: env{}.get})
	e.Start(context.Background())
	st := waitPhase(t, e.Engine, PhaseReady, 10*time.Second)
	if st.Source != SourceOwnService || st.URI != "unix://"+filepath.Join(e.ws.RunDir(), "podman.sock") {
		t.Fatalf("want own service under LOOPAT_HOME/run, got %+v", st)
	}
	pid := e.service.pid()
	if pid == 0 {
		t.Fatal("no service pid")
	}
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	left := time.Now()
	for e.State().Phase == PhaseReady || e.service.pid() == pid {
		if time.Since(left) > 5*time.Second {
			t.Fatalf("state stayed %+v after the service was killed", e.State())
		}
		time.Sleep(10 * time.Millisecond)
	}
	waitPhase(t, e.Engine, PhaseReady, 10*time.Second)
	newPid := e.service.pid()
	if newPid == 0 || newPid == pid {
		t.Fatalf("service not restarted (old %d, new %d)", pid, newPid)
	}
	data, _ := os.ReadFile(calls)
	if n := strings.Count(string(data), "system service --time=0"); n != 2 {
		t.Fatalf("want 2 service starts, got %d:\n%s", n, data)
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(newPid, 0); err == nil {
		t.Fatalf("service %d still running after Close", newPid)
	}
	if _, err := os.Stat(filepath.Join(e.ws.RunDir(), "podman.sock")); !os.IsNotExist(err) {
		t.Fatalf("socket left after Close: %v", err)
	}
}

func TestFindPodmanFallsBackToInstallDirs(t *testing.T) {
	p, ok := findPodman("", "linux", noPodman)
	if _, err := os.Stat("/usr/bin/podman"); err == nil && (!ok || p != "/usr/bin/podman") {
		t.Fatalf("want /usr/bin/podman, got %q %v", p, ok)
	}
	if p, ok := findPodman("/no/such/podman", "linux", noPodman); ok || p != "/no/such/podman" {
		t.Fatalf("explicit missing path: %q %v", p, ok)
	}
}

func TestParseDefaultConnection(t *testing.T) {
	c, err := parseDefaultConnection([]byte(`[{"Name":"a","URI":"ssh://core@127.0.0.1:5555/run/user/501/podman/podman.sock","Identity":"/k","IsMachine":true,"Default":true,"ReadWrite":true}]`))
	if err != nil || c == nil || c.Name != "a" || !c.IsMachine || c.Identity != "/k" {
		t.Fatalf("%+v %v", c, err)
	}
	if c, err := parseDefaultConnection([]byte(`[]`)); c != nil || err != nil {
		t.Fatalf("empty list: %+v %v", c, err)
	}
	if _, err := parseDefaultConnection([]byte(`Error: nope`)); err == nil {
		t.Fatal("garbage must fail")
	}
}
