// Package engine finds (or starts) the podman engine, keeps one observable State of it
// and hands out bindings connections. Discovery order: CONTAINER_HOST / config URL ->
// default `podman system connection` -> (macOS) the running machine's socket -> Linux
// rootless socket -> rootful socket -> an app-supervised `podman system service`.
// A monitor pings every ~2 s, so a vanished engine is noticed within seconds and
// recovered by re-running discovery.
package engine

import (
	"context"
	"log/slog"
	"os"
	"runtime"
	"sync"
	"time"

	"github.com/loopat/desktop/backend/config"
	"github.com/loopat/desktop/backend/events"
	"github.com/loopat/desktop/backend/machine"
)

// Options make the OS-dependent decisions injectable (tests run the macOS path on Linux).
type Options struct {
	GOOS          string                       // default runtime.GOOS
	Getenv        func(string) string          // default os.Getenv
	LookPath      func(string) (string, error) // default exec.LookPath
	RootfulSocket string                       // default /run/podman/podman.sock
	PingInterval  time.Duration                // default 2 s
	// Machines overrides the podman-CLI machine provider.
	Machines machine.Provider
}

// Engine is the app's podman connection and its state.
type Engine struct {
	ws   config.Workspace
	cfg  config.Config
	bus  events.Publisher
	log  *slog.Logger
	opts Options

	service        *ownService
	lastServiceTry time.Time // touched only under discMu

	discMu sync.Mutex // one discovery at a time

	mu         sync.Mutex
	state      State
	sess       *session
	podman     string
	discovered bool          // first discovery finished
	changed    chan struct{} // closed and replaced on every state change
	steps      map[string]string

	machineStarting bool // StartMachine in progress: a down machine reads as starting

	kick     chan struct{}
	started  bool
	cancel   context.CancelFunc
	done     chan struct{}
	closeErr error
	closed   bool
}

// New builds an engine for the workspace; call Start to begin discovery.
func New(ws config.Workspace, cfg config.Config, bus events.Publisher, log *slog.Logger) *Engine {
	return NewWithOptions(ws, cfg, bus, log, Options{})
}

// NewWithOptions is New with injectable OS decisions.
func NewWithOptions(ws config.Workspace, cfg config.Config, bus events.Publisher, log *slog.Logger, o Options) *Engine {
	if log == nil {
		log = slog.Default()
	}
	log = log.With("component", "engine")
	if o.GOOS == "" {
		o.GOOS = runtime.GOOS
	}
	if o.Getenv == nil {
		o.Getenv = os.Getenv
	}
	if o.LookPath == nil {
		o.LookPath = defaultLookPath
	}
	if o.RootfulSocket == "" {
		o.RootfulSocket = "/run/podman/podman.sock"
	}
	if o.PingInterval <= 0 {
		o.PingInterval = 2 * time.Second
	}
	e := &Engine{
		ws: ws, cfg: cfg, bus: bus, log: log, opts: o,
		state:   State{Phase: PhaseStarting, Reason: "looking for podman", Since: time.Now()},
		changed: make(chan struct{}),
		steps:   map[string]string{},
		kick:    make(chan struct{}, 1),
	}
	e.podman, _ = findPodman(cfg.Engine.Podman, o.GOOS, o.LookPath)
	e.service = &ownService{
		socket:  ws.ServiceSocket(),
		logPath: ws.LogsDir() + string(os.PathSeparator) + "podman-service.log",
		log:     log,
		onExit:  e.poke,
	}
	return e
}

// Start runs discovery and the monitor in the background. It returns at once.
func (e *Engine) Start(ctx context.Context) {
	e.mu.Lock()
	if e.started || e.closed {
		e.mu.Unlock()
		return
	}
	e.started = true
	ctx, e.cancel = context.WithCancel(ctx)
	e.done = make(chan struct{})
	e.mu.Unlock()
	go e.monitor(ctx)
}

