package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/containers/podman/v5/pkg/bindings"

	"github.com/loopat/desktop/backend/machine"
)

// target is one way to reach a podman API.
type target struct {
	source   string
	uri      string
	identity string
	machine  string // machine name when the target is a podman machine
}

// session is a live connection.
type session struct {
	target
	conn    context.Context // bindings connection values, never cancelled
	version string
}

const pingTimeout = 3 * time.Second

// dial connects and pings (bindings.NewConnection pings /_ping and checks the API version).
func dial(ctx context.Context, t target) (*session, error) {
	if err := socketAlive(t.uri); err != nil {
		return nil, err
	}
	pctx, cancel := context.WithTimeout(ctx, pingTimeout)
	defer cancel()
	conn, err := bindings.NewConnectionWithOptions(pctx, bindings.Options{URI: t.uri, Identity: t.identity, Machine: t.machine != ""})
	if err != nil {
		return nil, err
	}
	version := ""
	if v := bindings.ServiceVersion(conn); v != nil && v.Major > 0 {
		version = v.String()
	}
	return &session{target: t, conn: context.WithoutCancel(conn), version: version}, nil
}

// ping checks that a session still answers.
func ping(ctx context.Context, s *session) error {
	if err := socketAlive(s.uri); err != nil {
		return err
	}
	client, err := bindings.GetClient(s.conn)
	if err != nil {
		return err
	}
	pctx, cancel := context.WithTimeout(ctx, pingTimeout)
	defer cancel()
	resp, err := client.DoRequest(pctx, nil, http.MethodGet, "/_ping", nil, nil)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("ping answered %d", resp.StatusCode)
	}
	return nil
}

// socketAlive fails fast on a dead unix socket: the bindings retry a failed request for
// 600 ms, which would delay both noticing a loss and stepping through discovery.
func socketAlive(uri string) error {
	path, ok := strings.CutPrefix(uri, "unix://")
	if !ok {
		return nil
	}
	c, err := net.DialTimeout("unix", path, pingTimeout)
	if err != nil {
		return err
	}
	return c.Close()
}

// outcome of one discovery run: a session, or the state explaining why there is none.
type outcome struct {
	sess  *session
	state State
}

// discover runs the discovery chain once. Each step is logged (info when its result
// changes, debug when it repeats, so the 2 s retry loop does not flood the log).
func (e *Engine) discover(ctx context.Context) outcome {
	// 1. An explicit URL wins and is used exclusively: falling back elsewhere would
	// silently run loops on a different engine than the user chose.
	if uri := e.opts.Getenv("CONTAINER_HOST"); uri != "" {
		return e.explicit(ctx, target{source: SourceContainerHost, uri: uri, identity: e.opts.Getenv("CONTAINER_SSHKEY")})
	}
	e.step("CONTAINER_HOST", "unset")
	cfg := e.config()
	if cfg.Engine.URL != "" {
		return e.explicit(ctx, target{source: SourceConfig, uri: cfg.Engine.URL})
	}
	e.step("config engine.url", "unset")

	podman, found := findPodman(cfg.Engine.Podman, e.opts.GOOS, e.opts.LookPath)
	e.setPodman(podman)
	if !found {
		e.step("podman executable", "not found: "+podman)
	} else {
		e.step("podman executable", podman)
	}
	machineOS := usesMachine(e.opts.GOOS)
	if !found && machineOS {
		return outcome{state: State{Phase: PhaseAbsent, Reason: "podman is not installed", Hint: InstallHint(e.opts.GOOS)}}
	}

	// 2. The default `podman system connection`.
	var stoppedMachine *State
	if found {
		conn, err := e.defaultConnection(ctx, podman)
		switch {
		case err != nil:
			e.step("default connection", "error: "+err.Error())
		case conn == nil:
			e.step("default connection", "none")
		default:
			t := target{source: SourceConnection + ":" + conn.Name, uri: conn.URI, identity: conn.Identity}
			if conn.IsMachine {
				t.machine = strings.TrimSuffix(conn.Name, "-root")
			}
			s, err := dial(ctx, t)
			if err == nil {
				e.step("default connection", "connected "+conn.Name+" "+conn.URI)
				return outcome{sess: s}
			}
			e.step("default connection", fmt.Sprintf("%s %s unreachable: %v", conn.Name, conn.URI, err))
			if conn.IsMachine {
				if st, ok := e.machineState(ctx, t.machine); ok {
					stoppedMachine = &st
				}
			}
		}
	}

	// 3. Where podman lives in a VM: the running machine's forwarded socket.
	if machineOS {
		return e.fromMachine(ctx, stoppedMachine)
	}
	e.step("machine socket", "skipped on "+e.opts.GOOS)
	if stoppedMachine != nil {
		// Linux whose default connection is a machine: report it instead of bypassing it.
		return outcome{state: *stoppedMachine}
	}

	// 4. Linux rootless socket.
	if dir := e.opts.Getenv("XDG_RUNTIME_DIR"); dir != "" {
		if o, ok := e.trySocket(ctx, SourceRootless, filepath.Join(dir, "podman", "podman.sock")); ok {
			return o
		}
	} else {
		e.step(SourceRootless, "XDG_RUNTIME_DIR unset")
	}
	// 5. Rootful socket.
	if o, ok := e.trySocket(ctx, SourceRootful, e.opts.RootfulSocket); ok {
		return o
	}
	// 6. Our own supervised service.
	if !found {
		return outcome{state: State{Phase: PhaseAbsent, Reason: "podman is not installed and no podman socket is available", Hint: InstallHint(e.opts.GOOS)}}
	}
	return e.fromOwnService(ctx, podman)
}

