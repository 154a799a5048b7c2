// Package tray is loopat's menu-bar / system-tray menu: the podman engine's state line,
// Start/Stop machine, Show window, one entry per loop that needs attention, and Quit.
//
// It uses fyne.io/systray with an external loop: Start must run on the main goroutine
// before wails.Run (macOS creates the NSStatusItem on the main thread). On Linux the tray
// is a StatusNotifierItem on the session bus; Start first checks that a tray host
// (org.kde.StatusNotifierWatcher) exists and otherwise returns ErrNoTrayHost, so the app
// runs without a tray instead of panicking in systray.
package tray

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"sync"
	"time"

	"fyne.io/systray"
	"github.com/godbus/dbus/v5"

	"github.com/loopat/desktop/backend/engine"
	"github.com/loopat/desktop/backend/events"
	"github.com/loopat/desktop/backend/notify"
)

//go:embed icon.png
var defaultIcon []byte

// Controller is what the tray drives. The app implements it (EngineActions covers the
// engine half).
type Controller interface {
	StartMachine() error
	StopMachine() error
	State() engine.State
	ShowWindow()
	OpenLoop(id string)
	Quit()
}

// Options configure Start.
type Options struct {
	Controller Controller
	Bus        notify.Subscriber // engine:state and loop:<id>:status events
	LoopTitle  func(id string) string
	Icon       []byte // PNG; default: the app icon at 64 px
	GOOS       string // default runtime.GOOS
	Log        *slog.Logger
}

// ErrNoTrayHost means the session has no tray to show an icon in.
var ErrNoTrayHost = errors.New("no tray host")

var (
	startedMu sync.Mutex
	started   bool // systray is process-global and can run once
)

// Start shows the tray icon and menu and returns the function that removes it (call it
// from the app's shutdown; it is safe to call more than once).
func Start(o Options) (stop func(), err error) {
	if o.Controller == nil || o.Bus == nil {
		return nil, errors.New("tray: controller and bus are required")
	}
	if o.GOOS == "" {
		o.GOOS = runtime.GOOS
	}
	if o.Log == nil {
		o.Log = slog.Default()
	}
	o.Log = o.Log.With("component", "tray")
	if len(o.Icon) == 0 {
		o.Icon = defaultIcon
	}
	if o.GOOS != "darwin" && o.GOOS != "windows" {
		if err := ProbeHost(); err != nil {
			return nil, err
		}
	}
	startedMu.Lock()
	defer startedMu.Unlock()
	if started {
		return nil, errors.New("tray: already started in this process")
	}
	started = true

	t := &trayRun{quit: make(chan struct{})}
	t.p = newPresenter(o.Controller, o.GOOS, o.Log, o.LoopTitle, t.apply)
	evs, cancel := o.Bus.Subscribe(256, wantsTopic)
	begin, end := systray.RunWithExternalLoop(func() { t.ready(o, evs) }, nil)
	begin()
	var once sync.Once
	return func() {
		once.Do(func() {
			cancel()
			close(t.quit)
			defer func() {
				// systray's end panics when its bus connection never came up.
				if r := recover(); r != nil {
					o.Log.Warn("tray shutdown", "panic", fmt.Sprint(r))
				}
			}()
			end()
		})
	}, nil
}