// State is the current engine state.
func (e *Engine) State() State {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.state
}

// SetConfig applies a changed config (engine URL, podman path, machine settings); call
// Refresh to reconnect with it.
func (e *Engine) SetConfig(cfg config.Config) {
	e.mu.Lock()
	e.cfg = cfg
	e.mu.Unlock()
}

func (e *Engine) config() config.Config {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.cfg
}

// Podman is the podman executable path (the configured name when it is not installed).
func (e *Engine) Podman() string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.podman
}

func (e *Engine) setPodman(p string) {
	e.mu.Lock()
	e.podman = p
	e.mu.Unlock()
}

// Machines is the machine provider over the current podman executable.
func (e *Engine) Machines() machine.Provider {
	if e.opts.Machines != nil {
		return e.opts.Machines
	}
	return machine.NewCLI(e.Podman(), e.config().Machine, e.log)
}

// Conn returns ctx carrying the bindings connection when the engine is ready, else a
// *NotReadyError saying why and what to do.
func (e *Engine) Conn(ctx context.Context) (context.Context, error) {
	if ctx == nil {
		ctx = context.Background()
	}
	e.mu.Lock()
	s, st := e.sess, e.state
	e.mu.Unlock()
	if s == nil || st.Phase != PhaseReady {
		return nil, &NotReadyError{State: st}
	}
	return withValues(ctx, s.conn), nil
}

// WaitReady blocks until the engine is ready (then returns Conn) or ctx ends.
func (e *Engine) WaitReady(ctx context.Context) (context.Context, error) {
	if _, err := e.WaitFor(ctx, func(s State) bool { return s.Phase == PhaseReady }); err != nil {
		return nil, &NotReadyError{State: e.State()}
	}
	return e.Conn(ctx)
}

// Settled waits until the first discovery finished and nothing is starting, or ctx ends,
// and returns the state then. The checklist uses it right after the app starts.
func (e *Engine) Settled(ctx context.Context) State {
	st, _ := e.WaitFor(ctx, func(s State) bool { return s.Phase != PhaseStarting })
	return st
}

// WaitFor blocks until pred holds for the state (after the first discovery) or ctx ends.
func (e *Engine) WaitFor(ctx context.Context, pred func(State) bool) (State, error) {
	for {
		e.mu.Lock()
		st, ch, ok := e.state, e.changed, e.discovered && pred(e.state)
		e.mu.Unlock()
		if ok {
			return st, nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return st, ctx.Err()
		}
	}
}

// Refresh drops the current connection and re-runs discovery now, returning the result.
// It works with or without Start (the monitor and Refresh take turns).
func (e *Engine) Refresh(ctx context.Context) State {
	e.discMu.Lock()
	defer e.discMu.Unlock()
	e.mu.Lock()
	e.sess = nil
	e.mu.Unlock()
	e.rediscoverLocked(ctx)
	return e.State()
}

// StartMachine boots the podman machine (name "" = configured/default) with progress on
// the bus, then reconnects. Failures are *machine.StartError with a Diagnosis, which
// also stays on the State until the engine is ready.
func (e *Engine) StartMachine(ctx context.Context, name string) error {
	if name == "" {
		name = e.config().Machine.Name
	}
	e.mu.Lock()
	e.machineStarting = true
	e.mu.Unlock()
	e.setState(State{Phase: PhaseStarting, Machine: name, Reason: "starting podman machine"})
	err := e.Machines().Start(ctx, name, machine.BusProgress(e.bus, name, "start"))
	e.mu.Lock()
	e.machineStarting = false
	e.mu.Unlock()
	st := e.Refresh(ctx)
	if err != nil {
		if se, ok := err.(*machine.StartError); ok && st.Phase != PhaseReady {
			d := se.Diagnosis
			st.Diagnosis = &d
			st.Reason = "podman machine start failed: " + d.Cause
			st.Hint = d.Fix
			e.setState(st)
		}
		return err
	}
	return nil
}