func (e *Engine) explicit(ctx context.Context, t target) outcome {
	s, err := dial(ctx, t)
	if err != nil {
		e.step(t.source, "unreachable "+t.uri+": "+err.Error())
		return outcome{state: State{Phase: PhaseError, Source: t.source, URI: t.uri,
			Reason: fmt.Sprintf("%s %s is not reachable: %v", t.source, t.uri, err),
			Hint:   fmt.Sprintf("start podman there, or clear %s so loopat finds or starts podman itself", t.source)}}
	}
	e.step(t.source, "connected "+t.uri)
	return outcome{sess: s}
}

func (e *Engine) trySocket(ctx context.Context, source, path string) (outcome, bool) {
	if _, err := os.Stat(path); err != nil {
		e.step(source, "no socket at "+path)
		return outcome{}, false
	}
	s, err := dial(ctx, target{source: source, uri: "unix://" + path})
	if err != nil {
		e.step(source, fmt.Sprintf("%s unreachable: %v", path, err))
		return outcome{}, false
	}
	e.step(source, "connected "+path)
	return outcome{sess: s}, true
}

// connection mirrors `podman system connection list --format json` entries.
type connection struct {
	Name      string
	URI       string
	Identity  string
	IsMachine bool
	Default   bool
}

func (e *Engine) defaultConnection(ctx context.Context, podman string) (*connection, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, podman, "system", "connection", "list", "--format", "json").Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return nil, fmt.Errorf("podman system connection list: %w: %s", err, strings.TrimSpace(string(ee.Stderr)))
		}
		return nil, fmt.Errorf("podman system connection list: %w", err)
	}
	return parseDefaultConnection(out)
}

func parseDefaultConnection(out []byte) (*connection, error) {
	var list []connection
	if err := json.Unmarshal(out, &list); err != nil {
		return nil, fmt.Errorf("parse podman system connection list: %w", err)
	}
	for i := range list {
		if list[i].Default {
			return &list[i], nil
		}
	}
	return nil, nil
}

// machineState turns a non-running machine into a State (ok=false when it runs).
func (e *Engine) machineState(ctx context.Context, name string) (State, bool) {
	list, err := e.Machines().List(ctx)
	if err != nil {
		e.step("machine list", "error: "+err.Error())
		return State{}, false
	}
	m, ok := machine.Pick(list, name)
	if !ok {
		return State{Phase: PhaseAbsent, Machine: name, Reason: fmt.Sprintf("podman machine %q does not exist", name), Hint: NoMachineHint}, true
	}
	switch {
	case m.Running:
		return State{}, false
	case m.Starting:
		return State{Phase: PhaseStarting, Machine: m.Name, Reason: fmt.Sprintf("podman machine %q is starting", m.Name)}, true
	default:
		return State{Phase: PhaseMachineStopped, Machine: m.Name, Reason: fmt.Sprintf("podman machine %q is not running", m.Name), Hint: MachineStoppedHint}, true
	}
}

