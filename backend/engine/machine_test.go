package engine

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/loopat/desktop/backend/config"
	"github.com/loopat/desktop/backend/machine"
)

// macOS path on Linux: the fake podman plays the machine, a fake API its socket.
func TestDarwinMachinePhases(t *testing.T) {
	dir := shortDir(t)
	state := filepath.Join(dir, "state")
	sock := filepath.Join(dir, "machine.sock")
	// The fake machine serves an API (the test binary as podman) only while it runs.
	self, _ := selfPodman(t, "[]")
	t.Setenv("FAKE_PODMAN_REAL", self)
	t.Setenv("FAKE_PODMAN_SERVE", "1")
	t.Setenv("FAKE_PODMAN_STATE", state)
	t.Setenv("FAKE_PODMAN_SOCKET", sock)
	t.Setenv("FAKE_PODMAN_DELAY", "0")
	cfg := config.Default()
	cfg.Engine.Podman = fakePodmanScript(t)
	t.Cleanup(func() { exec.Command(cfg.Engine.Podman, "machine", "stop").Run() })
	e := newTestEngine(t, cfg, Options{GOOS: "darwin", Getenv: env{}.get})

	st := e.Refresh(context.Background())
	if st.Phase != PhaseAbsent || st.Hint != NoMachineHint {
		t.Fatalf("no machine yet: %+v", st)
	}
	if err := e.InitMachine(context.Background()); err != nil {
		t.Fatal(err)
	}
	st = e.State()
	if st.Phase != PhaseMachineStopped || st.Machine != "podman-machine-default" || st.Hint != MachineStoppedHint {
		t.Fatalf("after init: %+v", st)
	}
	if err := e.StartMachine(context.Background(), ""); err != nil {
		t.Fatal(err)
	}
	st = e.State()
	if st.Phase != PhaseReady || st.Source != SourceConnection+":podman-machine-default" || st.URI != "unix://"+sock {
		t.Fatalf("after start: %+v", st)
	}
	// Without a default connection the machine's inspected socket is used.
	t.Setenv("FAKE_PODMAN_NO_CONNECTIONS", "1")
	if st = e.Refresh(context.Background()); st.Phase != PhaseReady || st.Source != SourceMachine+":podman-machine-default" {
		t.Fatalf("via inspect: %+v", st)
	}
	if err := e.StopMachine(context.Background(), ""); err != nil {
		t.Fatal(err)
	}
	if st = e.State(); st.Phase != PhaseMachineStopped {
		t.Fatalf("after stop: %+v", st)
	}
	data, _ := os.ReadFile(filepath.Join(state, "calls.log"))
	for _, want := range []string{"machine init --cpus 4 --memory 4096 --disk-size 60", "machine start", "machine stop", "machine inspect podman-machine-default"} {
		if !strings.Contains(string(data), want) {
			t.Errorf("calls.log lacks %q:\n%s", want, data)
		}
	}
	for _, forbidden := range []string{"machine rm", "machine reset"} {
		if strings.Contains(string(data), forbidden) {
			t.Errorf("engine ran %q", forbidden)
		}
	}
}

func TestDarwinStartFailureKeepsDiagnosis(t *testing.T) {
	dir := shortDir(t)
	t.Setenv("FAKE_PODMAN_STATE", filepath.Join(dir, "state"))
	t.Setenv("FAKE_PODMAN_DELAY", "0")
	fake := fakePodmanScript(t)
	if out, err := exec.Command(fake, "machine", "init").CombinedOutput(); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	t.Setenv("FAKE_PODMAN_FAIL", "start-gvproxy")
	cfg := config.Default()
	cfg.Engine.Podman = fake
	e := newTestEngine(t, cfg, Options{GOOS: "darwin", Getenv: env{}.get})
	err := e.StartMachine(context.Background(), "")
	se, ok := err.(*machine.StartError)
	if !ok || se.Diagnosis.Code != machine.CauseStaleGvproxy {
		t.Fatalf("want gvproxy diagnosis, got %v", err)
	}
	st := e.State()
	if st.Phase != PhaseMachineStopped || st.Diagnosis == nil || st.Diagnosis.Code != machine.CauseStaleGvproxy || !strings.Contains(st.Hint, "gvproxy") {
		t.Fatalf("state should keep the diagnosis: %+v", st)
	}
	// The monitor keeps it while the machine stays down.
	// Refresh runs the rediscovery a monitor round runs, and returns when it is done: two
	// rounds known to have happened, instead of a sleep that hopes one did.
	e.Start(context.Background())
	for round := 0; round < 2; round++ {
		if st := e.Refresh(context.Background()); st.Diagnosis == nil {
			t.Fatalf("diagnosis dropped by rediscovery round %d: %+v", round, st)
		}
	}
}

// Linux whose default podman connection is a machine: a stopped machine is reported as
// machine-stopped instead of being bypassed by the local sockets or an own service.
func TestLinuxMachineConnectionStopped(t *testing.T) {
	dir := shortDir(t)
	t.Setenv("FAKE_PODMAN_STATE", filepath.Join(dir, "state"))
	t.Setenv("FAKE_PODMAN_DELAY", "0")
	fake := fakePodmanScript(t)
	if out, err := exec.Command(fake, "machine", "init", "dev").CombinedOutput(); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	rootful := startFakeAPI(t, filepath.Join(dir, "rootful.sock"))
	cfg := config.Default()
	cfg.Engine.Podman = fake
	e := newTestEngine(t, cfg, Options{GOOS: "linux", Getenv: env{}.get, RootfulSocket: rootful.path})
	if st := e.Refresh(context.Background()); st.Phase != PhaseMachineStopped || st.Machine != "dev" || st.Hint != MachineStoppedHint {
		t.Fatalf("want machine-stopped for dev, got %+v", st)
	}
	if e.service.running() {
		t.Fatal("own service started although the connection names a machine")
	}
}
