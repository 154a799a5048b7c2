package tray

import (
	"errors"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/loopat/desktop/backend/engine"
	"github.com/loopat/desktop/backend/events"
	"github.com/loopat/desktop/backend/notify"
)

func TestBuildMenuMachineStates(t *testing.T) {
	cases := []struct {
		name        string
		st          engine.State
		goos        string
		busy        Action
		state       string
		start, stop Item
	}{
		{"mac stopped", engine.State{Phase: engine.PhaseMachineStopped, Machine: "m1"}, "darwin", ActionNone,
			"Podman machine m1 stopped",
			Item{"Start machine", true, true}, Item{"Stop machine", false, true}},
		{"mac ready", engine.State{Phase: engine.PhaseReady, Machine: "m1", Source: "machine:m1"}, "darwin", ActionNone,
			"Podman ready · machine m1",
			Item{"Start machine", false, true}, Item{"Stop machine", true, true}},
		{"mac starting by click", engine.State{Phase: engine.PhaseMachineStopped, Machine: "m1"}, "darwin", ActionStart,
			"Podman machine m1 stopped",
			Item{"Starting machine…", false, true}, Item{"Stop machine", false, true}},
		{"mac starting elsewhere", engine.State{Phase: engine.PhaseStarting, Machine: "m1", Reason: "starting podman machine"}, "darwin", ActionNone,
			"Podman: starting podman machine…",
			Item{"Starting machine…", false, true}, Item{"Stop machine", false, true}},
		{"mac stopping", engine.State{Phase: engine.PhaseReady, Machine: "m1"}, "darwin", ActionStop,
			"Podman ready · machine m1",
			Item{"Start machine", false, true}, Item{"Stopping machine…", false, true}},
		{"mac no machine", engine.State{Phase: engine.PhaseAbsent, Reason: "no podman machine has been created yet"}, "darwin", ActionNone,
			"Podman: no podman machine has been created yet", Item{}, Item{}},
		{"linux own service", engine.State{Phase: engine.PhaseReady, Source: engine.SourceOwnService}, "linux", ActionNone,
			"Podman ready · app-managed service", Item{}, Item{}},
		{"linux service error", engine.State{Phase: engine.PhaseError, Source: engine.SourceOwnService, Reason: "exited"}, "linux", ActionNone,
			"Podman error: exited", Item{"Restart podman service", true, true}, Item{}},
		{"linux no podman", engine.State{Phase: engine.PhaseAbsent}, "linux", ActionNone,
			"Podman not available", Item{}, Item{}},
		{"linux machine connection", engine.State{Phase: engine.PhaseMachineStopped, Machine: "m2"}, "linux", ActionNone,
			"Podman machine m2 stopped", Item{"Start machine", true, true}, Item{"Stop machine", false, true}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m := BuildMenu(c.st, c.goos, nil, c.busy)
			if m.State.Label != c.state || m.State.Enabled || !m.State.Visible {
				t.Errorf("state item %+v, want label %q (visible, not clickable)", m.State, c.state)
			}
			if m.Start != c.start {
				t.Errorf("start %+v, want %+v", m.Start, c.start)
			}
			if m.Stop != c.stop {
				t.Errorf("stop %+v, want %+v", m.Stop, c.stop)
			}
			if !m.Show.Visible || !m.Show.Enabled || !m.Quit.Visible || !m.Quit.Enabled {
				t.Errorf("show/quit must always be there: %+v %+v", m.Show, m.Quit)
			}
			if !strings.Contains(m.Tooltip, c.state) {
				t.Errorf("tooltip %q lacks state", m.Tooltip)
			}
		})
	}
}

func TestBuildMenuAttentionAndOverflow(t *testing.T) {
	var att []notify.Attention
	for i := 0; i < MaxAttention+2; i++ {
		att = append(att, notify.Attention{LoopID: string(rune('a' + i)), Title: "Loop " + string(rune('A'+i)), Kind: notify.KindFinished})
	}
	att[1].Kind = notify.KindFailed
	att[2].Kind = notify.KindInput
	m := BuildMenu(engine.State{Phase: engine.PhaseReady}, "linux", att, ActionNone)
	if len(m.Attention) != MaxAttention {
		t.Fatalf("want %d entries, got %d", MaxAttention, len(m.Attention))
	}
	want := []string{"Loop A — finished", "Loop B — failed", "Loop C — needs your input"}
	for i, w := range want {
		if m.Attention[i].Label != w || m.Attention[i].LoopID != att[i].LoopID || !m.Attention[i].Enabled {
			t.Errorf("entry %d: %+v want %q", i, m.Attention[i], w)
		}
	}
	if !m.More.Visible || m.More.Label != "2 more loops need you…" {
		t.Errorf("more: %+v", m.More)
	}
	if long := BuildMenu(engine.State{Phase: engine.PhaseError, Reason: strings.Repeat("x", 200)}, "linux", nil, ActionNone); len([]rune(long.State.Label)) > 64 {
		t.Errorf("state label not truncated: %d runes", len([]rune(long.State.Label)))
	}
}

// recordingController stands in for the app window (none exists in unit tests); its
// machine follows Start/Stop like the engine would.
type recordingController struct {
	mu       sync.Mutex
	st       engine.State
	calls    []string
	startErr error
	release  chan struct{} // when set, StartMachine waits for it
}

