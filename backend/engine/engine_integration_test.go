//go:build integration

package engine

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/containers/podman/v5/pkg/bindings/system"

	"github.com/loopat/desktop/backend/config"
	"github.com/loopat/desktop/backend/events"
	"github.com/loopat/desktop/backend/machine"
)

// Integration: real podman here. These tests fail (never skip) when podman is missing.

func realPodman(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("podman")
	if err != nil {
		t.Fatalf("podman is required for integration tests: %v", err)
	}
	return p
}

// serverVersion makes a real API call through the engine's connection.
func serverVersion(t *testing.T, e *Engine) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	conn, err := e.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	v, err := system.Version(conn, nil)
	if err != nil {
		t.Fatalf("system version through engine conn: %v", err)
	}
	return v.Server.Version
}

// leaveReady measures how long the state takes to leave ready after the engine goes away.
func leaveReady(t *testing.T, e *Engine, within time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), within)
	defer cancel()
	st, err := e.WaitFor(ctx, func(s State) bool { return s.Phase != PhaseReady })
	if err != nil {
		t.Fatalf("state still %+v %s after the engine went away", st, within)
	}
	return time.Since(start)
}

func TestIntegrationOwnServiceReadyKilledRecovers(t *testing.T) {
	realPodman(t)
	cfg := config.Default()
	e := newTestEngine(t, cfg, Options{GOOS: "linux", Getenv: env{}.get, PingInterval: 2 * time.Second})
	start := time.Now()
	e.Start(context.Background())
	// Generous bounds: other suites' image builds may hold podman's storage lock.
	st := waitPhase(t, e.Engine, PhaseReady, 90*time.Second)
	coldReady := time.Since(start)
	wantURI := "unix://" + filepath.Join(e.ws.RunDir(), "podman.sock")
	if st.Source != SourceOwnService || st.URI != wantURI {
		t.Fatalf("want own service on %s, got %+v", wantURI, st)
	}
	if v := serverVersion(t, e.Engine); !strings.HasPrefix(st.Version, strings.Join(strings.Split(v, ".")[:2], ".")) {
		t.Fatalf("state version %q vs server %q", st.Version, v)
	}
	pid := e.service.pid()
	if pid == 0 {
		t.Fatal("no service pid")
	}
	t.Cleanup(func() { syscall.Kill(pid, syscall.SIGKILL) })

	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	killed := time.Now()
	noticed := leaveReady(t, e.Engine, 5*time.Second)
	if _, err := e.Conn(context.Background()); err == nil && e.State().Phase != PhaseReady {
		t.Fatal("Conn must fail while not ready")
	}
	waitPhase(t, e.Engine, PhaseReady, 90*time.Second)
	recovered := time.Since(killed)
	newPid := e.service.pid()
	if newPid == 0 || newPid == pid {
		t.Fatalf("service not restarted: old %d new %d", pid, newPid)
	}
	serverVersion(t, e.Engine)
	t.Logf("MEASURED own service: cold ready %s; kill noticed after %s; ready again after %s", coldReady.Round(time.Millisecond), noticed.Round(time.Millisecond), recovered.Round(time.Millisecond))

	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(newPid, 0); err == nil {
		t.Fatalf("service %d survives Close", newPid)
	}
	if _, err := os.Stat(filepath.Join(e.ws.RunDir(), "podman.sock")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("socket left after Close: %v", err)
	}
}

