package hostexec

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/loopat/desktop/backend/config"
	"github.com/loopat/desktop/backend/events"
	"github.com/loopat/desktop/backend/hostexec/wire"
	"github.com/loopat/desktop/backend/link"
	"github.com/loopat/desktop/backend/shellpath"
)

// Exit codes the forwarder returns for host-side failures (shell conventions).
const (
	ExitTimeout  = 124 // the call ran past Policy.Timeout
	ExitRefused  = 126 // refused by policy or malformed request
	ExitNotFound = 127 // the CLI does not exist on the host
)

// requestTimeout bounds how long a new stream may take to send its request.
const requestTimeout = 10 * time.Second

// forwardedEnv are the only variables a loop may set for the host process.
var forwardedEnv = map[string]bool{"TERM": true, "COLUMNS": true, "LINES": true, "NO_COLOR": true, "FORCE_COLOR": true, "CLICOLOR": true}

// Server runs host CLIs for attached loops.
type Server struct {
	ws  config.Workspace
	bus events.Publisher
	log *slog.Logger

	// RelayCommand starts the in-sandbox relay (Attach). Default: loopat-host relay.
	RelayCommand []string
	// RelayUser runs the relay as this user; "" = the container's user.
	RelayUser string
	// GatewayAddr, when set, makes the relay also listen on this TCP address inside
	// the sandbox and forward those connections as link.TagGateway streams.
	GatewayAddr string
	// ReadyTimeout bounds how long Attach waits for the relay's hello.
	ReadyTimeout time.Duration
	// KillGrace is how long a signalled process may take before SIGKILL.
	KillGrace time.Duration
	// MaxHostProcs caps a loop's concurrent host-exec calls (default MaxHostProcs).
	MaxHostProcs int

	mu       sync.Mutex
	scrub    func(string) string
	policies map[string]Policy
	links    map[string]*link.Session
	extra    map[byte]TagHandler
	warned   map[string]time.Time

	slots   slots
	auditMu sync.Mutex
}

// NewServer returns a server for workspace ws publishing audit events on bus (may be nil).
func NewServer(ws config.Workspace, bus events.Publisher) *Server {
	defaultSignalsForChildren()
	return &Server{
		ws: ws, bus: bus, log: slog.Default().With("component", "hostexec"),
		RelayCommand: []string{"loopat-host", "relay"},
		ReadyTimeout: 20 * time.Second,
		KillGrace:    2 * time.Second,
		MaxHostProcs: MaxHostProcs,
		policies:     map[string]Policy{},
		links:        map[string]*link.Session{},
		extra:        map[byte]TagHandler{},
		warned:       map[string]time.Time{},
	}
}

// SetScrubber installs f to mask secrets in audited arguments and errors.
func (s *Server) SetScrubber(f func(string) string) {
	s.mu.Lock()
	s.scrub = f
	s.mu.Unlock()
}

func (s *Server) scrubber() func(string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.scrub
}

// SetPolicy replaces a loop's policy; calls already running keep the old one.
func (s *Server) SetPolicy(loopID string, p Policy) {
	s.mu.Lock()
	s.policies[loopID] = p
	s.mu.Unlock()
}

func (s *Server) policy(loopID string) (Policy, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, ok := s.policies[loopID]
	return p, ok
}

// HandleTag serves streams of another service (e.g. link.TagGateway) on every link
// attached from now on, at most h.Max at once per loop; h learns which loop the
// stream belongs to.
func (s *Server) HandleTag(tag byte, h TagHandler) {
	s.mu.Lock()
	s.extra[tag] = h
	s.mu.Unlock()
}

// Bind serves loop loopID's host-exec streams arriving on sess under policy p,
// replacing (and closing) the loop's previous link. Attach calls it; it is exported
// for transports other than podman exec.
func (s *Server) Bind(loopID string, p Policy, sess *link.Session) error {
	if err := validLoopID(loopID); err != nil {
		return err
	}
	sess.Handle(link.TagHostExec, func(c net.Conn) { s.ServeConn(loopID, c) })
	s.mu.Lock()
	for tag, h := range s.extra {
		sess.Handle(tag, func(c net.Conn) { s.serveTag(loopID, tag, h, c) })
	}
	old := s.links[loopID]
	s.links[loopID] = sess
	s.policies[loopID] = p
	s.mu.Unlock()
	if old != nil && old != sess {
		old.Close()
	}
	return nil
}

// Link is loopID's current link (nil when it has none): the host opens its own
// streams on it (port forwarding).
func (s *Server) Link(loopID string) *link.Session {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.links[loopID]
}

// unbind forgets sess if it is still the loop's current link.
func (s *Server) unbind(loopID string, sess *link.Session) {
	s.mu.Lock()
	if s.links[loopID] == sess {
		delete(s.links, loopID)
	}
	s.mu.Unlock()
}

// Detach closes a loop's link and revokes its policy.
func (s *Server) Detach(loopID string) {
	s.mu.Lock()
	sess := s.links[loopID]
	delete(s.links, loopID)
	delete(s.policies, loopID)
	s.mu.Unlock()
	if sess != nil {
		sess.Close()
	}
}

