package agent

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"sync"
	"sync/atomic"
)

// Command is a process to start inside the loop's container.
type Command struct {
	Args []string
	// Env is KEY=VALUE for this exec only, and never a secret: podman keeps an exec's
	// environment in its state database and exec specs on disk. Secrets reach the
	// process through the loop's env file (loops: deliverSecrets, withSecretEnv).
	Env     []string
	User    string
	WorkDir string
	NoStdin bool // the process gets no stdin (reads see EOF at once)
}

// Process is a running exec'd process with piped stdio.
type Process interface {
	ID() string
	Stdin() io.WriteCloser
	Stdout() io.Reader
	Stderr() io.Reader
	// Wait blocks until the process exits and returns its exit code.
	Wait() (int, error)
	// Kill ends the process and its children.
	Kill(ctx context.Context) error
}

// Starter starts processes in a loop's container.
type Starter interface {
	StartProcess(ctx context.Context, cmd Command) (Process, error)
}

// Options select the CLI flags.
type Options struct {
	Binary          string // default "claude"
	Model           string
	PermissionMode  string
	Resume          string // claude session id to continue
	PartialMessages bool
	// PromptTool routes the CLI's permission questions to us over stdin/stdout
	// (--permission-prompt-tool stdio): see control.go.
	PromptTool bool
}

// Args is the argv of the long-lived stream-json CLI.
func Args(o Options) []string {
	bin := o.Binary
	if bin == "" {
		bin = "claude"
	}
	args := []string{bin, "-p", "--input-format", "stream-json", "--output-format", "stream-json", "--verbose"}
	if o.PartialMessages {
		args = append(args, "--include-partial-messages")
	}
	if o.PromptTool {
		args = append(args, "--permission-prompt-tool", "stdio")
	}
	// Allowing bypass lets a later set_permission_mode switch to it without a restart.
	args = append(args, "--allow-dangerously-skip-permissions")
	if o.PermissionMode != "" {
		args = append(args, "--permission-mode", o.PermissionMode)
	}
	if o.Resume != "" {
		args = append(args, "--resume", o.Resume)
	}
	if o.Model != "" {
		args = append(args, "--model", o.Model)
	}
	return args
}

// Exit describes how the process ended.
type Exit struct {
	Code       int
	Err        error
	StderrTail string
	Killed     bool // ended by Kill
}

// Session is one running CLI process serving many turns.
type Session struct {
	proc    Process
	model   string
	stdinMu sync.Mutex
	reqSeq  atomic.Int64
	killed  atomic.Bool
	done    chan struct{}
	exit    Exit
	stderr  *tailBuffer
}

// Start launches the CLI; onLine is called for each stdout line in order, onExit once
// after the process ended and all its lines were delivered.
func Start(ctx context.Context, st Starter, cmd Command, model string, onLine func(Line), onExit func(Exit)) (*Session, error) {
	proc, err := st.StartProcess(ctx, cmd)
	if err != nil {
		return nil, fmt.Errorf("start agent: %w", err)
	}
	s := &Session{proc: proc, model: model, done: make(chan struct{}), stderr: &tailBuffer{max: 4096}}
	var stderrDone sync.WaitGroup
	stderrDone.Add(1)
	go func() {
		defer stderrDone.Done()
		_, _ = io.Copy(s.stderr, proc.Stderr())
	}()
	go func() {
		sc := bufio.NewScanner(proc.Stdout())
		sc.Buffer(make([]byte, 64*1024), 64*1024*1024)
		for sc.Scan() {
			b := sc.Bytes()
			if len(strings.TrimSpace(string(b))) == 0 {
				continue
			}
			l, err := ParseLine(b, s.model)
			if err != nil && bytes.Contains(b, []byte(`"control_request"`)) {
				// A control request we cannot read still gets reported: the CLI waits for
				// its answer, so the turn must be ended rather than left hanging.
				l, err = Line{Type: "control_request", Control: &ControlRequest{Err: malformed("undecodable control line: %v", err)}}, nil
			}
			if l.Control != nil {
				l.Control.sess = s
			}
			if err != nil {
				// Non-JSON noise on stdout goes with stderr into crash reports.
				_, _ = s.stderr.Write(append(append([]byte(nil), b...), '\n'))
				continue
			}
			onLine(l)
		}
		code, werr := proc.Wait()
		stderrDone.Wait()
		s.exit = Exit{Code: code, Err: werr, StderrTail: s.stderr.String(), Killed: s.killed.Load()}
		close(s.done)
		if onExit != nil {
			onExit(s.exit)
		}
	}()
	return s, nil
}

// ID identifies the process (the exec session id): equal across turns of one process.
func (s *Session) ID() string { return s.proc.ID() }

// Done is closed when the process has exited.
func (s *Session) Done() <-chan struct{} { return s.done }

func (s *Session) writeLine(b []byte) error {
	s.stdinMu.Lock()
	defer s.stdinMu.Unlock()
	select {
	case <-s.done:
		return fmt.Errorf("agent process has exited")
	default:
	}
	if _, err := s.proc.Stdin().Write(append(b, '\n')); err != nil {
		return fmt.Errorf("write to agent: %w", err)
	}
	return nil
}

// Send starts a turn with a user message.
func (s *Session) Send(text string) error { return s.writeLine(UserLine(text)) }

// SendContent starts a turn with a user message of content blocks (text, image).
func (s *Session) SendContent(blocks []map[string]any) error {
	b, err := json.Marshal(map[string]any{
		"type":    "user",
		"message": map[string]any{"role": "user", "content": blocks},
	})
	if err != nil {
		return fmt.Errorf("encode user message: %w", err)
	}
	return s.writeLine(b)
}

// Interrupt asks the CLI to stop the current turn; it then emits a result.
func (s *Session) Interrupt() error {
	return s.writeLine(ControlLine(s.nextID(), map[string]any{"subtype": "interrupt"}))
}

// SetPermissionMode changes the mode of the running CLI.
func (s *Session) SetPermissionMode(mode string) error {
	return s.writeLine(ControlLine(s.nextID(), map[string]any{"subtype": "set_permission_mode", "mode": mode}))
}

func (s *Session) nextID() string { return fmt.Sprintf("loopat-%d", s.reqSeq.Add(1)) }

// Kill ends the process (and its children) and waits for it.
func (s *Session) Kill(ctx context.Context) error {
	s.killed.Store(true)
	err := s.proc.Kill(ctx)
	_ = s.proc.Stdin().Close()
	select {
	case <-s.done:
	case <-ctx.Done():
		return fmt.Errorf("kill agent: %w", ctx.Err())
	}
	return err
}

// tailBuffer keeps the last max bytes written.
type tailBuffer struct {
	mu  sync.Mutex
	max int
	buf []byte
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	if len(t.buf) > t.max {
		t.buf = append([]byte(nil), t.buf[len(t.buf)-t.max:]...)
	}
	return len(p), nil
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return strings.TrimSpace(string(t.buf))
}