// startService runs a podman API service the test owns on sock.
func startService(t *testing.T, sock string) *exec.Cmd {
	t.Helper()
	os.Remove(sock)
	cmd := exec.Command(realPodman(t), "system", "service", "--time=0", "unix://"+sock)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-done
		os.Remove(sock)
	})
	for i := 0; i < 1200; i++ {
		if c, err := net.Dial("unix", sock); err == nil {
			c.Close()
			return cmd
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("podman service on %s not ready", sock)
	return nil
}

func TestIntegrationContainerHostIsUsed(t *testing.T) {
	sock := filepath.Join(shortDir(t), "podman.sock")
	svc := startService(t, sock)
	e := newTestEngine(t, config.Default(), Options{GOOS: "linux", Getenv: env{"CONTAINER_HOST": "unix://" + sock}.get, PingInterval: 2 * time.Second})
	e.Start(context.Background())
	st := waitPhase(t, e.Engine, PhaseReady, 30*time.Second)
	if st.Source != SourceContainerHost || st.URI != "unix://"+sock {
		t.Fatalf("CONTAINER_HOST not used: %+v", st)
	}
	serverVersion(t, e.Engine)
	if e.service.running() {
		t.Fatal("own service started although CONTAINER_HOST works")
	}
	// The service goes away: error within seconds (no fallback), then back when it returns.
	svc.Process.Kill()
	noticed := leaveReady(t, e.Engine, 5*time.Second)
	if st := e.State(); st.Phase != PhaseError || st.Source != SourceContainerHost {
		t.Fatalf("want error on CONTAINER_HOST, got %+v", st)
	}
	startService(t, sock)
	back := time.Now()
	waitPhase(t, e.Engine, PhaseReady, 30*time.Second)
	t.Logf("MEASURED CONTAINER_HOST: loss noticed after %s; ready %s after the service returned", noticed.Round(time.Millisecond), time.Since(back).Round(time.Millisecond))
	serverVersion(t, e.Engine)
}

// macOS path with scripts/test/fake-podman first on PATH; its machine serves the real
// podman API (FAKE_PODMAN_SERVE=1) only while "running".
func TestIntegrationDarwinMachineWithFakePodman(t *testing.T) {
	real := realPodman(t)
	bin := shortDir(t)
	if err := os.Symlink(fakePodmanScript(t), filepath.Join(bin, "podman")); err != nil {
		t.Fatal(err)
	}
	state := filepath.Join(bin, "state")
	t.Setenv("PATH", bin+string(os.PathListSeparator)+os.Getenv("PATH"))
	t.Setenv("FAKE_PODMAN_STATE", state)
	t.Setenv("FAKE_PODMAN_REAL", real)
	t.Setenv("FAKE_PODMAN_SERVE", "1")
	t.Setenv("FAKE_PODMAN_DELAY", "0.02")
	t.Cleanup(func() { exec.Command(filepath.Join(bin, "podman"), "machine", "stop").Run() })

	cfg := config.Default()
	cfg.Machine.StartTimeout = 30
	bus := events.New()
	progress, cancel := bus.Subscribe(1024, func(topic string) bool { return topic == machine.TopicProgress })
	defer cancel()
	e := newTestEngine(t, cfg, Options{GOOS: "darwin", Getenv: env{}.get, PingInterval: 500 * time.Millisecond})
	e.bus = nil
	e.Engine.bus = bus
	if got := e.Podman(); got != filepath.Join(bin, "podman") {
		t.Fatalf("fake podman not first on PATH: %s", got)
	}
	e.Start(context.Background())
	if st := e.Settled(ctxTimeout(t, 10*time.Second)); st.Phase != PhaseAbsent || st.Hint != NoMachineHint {
		t.Fatalf("no machine yet: %+v", st)
	}

	ctx := ctxTimeout(t, 60*time.Second)
	if err := e.InitMachine(ctx); err != nil {
		t.Fatal(err)
	}
	if st := e.State(); st.Phase != PhaseMachineStopped {
		t.Fatalf("after init: %+v", st)
	}
	if err := e.StartMachine(ctx, ""); err != nil {
		t.Fatal(err)
	}
	st := e.State()
	if st.Phase != PhaseReady || st.Machine != "podman-machine-default" {
		t.Fatalf("after start: %+v", st)
	}
	serverVersion(t, e.Engine) // the real API behind the machine socket
	lines := drain(progress)
	for _, want := range []string{"init: Copying blob", "init: Machine init complete", "start: Starting machine", "start: API forwarding listening on"} {
		if !strings.Contains(lines, want) {
			t.Errorf("machine:progress lacks %q:\n%s", want, lines)
		}
	}

	// The machine stops behind the app's back: machine-stopped within seconds.
	if out, err := exec.Command("podman", "machine", "stop").CombinedOutput(); err != nil {
		t.Fatalf("%v %s", err, out)
	}
	stopped := time.Now()
	st = waitPhase(t, e.Engine, PhaseMachineStopped, 10*time.Second)
	t.Logf("MEASURED machine stop noticed after %s", time.Since(stopped).Round(time.Millisecond))
	if st.Hint != MachineStoppedHint {
		t.Fatalf("hint: %+v", st)
	}

	// A hanging start times out with a diagnosis that stays on the state.
	cfg.Machine.StartTimeout = 2
	e.SetConfig(cfg)
	t.Setenv("FAKE_PODMAN_FAIL", "start-hang")
	began := time.Now()
	err := e.StartMachine(ctx, "")
	var se *machine.StartError
	if !errors.As(err, &se) || !se.TimedOut || se.Diagnosis.Fix == "" {
		t.Fatalf("want timed-out start with diagnosis, got %v", err)
	}
	if took := time.Since(began); took > 10*time.Second {
		t.Fatalf("hung start took %s with a 2 s timeout", took)
	}
	if st := e.State(); st.Diagnosis == nil || st.Hint != se.Diagnosis.Fix {
		t.Fatalf("diagnosis not on state: %+v", st)
	}
	t.Logf("hang diagnosis: %+v", se.Diagnosis)
	// Rediscovery rounds (what the monitor runs; Refresh returns when one is done) must keep
	// the diagnosis visible: two known rounds instead of a sleep that hopes for some.
	for round := 0; round < 2; round++ {
		if st := e.Refresh(ctx); st.Diagnosis == nil || st.Diagnosis.Code != se.Diagnosis.Code {
			t.Fatalf("rediscovery round %d dropped the diagnosis: %+v", round, st)
		}
	}
	t.Setenv("FAKE_PODMAN_FAIL", "")
	// The hung start left the fake machine "starting"; a stop clears it and start works again.
	if err := e.StopMachine(ctx, ""); err != nil {
		t.Fatal(err)
	}
	cfg.Machine.StartTimeout = 30
	e.SetConfig(cfg)
	if err := e.StartMachine(ctx, ""); err != nil {
		t.Fatal(err)
	}
	if st := e.State(); st.Phase != PhaseReady || st.Diagnosis != nil {
		t.Fatalf("after recovery: %+v", st)
	}
	if err := e.StopMachine(ctx, ""); err != nil {
		t.Fatal(err)
	}
	if st := e.State(); st.Phase != PhaseMachineStopped {
		t.Fatalf("after StopMachine: %+v", st)
	}
	calls, _ := os.ReadFile(filepath.Join(state, "calls.log"))
	for _, forbidden := range []string{"machine rm", "machine reset"} {
		if strings.Contains(string(calls), forbidden) {
			t.Fatalf("engine ran %q:\n%s", forbidden, calls)
		}
	}
}

func ctxTimeout(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

func drain(ch <-chan events.Event) string {
	var b strings.Builder
	var mu sync.Mutex
	for {
		select {
		case ev := <-ch:
			p := ev.Data.(machine.ProgressEvent)
			mu.Lock()
			fmt.Fprintf(&b, "%s: %s\n", p.Action, p.Line)
			mu.Unlock()
		default:
			return b.String()
		}
	}
}