// WorkDir is where a loop's host CLIs run: LOOPAT_HOME/loops/<id>/host-workdir.
func (s *Server) WorkDir(loopID string) string {
	return filepath.Join(s.ws.LoopsDir(), loopID, "host-workdir")
}

// call is the state of one request on one stream.
type call struct {
	s      *Server
	loopID string
	conn   net.Conn
	fw     *wire.Writer
	start  time.Time
	entry  AuditEntry
	in     atomic.Int64
	out    atomic.Int64
}

// ServeConn serves one host-exec call for loopID on c (identity = the caller's
// link, never the request) and closes c.
func (s *Server) ServeConn(loopID string, c net.Conn) {
	defer func() {
		// Unblock our frame reader even if the client keeps its end open.
		_ = c.SetReadDeadline(time.Now())
		c.Close()
	}()
	cl := &call{s: s, loopID: loopID, conn: c, fw: wire.NewWriter(c), start: time.Now()}
	cl.entry = AuditEntry{Loop: loopID, Args: []string{}}
	var code int
	var err error
	// The cap is checked before the request is even read: a refused call costs
	// nothing but this answer.
	if release, ok := s.slots.acquire(loopID, link.TagHostExec, max(s.MaxHostProcs, 1)); ok {
		code, err = cl.serve()
		release()
	} else {
		limit := max(s.MaxHostProcs, 1)
		code, err = refuse(ExitRefused, "refused: this loop already runs %d host processes (limit %d); retry when one ends", limit, limit)
		s.warnRefusal(loopID, err.Error())
	}
	cl.entry.TS = cl.start.UTC()
	cl.entry.Exit = code
	cl.entry.DurationMs = time.Since(cl.start).Milliseconds()
	cl.entry.BytesIn = cl.in.Load()
	cl.entry.BytesOut = cl.out.Load()
	msg := ""
	if err != nil {
		msg = err.Error()
		cl.entry.Error = msg
	}
	// Audit first: when the caller sees the result, the record exists.
	s.record(cl.entry)
	// A peer that stopped reading must not pin this goroutine and its stream.
	_ = c.SetWriteDeadline(time.Now().Add(refuseWriteTimeout))
	if werr := cl.fw.Frame(wire.TypeExit, wire.EncodeExit(wire.Exit{Code: int32(code), Message: msg})); werr != nil {
		s.log.Debug("host-exec send exit", "loop", loopID, "err", werr)
	}
}

// refusal is an error with the exit code the forwarder should return.
func refuse(code int, format string, a ...any) (int, error) {
	return code, fmt.Errorf(format, a...)
}

func (cl *call) serve() (int, error) {
	r := wire.NewReader(cl.conn)
	_ = cl.conn.SetReadDeadline(time.Now().Add(requestTimeout))
	typ, p, err := wire.ReadFrame(r, wire.MaxRequest)
	if err != nil {
		return refuse(ExitRefused, "malformed request: %v", err)
	}
	_ = cl.conn.SetReadDeadline(time.Time{})
	if typ != wire.TypeRequest {
		return refuse(ExitRefused, "malformed request: first frame is %q, want a request", typ)
	}
	req, err := wire.DecodeRequest(p)
	if err != nil {
		return refuse(ExitRefused, "%v", err)
	}
	cli := req.Argv[0]
	cl.entry.CLI = cli
	cl.entry.Args = append([]string{}, req.Argv[1:]...)
	cl.entry.Cwd = req.Cwd
	if req.LoopID != "" && req.LoopID != cl.loopID {
		return refuse(ExitRefused, "refused: this sandbox is loop %q and cannot act as loop %q", cl.loopID, req.LoopID)
	}
	pol, ok := cl.s.policy(cl.loopID)
	if !ok || !pol.Enabled {
		return refuse(ExitRefused, "refused: host exec is not enabled for loop %q", cl.loopID)
	}
	if !ValidCLIName(cli) {
		return refuse(ExitRefused, "refused: %q is not a plain command name", shorten(cli, 64))
	}
	if !pol.allows(cli) {
		return refuse(ExitRefused, "refused: host CLI '%s' is not declared for this loop (add it to [host].clis)", cli)
	}
	for _, a := range req.Argv {
		if strings.IndexByte(a, 0) >= 0 {
			return refuse(ExitRefused, "malformed request: argument contains a NUL byte")
		}
	}
	// Where to find the allowed CLI: the user's login-shell PATH too (a Finder-launched
	// macOS app has a short one). What may run is decided above and unchanged.
	path, err := shellpath.LookPath(cli)
	if err != nil {
		return refuse(ExitNotFound, "host has no '%s'", cli)
	}
	dir := cl.s.WorkDir(cl.loopID)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return refuse(ExitRefused, "create host workdir: %v", err)
	}
	return cl.run(r, path, req, pol, dir)
}

// countingWriter counts bytes passed to w.
type countingWriter struct {
	w io.Writer
	n *atomic.Int64
}

func (c countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n.Add(int64(n))
	return n, err
}

