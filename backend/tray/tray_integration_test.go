//go:build integration

package tray_test

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/godbus/dbus/v5"

	"github.com/loopat/desktop/backend/config"
	"github.com/loopat/desktop/backend/engine"
	"github.com/loopat/desktop/backend/events"
	"github.com/loopat/desktop/backend/tray"
	"github.com/loopat/desktop/backend/tray/internal/fakewatcher"
)

// app records what the tray asks of the window (no window exists in this test); the
// machine half is the real engine driving scripts/test/fake-podman on the macOS path.
type app struct {
	tray.EngineActions
	mu    sync.Mutex
	calls []string
}

func (a *app) record(s string)    { a.mu.Lock(); a.calls = append(a.calls, s); a.mu.Unlock() }
func (a *app) ShowWindow()        { a.record("show") }
func (a *app) OpenLoop(id string) { a.record("open " + id) }
func (a *app) Quit()              { a.record("quit") }
func (a *app) Calls() string      { a.mu.Lock(); defer a.mu.Unlock(); return strings.Join(a.calls, ",") }

func repoFile(t *testing.T, rel string) string {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	p, err := filepath.Abs(filepath.Join(filepath.Dir(file), "..", "..", rel))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func shortDir(t *testing.T) string {
	t.Helper()
	d, err := os.MkdirTemp("", "tray")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(d) })
	return d
}