// fromMachine finds the running machine and connects to its forwarded API socket.
func (e *Engine) fromMachine(ctx context.Context, known *State) outcome {
	list, err := e.Machines().List(ctx)
	if err != nil {
		e.step("machine socket", "machine list failed: "+err.Error())
		if known != nil {
			return outcome{state: *known}
		}
		return outcome{state: State{Phase: PhaseError, Reason: "cannot list podman machines: " + err.Error(),
			Hint: "check that podman works in a terminal: podman machine list"}}
	}
	name := e.config().Machine.Name
	m, ok := machine.Pick(list, name)
	if !ok {
		e.step("machine socket", "no machine")
		reason := "no podman machine has been created yet"
		if name != "" {
			reason = fmt.Sprintf("podman machine %q does not exist", name)
		}
		return outcome{state: State{Phase: PhaseAbsent, Reason: reason, Hint: NoMachineHint}}
	}
	if !m.Running {
		e.step("machine socket", "machine "+m.Name+" not running")
		if m.Starting {
			return outcome{state: State{Phase: PhaseStarting, Machine: m.Name, Reason: fmt.Sprintf("podman machine %q is starting", m.Name)}}
		}
		return outcome{state: State{Phase: PhaseMachineStopped, Machine: m.Name,
			Reason: fmt.Sprintf("podman machine %q is not running", m.Name), Hint: MachineStoppedHint}}
	}
	in, err := e.Machines().Inspect(ctx, m.Name)
	if err != nil || in.Socket == "" {
		e.step("machine socket", fmt.Sprintf("inspect %s: socket %q err %v", m.Name, in.Socket, err))
		return outcome{state: State{Phase: PhaseError, Machine: m.Name,
			Reason: fmt.Sprintf("podman machine %q runs but its API socket is unknown: %v", m.Name, err),
			Hint:   "restart it: podman machine stop && podman machine start"}}
	}
	s, err := dial(ctx, target{source: SourceMachine + ":" + m.Name, uri: "unix://" + in.Socket, machine: m.Name})
	if err != nil {
		e.step("machine socket", fmt.Sprintf("%s unreachable: %v", in.Socket, err))
		return outcome{state: State{Phase: PhaseError, Machine: m.Name, URI: "unix://" + in.Socket,
			Reason: fmt.Sprintf("podman machine %q runs but its API socket does not answer: %v", m.Name, err),
			Hint:   "restart it: podman machine stop && podman machine start"}}
	}
	e.step("machine socket", "connected "+in.Socket)
	return outcome{sess: s}
}

func (e *Engine) fromOwnService(ctx context.Context, podman string) outcome {
	svc := e.service
	// Adopt a service on our socket that outlived an earlier run of the app.
	if !svc.running() {
		if s, err := dial(ctx, target{source: SourceOwnService, uri: svc.URI()}); err == nil {
			e.step(SourceOwnService, "adopted running service on "+svc.socket)
			return outcome{sess: s}
		}
		if wait := svc.backoff(); wait > 0 && time.Since(e.lastServiceTry) < wait {
			return outcome{state: State{Phase: PhaseError, Source: SourceOwnService,
				Reason: "podman system service keeps exiting: " + svc.logTail(),
				Hint:   "run `podman system service --time=0` in a terminal to see why; `podman info` must work"}}
		}
	}
	e.lastServiceTry = time.Now()
	if !svc.running() {
		e.setState(State{Phase: PhaseStarting, Source: SourceOwnService, URI: svc.URI(), Reason: "starting podman system service"})
	}
	if err := svc.ensure(ctx, podman); err != nil {
		e.step(SourceOwnService, "failed: "+err.Error())
		return outcome{state: State{Phase: PhaseError, Source: SourceOwnService, URI: svc.URI(), Reason: err.Error(),
			Hint: "run `podman info` in a terminal: podman itself must work"}}
	}
	s, err := dial(ctx, target{source: SourceOwnService, uri: svc.URI()})
	if err != nil {
		e.step(SourceOwnService, "unreachable: "+err.Error())
		return outcome{state: State{Phase: PhaseError, Source: SourceOwnService, URI: svc.URI(),
			Reason: "own podman service does not answer: " + err.Error(), Hint: "see " + svc.logPath}}
	}
	e.step(SourceOwnService, fmt.Sprintf("connected %s (pid %d)", svc.socket, svc.pid()))
	return outcome{sess: s}
}