// InitMachine creates the machine with the configured sizes (progress on the bus).
func (e *Engine) InitMachine(ctx context.Context) error {
	o := machine.DefaultInitOptions(e.config().Machine)
	err := e.Machines().Init(ctx, o, machine.BusProgress(e.bus, o.Name, "init"))
	e.Refresh(ctx)
	return err
}

// StopMachine stops the machine; the state becomes machine-stopped.
func (e *Engine) StopMachine(ctx context.Context, name string) error {
	if name == "" {
		name = e.config().Machine.Name
	}
	machine.BusProgress(e.bus, name, "stop")("stopping podman machine")
	err := e.Machines().Stop(ctx, name)
	e.Refresh(ctx)
	return err
}

// Close stops the monitor and the service the engine started. Machines are left alone.
func (e *Engine) Close() error {
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		return e.closeErr
	}
	e.closed = true
	cancel, done := e.cancel, e.done
	e.mu.Unlock()
	if cancel != nil {
		cancel()
		<-done
	}
	e.discMu.Lock()
	defer e.discMu.Unlock()
	err := e.service.stop()
	e.mu.Lock()
	e.closeErr = err
	e.sess = nil
	e.mu.Unlock()
	return err
}

// poke makes the monitor check now (e.g. our service just died).
func (e *Engine) poke() {
	select {
	case e.kick <- struct{}{}:
	default:
	}
}

func (e *Engine) monitor(ctx context.Context) {
	defer close(e.done)
	e.check(ctx)
	tick := time.NewTicker(e.opts.PingInterval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		case <-e.kick:
		}
		e.check(ctx)
	}
}

// check pings a live session; anything else (or a failed ping) re-runs discovery.
func (e *Engine) check(ctx context.Context) {
	e.discMu.Lock()
	defer e.discMu.Unlock()
	if ctx.Err() != nil {
		return
	}
	e.mu.Lock()
	s := e.sess
	e.mu.Unlock()
	if s != nil {
		err := ping(ctx, s)
		if err == nil {
			return
		}
		if ctx.Err() != nil {
			return
		}
		e.log.Warn("podman stopped answering", "source", s.source, "uri", s.uri, "err", err)
		e.mu.Lock()
		e.sess = nil
		e.mu.Unlock()
		e.setState(State{Phase: PhaseError, Source: s.source, URI: s.uri, Machine: s.machine,
			Reason: "podman stopped answering: " + err.Error() + "; reconnecting"})
	}
	e.rediscoverLocked(ctx)
}

func (e *Engine) rediscoverLocked(ctx context.Context) {
	o := e.discover(ctx)
	if ctx.Err() != nil {
		return
	}
	if o.sess != nil {
		e.mu.Lock()
		e.sess = o.sess
		e.mu.Unlock()
		e.setState(State{Phase: PhaseReady, Source: o.sess.source, URI: o.sess.uri, Version: o.sess.version, Machine: o.sess.machine})
		// `podman info` can take seconds on a busy host: ready does not wait for it.
		go e.readHostInfo(ctx, o.sess)
	} else {
		e.mu.Lock()
		starting := e.machineStarting
		e.mu.Unlock()
		if starting && (o.state.Phase == PhaseMachineStopped || o.state.Phase == PhaseError) {
			// The monitor must not flash "stopped" while our own start is still booting it.
			o.state = State{Phase: PhaseStarting, Machine: o.state.Machine, Reason: "starting podman machine"}
		}
		// Keep a machine-start diagnosis visible while the machine is still down.
		prev := e.State()
		// A killed hung start can leave podman reporting the machine as "starting" for good.
		if prev.Diagnosis != nil && !starting && prev.Machine == o.state.Machine {
			o.state.Diagnosis, o.state.Reason, o.state.Hint = prev.Diagnosis, prev.Reason, prev.Hint
		}
		e.setState(o.state)
	}
	e.mu.Lock()
	first := !e.discovered
	e.discovered = true
	if first {
		close(e.changed)
		e.changed = make(chan struct{})
	}
	e.mu.Unlock()
}