func (c *recordingController) record(s string) {
	c.mu.Lock()
	c.calls = append(c.calls, s)
	c.mu.Unlock()
}
func (c *recordingController) StartMachine() error {
	c.record("start")
	if c.release != nil {
		<-c.release
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.startErr != nil {
		return c.startErr
	}
	c.st = engine.State{Phase: engine.PhaseReady, Machine: c.st.Machine}
	return nil
}
func (c *recordingController) StopMachine() error {
	c.record("stop")
	c.mu.Lock()
	c.st = engine.State{Phase: engine.PhaseMachineStopped, Machine: c.st.Machine}
	c.mu.Unlock()
	return nil
}
func (c *recordingController) State() engine.State {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.st
}
func (c *recordingController) ShowWindow()        { c.record("show") }
func (c *recordingController) OpenLoop(id string) { c.record("open " + id) }
func (c *recordingController) Quit()              { c.record("quit") }
func (c *recordingController) Calls() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return strings.Join(c.calls, ",")
}

type renders struct {
	mu   sync.Mutex
	last Menu
	n    int
}

func (r *renders) render(m Menu) { r.mu.Lock(); r.last = m; r.n++; r.mu.Unlock() }
func (r *renders) menu() Menu    { r.mu.Lock(); defer r.mu.Unlock(); return r.last }

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(3 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out: %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func statusEvent(id, status, detail string) events.Event {
	return events.Event{Topic: "loop:" + id + ":status", Data: map[string]string{"status": status, "detail": detail}}
}

func TestPresenterStartStopFollowState(t *testing.T) {
	ctrl := &recordingController{st: engine.State{Phase: engine.PhaseMachineStopped, Machine: "m"}, release: make(chan struct{})}
	r := &renders{}
	p := newPresenter(ctrl, "darwin", quiet(), nil, r.render)
	p.refresh()
	if m := r.menu(); !m.Start.Enabled || m.Stop.Enabled {
		t.Fatalf("stopped machine: %+v %+v", m.Start, m.Stop)
	}
	p.click(ActionStart, 0)
	if m := r.menu(); m.Start.Label != "Starting machine…" || m.Start.Enabled {
		t.Fatalf("while starting: %+v", m.Start)
	}
	p.click(ActionStart, 0) // ignored while the first runs
	close(ctrl.release)
	eventually(t, "ready after start", func() bool { return r.menu().State.Label == "Podman ready · machine m" })
	if m := r.menu(); !m.Stop.Enabled || m.Start.Enabled {
		t.Fatalf("ready: %+v %+v", m.Start, m.Stop)
	}
	p.click(ActionStop, 0)
	eventually(t, "stopped after stop", func() bool { return r.menu().State.Label == "Podman machine m stopped" })
	p.wg.Wait()
	if got := ctrl.Calls(); got != "start,stop" {
		t.Fatalf("calls %q", got)
	}
}

func TestPresenterFailedStartReenables(t *testing.T) {
	ctrl := &recordingController{st: engine.State{Phase: engine.PhaseMachineStopped, Machine: "m"}, startErr: errors.New("boom")}
	r := &renders{}
	p := newPresenter(ctrl, "darwin", quiet(), nil, r.render)
	p.click(ActionStart, 0)
	p.wg.Wait()
	if m := r.menu(); !m.Start.Enabled || m.Start.Label != "Start machine" {
		t.Fatalf("after a failed start the user can retry: %+v", m.Start)
	}
}

func TestPresenterAttention(t *testing.T) {
	ctrl := &recordingController{st: engine.State{Phase: engine.PhaseReady}}
	r := &renders{}
	p := newPresenter(ctrl, "linux", quiet(), func(id string) string { return "T-" + id }, r.render)
	feed := func(ev events.Event) {
		if p.onEvent(ev) {
			p.refresh()
		}
	}
	feed(statusEvent("a", "idle", "")) // known idle at start: nothing
	feed(statusEvent("a", "working", ""))
	feed(statusEvent("a", "idle", ""))
	feed(statusEvent("b", "working", ""))
	feed(statusEvent("b", "error", "api down"))
	feed(statusEvent("c", "working", ""))
	feed(statusEvent("c", "idle", "interrupted"))
	m := r.menu()
	if len(m.Attention) != 2 || m.Attention[0].Label != "T-b — failed" || m.Attention[1].Label != "T-a — finished" {
		t.Fatalf("attention: %+v", m.Attention)
	}
	// Back to work on b settles it.
	feed(statusEvent("b", "working", ""))
	if m := r.menu(); len(m.Attention) != 1 || m.Attention[0].LoopID != "a" {
		t.Fatalf("after b works again: %+v", m.Attention)
	}
	// Clicking the entry opens the loop and removes the entry.
	p.click(ActionOpenLoop, 0)
	if got := ctrl.Calls(); got != "open a" {
		t.Fatalf("calls %q", got)
	}
	if m := r.menu(); len(m.Attention) != 0 {
		t.Fatalf("entry not removed: %+v", m.Attention)
	}
	p.click(ActionOpenLoop, 3) // stale slot: ignored
	p.click(ActionShow, 0)
	p.click(ActionQuit, 0)
	if got := ctrl.Calls(); got != "open a,show,quit" {
		t.Fatalf("calls %q", got)
	}
	if p.onEvent(events.Event{Topic: "loop:a:message"}) {
		t.Fatal("message events must not re-render")
	}
	if !p.onEvent(events.Event{Topic: engine.TopicState}) {
		t.Fatal("engine state must re-render")
	}
}

func TestStartWithoutSessionBusReportsNoTrayHost(t *testing.T) {
	t.Setenv("DBUS_SESSION_BUS_ADDRESS", "unix:path="+t.TempDir()+"/no-bus")
	stop, err := Start(Options{Controller: &recordingController{}, Bus: events.New(), GOOS: "linux", Log: quiet()})
	if !errors.Is(err, ErrNoTrayHost) || stop != nil {
		t.Fatalf("want ErrNoTrayHost, got %v", err)
	}
	if _, err := Start(Options{GOOS: "linux"}); err == nil {
		t.Fatal("want an error without controller and bus")
	}
}