func (cl *call) run(r io.Reader, path string, req wire.Request, pol Policy, dir string) (int, error) {
	cmd := exec.Command(path, req.Argv[1:]...)
	cmd.Args[0] = req.Argv[0]
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "PATH="+shellpath.PATH(), "LOOPAT_LOOP_ID="+cl.loopID)
	for _, kv := range req.Env {
		if k, _, ok := strings.Cut(kv, "="); ok && forwardedEnv[k] {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Stdout = countingWriter{cl.fw.Stream(wire.TypeStdout), &cl.out}
	cmd.Stderr = countingWriter{cl.fw.Stream(wire.TypeStderr), &cl.out}
	// Bounded wait for pipes a backgrounded grandchild may hold open.
	cmd.WaitDelay = cl.s.KillGrace
	ownGroup(cmd)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return refuse(ExitRefused, "stdin pipe: %v", err)
	}
	if err := cmd.Start(); err != nil {
		return refuse(ExitRefused, "start '%s': %v", req.Argv[0], err)
	}

	var (
		mu       sync.Mutex
		exited   bool // the leader exited: its group id may soon belong to someone else
		stopping bool
		reason   error
		code     = -1
		kill     *time.Timer
	)
	finished := make(chan struct{})
	// stop signals the process group and escalates to SIGKILL after the grace
	// period. The whole group goes: a child that ignores the signal (e.g. a shell's
	// background job ignoring SIGINT) must not outlive the call. Every signal is
	// sent under mu while !exited, and the escalation timer is stopped once the
	// process exits, so no signal can reach a reused process group.
	stop := func(why error, exitCode int, sig syscall.Signal) {
		mu.Lock()
		defer mu.Unlock()
		if exited {
			return
		}
		if reason == nil && why != nil {
			reason, code = why, exitCode
		}
		stopping = true
		signalGroup(cmd, sig)
		if kill == nil {
			kill = time.AfterFunc(cl.s.KillGrace, func() {
				mu.Lock()
				defer mu.Unlock()
				if !exited {
					signalGroup(cmd, syscall.SIGKILL)
				}
			})
		}
	}
	if pol.Timeout > 0 {
		t := time.AfterFunc(pol.Timeout, func() {
			stop(fmt.Errorf("timed out after %s", pol.Timeout), ExitTimeout, syscall.SIGTERM)
		})
		defer t.Stop()
	}

	// stdin is fed from a queue so a process that does not read its stdin never
	// blocks the frame reader (signals and disconnects must still get through).
	stdinQ := make(chan []byte, 16)
	go func() {
		for b := range stdinQ {
			_, _ = stdin.Write(b) // a process that closed stdin just drops input
		}
		stdin.Close()
	}()
	go func() {
		stdinOpen := true
		closeQ := func() {
			if stdinOpen {
				stdinOpen = false
				close(stdinQ)
			}
		}
		defer closeQ()
		for {
			typ, p, err := wire.ReadFrame(r, wire.MaxData)
			if err != nil {
				select {
				case <-finished: // we closed the stream ourselves
				default:
					stop(errors.New("client disconnected"), -1, syscall.SIGTERM)
				}
				return
			}
			switch typ {
			case wire.TypeStdin:
				if !stdinOpen {
					continue // data after EOF: ignore
				}
				cl.in.Add(int64(len(p)))
				select {
				case stdinQ <- p:
				case <-finished:
					return
				}
			case wire.TypeStdinEOF:
				closeQ()
			case wire.TypeSignal:
				if len(p) == 1 && allowedSignal(syscall.Signal(p[0])) {
					stop(nil, 0, syscall.Signal(p[0]))
				}
			default:
				stop(fmt.Errorf("malformed frame %q from client", typ), ExitRefused, syscall.SIGTERM)
				return
			}
		}
	}()

	// Learn that the leader exited without reaping it: while it is a zombie its pid,
	// and so the group id, cannot be reused, which makes the last group kill safe.
	var waitErr error
	reaped := !waitExited(cmd)
	if reaped { // no WNOWAIT here: reap first, the old order
		waitErr = cmd.Wait()
	}
	mu.Lock()
	exited = true
	if kill != nil {
		kill.Stop()
	}
	why, forced, stopped := reason, code, stopping
	if stopped {
		signalGroup(cmd, syscall.SIGKILL) // stragglers of a stopped call
	}
	mu.Unlock()
	if !reaped {
		waitErr = cmd.Wait()
	}
	close(finished)

	exit := exitCode(cmd, waitErr)
	if why != nil {
		if forced >= 0 {
			exit = forced
		}
		return exit, why
	}
	if waitErr != nil && cmd.ProcessState == nil {
		return exit, fmt.Errorf("wait '%s': %w", req.Argv[0], waitErr)
	}
	return exit, nil
}

// shorten cuts a loop-sent string quoted into an error message.
func shorten(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

func allowedSignal(sig syscall.Signal) bool {
	switch sig {
	case syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGQUIT:
		return true
	}
	return false
}

// exitCode maps a finished process to a shell-style status (128+signal if killed).
func exitCode(cmd *exec.Cmd, waitErr error) int {
	ps := cmd.ProcessState
	if ps == nil {
		return ExitRefused
	}
	if ws, ok := ps.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	return ps.ExitCode()
}