// ProbeHost checks (on Linux/BSD) that the session bus has a StatusNotifierWatcher.
func ProbeHost() error {
	conn, err := dbus.ConnectSessionBus()
	if err != nil {
		return fmt.Errorf("%w: no session bus: %v", ErrNoTrayHost, err)
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	var has bool
	if err := conn.BusObject().CallWithContext(ctx, "org.freedesktop.DBus.NameHasOwner", 0,
		"org.kde.StatusNotifierWatcher").Store(&has); err != nil {
		return fmt.Errorf("%w: ask the session bus: %v", ErrNoTrayHost, err)
	}
	if !has {
		return fmt.Errorf("%w: no org.kde.StatusNotifierWatcher on the session bus (the desktop shows no tray icons; on GNOME install the AppIndicator extension)", ErrNoTrayHost)
	}
	return nil
}

// trayRun binds the presenter to systray items.
type trayRun struct {
	p    *presenter
	quit chan struct{}

	mu    sync.Mutex
	items *menuItems // nil until systray's onReady built them
}

type menuItems struct {
	state, start, stop, show, more, quit *systray.MenuItem
	slots                                [MaxAttention]*systray.MenuItem
}

// ready runs once systray is up: build the fixed items (attention slots are hidden until
// used, since systray can only append), then follow clicks and the bus.
func (t *trayRun) ready(o Options, evs <-chan events.Event) {
	systray.SetIcon(o.Icon)
	if o.GOOS != "darwin" {
		systray.SetTitle("loopat")
	}
	it := &menuItems{}
	it.state = systray.AddMenuItem("Podman…", "podman engine state")
	it.state.Disable()
	systray.AddSeparator()
	it.start = systray.AddMenuItem("Start machine", "start the podman machine")
	it.stop = systray.AddMenuItem("Stop machine", "stop the podman machine")
	systray.AddSeparator()
	it.show = systray.AddMenuItem("Show window", "")
	for i := range it.slots {
		it.slots[i] = systray.AddMenuItem("", "open this loop")
		it.slots[i].Hide()
	}
	it.more = systray.AddMenuItem("", "")
	it.more.Hide()
	systray.AddSeparator()
	it.quit = systray.AddMenuItem("Quit loopat", "")

	t.mu.Lock()
	t.items = it
	t.mu.Unlock()

	t.follow(it.start, ActionStart, 0)
	t.follow(it.stop, ActionStop, 0)
	t.follow(it.show, ActionShow, 0)
	t.follow(it.more, ActionShow, 0)
	t.follow(it.quit, ActionQuit, 0)
	for i, s := range it.slots {
		t.follow(s, ActionOpenLoop, i)
	}
	t.p.refresh()
	go func() {
		for {
			select {
			case <-t.quit:
				return
			case ev, ok := <-evs:
				if !ok { // the subscription was cancelled (shutdown)
					return
				}
				if t.p.onEvent(ev) {
					t.p.refresh()
				}
			}
		}
	}()
}

// follow turns an item's clicks into presenter actions. systray drops a click when
// nobody is receiving, so the receiver hands work off at once.
func (t *trayRun) follow(item *systray.MenuItem, a Action, slot int) {
	go func() {
		for {
			select {
			case <-t.quit:
				return
			case _, ok := <-item.ClickedCh:
				if !ok {
					return
				}
				go t.p.click(a, slot)
			}
		}
	}()
}

// apply renders a Menu onto the systray items.
func (t *trayRun) apply(m Menu) {
	t.mu.Lock()
	it := t.items
	t.mu.Unlock()
	if it == nil {
		return
	}
	systray.SetTooltip(m.Tooltip)
	set(it.state, Item{Label: m.State.Label, Visible: true})
	set(it.start, m.Start)
	set(it.stop, m.Stop)
	set(it.show, m.Show)
	for i, s := range it.slots {
		if i < len(m.Attention) {
			set(s, m.Attention[i].Item)
		} else {
			set(s, Item{})
		}
	}
	set(it.more, m.More)
	set(it.quit, m.Quit)
}

func set(item *systray.MenuItem, want Item) {
	if want.Label != "" {
		item.SetTitle(want.Label)
	}
	if want.Enabled {
		item.Enable()
	} else {
		item.Disable()
	}
	if want.Visible {
		item.Show()
	} else {
		item.Hide()
	}
}

// EngineActions is the engine half of a Controller: Start/Stop drive the podman
// machine the engine found; on Linux without a machine, Start re-runs discovery (which
// restarts the app-managed podman service).
type EngineActions struct {
	Engine  *engine.Engine
	Context context.Context // app lifetime; nil = Background
}

func (a EngineActions) ctx() context.Context {
	if a.Context == nil {
		return context.Background()
	}
	return a.Context
}

// State is the engine state.
func (a EngineActions) State() engine.State { return a.Engine.State() }

// StartMachine starts the machine (or the app's podman service) and waits for the result.
func (a EngineActions) StartMachine() error {
	st := a.Engine.State()
	if st.Machine == "" && st.Phase != engine.PhaseMachineStopped {
		if st = a.Engine.Refresh(a.ctx()); st.Phase != engine.PhaseReady {
			return &engine.NotReadyError{State: st}
		}
		return nil
	}
	if err := a.Engine.StartMachine(a.ctx(), st.Machine); err != nil {
		return fmt.Errorf("start podman machine %s: %w", st.Machine, err)
	}
	return nil
}

// StopMachine stops the engine's machine.
func (a EngineActions) StopMachine() error {
	st := a.Engine.State()
	if st.Machine == "" {
		return errors.New("no podman machine to stop")
	}
	if err := a.Engine.StopMachine(a.ctx(), st.Machine); err != nil {
		return fmt.Errorf("stop podman machine %s: %w", st.Machine, err)
	}
	return nil
}
