// Package terminal runs interactive shells (exec with a TTY) in loop containers and
// streams their output as base64 "term:<session>:data" events.
package terminal

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/loopat/desktop/backend/events"
	"github.com/loopat/desktop/backend/loops"
)

// TTY is a process with a terminal (loops.ExecProcess).
type TTY interface {
	Stdin() io.WriteCloser
	Stdout() io.Reader
	Resize(ctx context.Context, cols, rows int) error
	Kill(ctx context.Context) error
	Wait() (int, error)
}

// Runner starts TTY processes in a loop's container (loops.Manager via ManagerRunner).
type Runner interface {
	ExecTTY(ctx context.Context, loopID string, args []string, cols, rows int) (TTY, error)
	TerminalOpened(loopID string)
	TerminalClosed(loopID string)
}

// ManagerRunner adapts *loops.Manager to Runner.
type ManagerRunner struct{ M *loops.Manager }

func (r ManagerRunner) ExecTTY(ctx context.Context, id string, args []string, cols, rows int) (TTY, error) {
	return r.M.ExecTTY(ctx, id, args, cols, rows)
}
func (r ManagerRunner) TerminalOpened(id string) { r.M.TerminalOpened(id) }
func (r ManagerRunner) TerminalClosed(id string) { r.M.TerminalClosed(id) }

// Shell is the command of a terminal session.
var Shell = []string{"bash", "-l"}

// Exit is the payload of "term:<session>:exit".
type Exit struct {
	Code  int    `json:"code"`
	Error string `json:"error,omitempty"`
}

type session struct {
	loopID string
	tty    TTY
}

// Manager holds the open terminal sessions.
type Manager struct {
	run  Runner
	pub  events.Publisher
	log  *slog.Logger
	mu   sync.Mutex
	sess map[string]*session
}

// NewManager returns an empty terminal manager.
func NewManager(run Runner, pub events.Publisher, log *slog.Logger) *Manager {
	if log == nil {
		log = slog.Default()
	}
	return &Manager{run: run, pub: pub, log: log.With("component", "terminal"), sess: map[string]*session{}}
}

// Open starts a login shell in the loop's container and returns the session id. Output
// goes out as "term:<id>:data" (base64) and the end as "term:<id>:exit".
func (m *Manager) Open(ctx context.Context, loopID string, cols, rows int) (string, error) {
	if cols <= 0 || rows <= 0 {
		cols, rows = 80, 24
	}
	tty, err := m.run.ExecTTY(ctx, loopID, Shell, cols, rows)
	if err != nil {
		return "", fmt.Errorf("open terminal: %w", err)
	}
	id := uuid.NewString()
	m.mu.Lock()
	m.sess[id] = &session{loopID: loopID, tty: tty}
	m.mu.Unlock()
	m.run.TerminalOpened(loopID)
	// The size given at create is not applied by every podman version: set it again.
	go func() {
		rctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		for i := 0; i < 20; i++ {
			if tty.Resize(rctx, cols, rows) == nil {
				return
			}
			time.Sleep(50 * time.Millisecond)
		}
	}()
	go m.pump(id, loopID, tty)
	return id, nil
}

func (m *Manager) pump(id, loopID string, tty TTY) {
	buf := make([]byte, 32*1024)
	out := tty.Stdout()
	for {
		n, err := out.Read(buf)
		if n > 0 {
			m.pub.Publish(events.TermTopic(id, events.TermData), base64.StdEncoding.EncodeToString(buf[:n]))
		}
		if err != nil {
			break
		}
	}
	code, err := tty.Wait()
	ex := Exit{Code: code}
	if err != nil {
		ex.Error = err.Error()
	}
	m.mu.Lock()
	_, open := m.sess[id]
	delete(m.sess, id)
	m.mu.Unlock()
	if open {
		m.run.TerminalClosed(loopID)
	}
	m.pub.Publish(events.TermTopic(id, events.TermExit), ex)
}

func (m *Manager) get(id string) (*session, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	s := m.sess[id]
	if s == nil {
		return nil, fmt.Errorf("terminal session %q is not open", id)
	}
	return s, nil
}

// Write sends base64-encoded input to the shell.
func (m *Manager) Write(id, dataBase64 string) error {
	s, err := m.get(id)
	if err != nil {
		return err
	}
	data, err := base64.StdEncoding.DecodeString(dataBase64)
	if err != nil {
		return fmt.Errorf("terminal input is not base64: %w", err)
	}
	if _, err := s.tty.Stdin().Write(data); err != nil {
		return fmt.Errorf("write to terminal: %w", err)
	}
	return nil
}

// Resize changes the terminal size.
func (m *Manager) Resize(ctx context.Context, id string, cols, rows int) error {
	if cols <= 0 || rows <= 0 || cols > 1000 || rows > 1000 {
		return fmt.Errorf("terminal size %dx%d is out of range", cols, rows)
	}
	s, err := m.get(id)
	if err != nil {
		return err
	}
	return s.tty.Resize(ctx, cols, rows)
}

// Close ends the shell and its children.
func (m *Manager) Close(ctx context.Context, id string) error {
	m.mu.Lock()
	s := m.sess[id]
	delete(m.sess, id)
	m.mu.Unlock()
	if s == nil {
		return errors.New("terminal session is not open")
	}
	m.run.TerminalClosed(s.loopID)
	_ = s.tty.Stdin().Close()
	return s.tty.Kill(ctx)
}

// CloseAll ends every session (app shutdown).
func (m *Manager) CloseAll(ctx context.Context) {
	m.mu.Lock()
	ids := make([]string, 0, len(m.sess))
	for id := range m.sess {
		ids = append(ids, id)
	}
	m.mu.Unlock()
	for _, id := range ids {
		_ = m.Close(ctx, id)
	}
}