// readHostInfo adds the server's HostInfo to the ready state of sess. A server that
// cannot say stays usable (Host.Known false; doctor says so).
// A failed `podman info` (a busy host can take longer than its timeout: podman looks up
// each helper's package) is tried again a few times, so doctor does not say "unknown"
// until the next reconnect.
func (e *Engine) readHostInfo(ctx context.Context, sess *session) {
	for _, wait := range []time.Duration{5 * time.Second, 15 * time.Second, 45 * time.Second, 0} {
		h, err := QueryHostInfo(ctx, sess.conn)
		if err == nil {
			e.setHostInfo(sess, h)
			return
		}
		if ctx.Err() != nil {
			return
		}
		e.log.Warn("podman info failed; rootless or rootful is unknown", "uri", sess.uri, "err", err)
		if !e.setHostInfo(sess, HostInfo{Error: err.Error()}) && !e.isCurrent(sess) {
			return
		}
		if wait == 0 {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
	}
}

// isCurrent says whether sess is still the engine's ready session.
func (e *Engine) isCurrent(sess *session) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.sess == sess && e.state.Phase == PhaseReady
}

// setHostInfo records h on the ready state of sess and reports whether it changed it.
func (e *Engine) setHostInfo(sess *session, h HostInfo) bool {
	// Checked and set under one lock: the engine may have moved on meanwhile.
	e.mu.Lock()
	if e.sess != sess || e.state.Phase != PhaseReady || e.state.Host == h {
		e.mu.Unlock()
		return false
	}
	st := e.state
	st.Host = h
	e.state = st
	close(e.changed)
	e.changed = make(chan struct{})
	e.mu.Unlock()
	e.log.Info("podman host", "uri", sess.uri, "rootless", h.Rootless, "storage", h.StorageDriver, "kernel", h.Kernel)
	if e.bus != nil {
		e.bus.Publish(TopicState, st)
	}
	return true
}

// HostInfo waits (within ctx) for the connected server's HostInfo; one whose `podman info`
// failed comes back with Known false and Error set.
func (e *Engine) HostInfo(ctx context.Context) (HostInfo, error) {
	st, err := e.WaitFor(ctx, func(s State) bool { return s.Phase == PhaseReady && (s.Host.Known || s.Host.Error != "") })
	if err != nil {
		return HostInfo{}, &NotReadyError{State: st}
	}
	return st.Host, nil
}

// setState records st and publishes it on the bus when it differs from the current one.
func (e *Engine) setState(st State) {
	e.mu.Lock()
	if st.same(e.state) {
		e.mu.Unlock()
		return
	}
	st.Since = time.Now()
	e.state = st
	close(e.changed)
	e.changed = make(chan struct{})
	e.mu.Unlock()
	e.log.Info("engine state", "phase", st.Phase, "source", st.Source, "uri", st.URI, "version", st.Version, "machine", st.Machine, "reason", st.Reason)
	if e.bus != nil {
		e.bus.Publish(TopicState, st)
	}
}

// step logs one discovery step: info when its result changed, debug when it repeats.
func (e *Engine) step(name, result string) {
	e.mu.Lock()
	prev, seen := e.steps[name]
	e.steps[name] = result
	e.mu.Unlock()
	if seen && prev == result {
		e.log.Debug("engine discovery", "step", name, "result", result)
		return
	}
	e.log.Info("engine discovery", "step", name, "result", result)
}

// valuesCtx carries the bindings connection values under the caller's cancellation.
type valuesCtx struct {
	context.Context
	values context.Context
}

func (c valuesCtx) Value(key any) any {
	if v := c.values.Value(key); v != nil {
		return v
	}
	return c.Context.Value(key)
}

func withValues(ctx context.Context, values context.Context) context.Context {
	return valuesCtx{Context: ctx, values: values}
}