func TestIntegrationTrayOnSessionBus(t *testing.T) {
	for _, tool := range []string{"dbus-daemon", "podman"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s is required: %v", tool, err)
		}
	}
	realPodman, _ := exec.LookPath("podman")
	dir := shortDir(t)

	// A private session bus, as dbus-run-session gives; systray reads the variable.
	bus, err := fakewatcher.StartBus(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(bus.Close)
	t.Setenv("DBUS_SESSION_BUS_ADDRESS", bus.Address)

	// No tray host yet: the app must be told, not crash.
	if err := tray.ProbeHost(); !errors.Is(err, tray.ErrNoTrayHost) {
		t.Fatalf("probe without a watcher: %v", err)
	}
	watcher, err := fakewatcher.StartWatcher(bus.Address)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(watcher.Close)

	// fake-podman first on PATH: a macOS-style machine that serves the real podman API while running.
	bin := filepath.Join(dir, "bin")
	os.Mkdir(bin, 0o755)
	if err := os.Symlink(repoFile(t, "scripts/test/fake-podman"), filepath.Join(bin, "podman")); err != nil {
		t.Fatal(err)
	}
	state := filepath.Join(dir, "state")
	t.Setenv("PATH", bin+string(os.PathListSeparator)+os.Getenv("PATH"))
	t.Setenv("FAKE_PODMAN_STATE", state)
	t.Setenv("FAKE_PODMAN_REAL", realPodman)
	t.Setenv("FAKE_PODMAN_SERVE", "1")
	t.Setenv("FAKE_PODMAN_DELAY", "0.02")
	t.Cleanup(func() { exec.Command(filepath.Join(bin, "podman"), "machine", "stop").Run() })

	ws, err := config.NewWorkspace(filepath.Join(dir, "ws"))
	if err != nil {
		t.Fatal(err)
	}
	if err := ws.Ensure(); err != nil {
		t.Fatal(err)
	}
	cfg := config.Default()
	cfg.Machine.StartTimeout = 60
	evbus := events.New()
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	eng := engine.NewWithOptions(ws, cfg, evbus, log, engine.Options{
		GOOS: "darwin", Getenv: func(string) string { return "" }, PingInterval: 500 * time.Millisecond,
		RootfulSocket: filepath.Join(dir, "absent.sock"),
	})
	t.Cleanup(func() { eng.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	eng.Start(ctx)
	if err := eng.InitMachine(ctx); err != nil {
		t.Fatal(err)
	}
	if st := eng.State(); st.Phase != engine.PhaseMachineStopped {
		t.Fatalf("after init: %+v", st)
	}

	a := &app{EngineActions: tray.EngineActions{Engine: eng, Context: ctx}}
	titles := map[string]string{"loop-1": "Fix the flaky build"}
	stop, err := tray.Start(tray.Options{Controller: a, Bus: evbus, GOOS: "linux", Log: log,
		LoopTitle: func(id string) string { return titles[id] }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stop)

	// The item registers with the watcher and exposes its menu.
	began := time.Now()
	item, err := watcher.WaitItem(10 * time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("MEASURED tray item registered after %s (%s%s)", time.Since(began).Round(time.Millisecond), item.Service, item.Path)
	menu, err := fakewatcher.OpenMenu(bus.Address, item)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(menu.Close)
	if v, err := menu.ItemProperty(item, "IconPixmap"); err != nil || !strings.Contains(v.String(), "64, 64") {
		t.Errorf("icon pixmap: %v %v", v, err)
	}

	stateLine := func() string {
		es, err := menu.Entries()
		if err != nil || len(es) == 0 {
			return ""
		}
		return es[0].Label
	}
	waitEntry := func(what string, pred func([]fakewatcher.Entry) bool) []fakewatcher.Entry {
		t.Helper()
		deadline := time.Now().Add(90 * time.Second)
		for {
			es, err := menu.Entries()
			if err == nil && pred(es) {
				return es
			}
			if time.Now().After(deadline) {
				t.Fatalf("menu never showed %s; last: %+v (err %v)", what, es, err)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	find := func(es []fakewatcher.Entry, label string) (fakewatcher.Entry, bool) {
		for _, e := range es {
			if e.Label == label {
				return e, true
			}
		}
		return fakewatcher.Entry{}, false
	}
	usable := func(label string) func([]fakewatcher.Entry) bool {
		return func(es []fakewatcher.Entry) bool {
			e, ok := find(es, label)
			return ok && e.Enabled && e.Visible
		}
	}
	click := func(es []fakewatcher.Entry, label string) {
		t.Helper()
		e, ok := find(es, label)
		if !ok {
			t.Fatalf("no %q entry in %+v", label, es)
		}
		if err := menu.Click(e.ID); err != nil {
			t.Fatalf("click %q: %v", label, err)
		}
	}
	const name = "podman-machine-default"

	es := waitEntry("the stopped machine", func(es []fakewatcher.Entry) bool {
		return len(es) > 0 && es[0].Label == "Podman machine "+name+" stopped" && usable("Start machine")(es)
	})
	if e, _ := find(es, "Stop machine"); e.Enabled {
		t.Errorf("Stop enabled on a stopped machine: %+v", e)
	}

	// Start from the tray: the real engine runs `podman machine start` and connects.
	click(es, "Start machine")
	clicked := time.Now()
	es = waitEntry("the ready machine", func(es []fakewatcher.Entry) bool {
		return len(es) > 0 && es[0].Label == "Podman ready · machine "+name && usable("Stop machine")(es)
	})
	t.Logf("MEASURED tray Start machine -> state line ready: %s", time.Since(clicked).Round(time.Millisecond))
	if st := eng.State(); st.Phase != engine.PhaseReady || st.Machine != name {
		t.Fatalf("engine after tray start: %+v", st)
	}
	calls, _ := os.ReadFile(filepath.Join(state, "calls.log"))
	if !strings.Contains(string(calls), "machine start") {
		t.Fatalf("fake podman never asked to start:\n%s", calls)
	}

	// Stop from the tray.
	click(es, "Stop machine")
	clicked = time.Now()
	es = waitEntry("the stopped machine again", func(es []fakewatcher.Entry) bool {
		return len(es) > 0 && es[0].Label == "Podman machine "+name+" stopped" && usable("Start machine")(es)
	})
	t.Logf("MEASURED tray Stop machine -> state line stopped: %s", time.Since(clicked).Round(time.Millisecond))
	if calls, _ = os.ReadFile(filepath.Join(state, "calls.log")); !strings.Contains(string(calls), "machine stop") {
		t.Fatalf("fake podman never asked to stop:\n%s", calls)
	}

	// A loop that finished shows up and opens from the tray.
	evbus.Publish("loop:loop-1:status", map[string]string{"status": "working"})
	evbus.Publish("loop:loop-1:status", map[string]string{"status": "idle"})
	const entry = "Fix the flaky build — finished"
	es = waitEntry("the attention entry", usable(entry))
	click(es, entry)
	waitEntry("the entry gone after opening", func(es []fakewatcher.Entry) bool {
		e, ok := find(es, entry)
		return !ok || !e.Visible
	})

	es, _ = menu.Entries()
	click(es, "Show window")
	click(es, "Quit loopat")
	deadline := time.Now().Add(5 * time.Second)
	for a.Calls() != "open loop-1,show,quit" {
		if time.Now().After(deadline) {
			t.Fatalf("window calls %q", a.Calls())
		}
		time.Sleep(20 * time.Millisecond)
	}
	if got := stateLine(); got == "" {
		t.Fatal("menu unreadable at the end")
	}

	// stop removes the item from the bus.
	stop()
	stop() // idempotent
	check, err := dbus.Connect(bus.Address)
	if err != nil {
		t.Fatal(err)
	}
	defer check.Close()
	var has bool
	deadline = time.Now().Add(5 * time.Second)
	for {
		if err := check.BusObject().Call("org.freedesktop.DBus.NameHasOwner", 0, item.Service).Store(&has); err != nil {
			t.Fatal(err)
		}
		if !has {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("tray connection still on the bus after stop")
		}
		time.Sleep(50 * time.Millisecond)
	}
}
