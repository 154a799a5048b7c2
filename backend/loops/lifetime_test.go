package loops

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/zalando/go-keyring"

	"github.com/loopat/desktop/backend/config"
	"github.com/loopat/desktop/backend/events"
	"github.com/loopat/desktop/backend/vault"
)

// stuckConn is an engine that is down; its first caller (the first turn's start)
// reports entering and then hangs until its context ends: a start in flight. Later
// callers (Archive's container stop, a later turn) fail at once.
type stuckConn struct{ entered, token chan struct{} }

func newStuckConn() stuckConn {
	c := stuckConn{entered: make(chan struct{}, 1), token: make(chan struct{}, 1)}
	c.token <- struct{}{}
	return c
}

func (c stuckConn) Conn(ctx context.Context) (context.Context, error) {
	select {
	case <-c.token:
	default:
		return nil, errors.New("podman socket not found")
	}
	c.entered <- struct{}{}
	<-ctx.Done()
	return nil, fmt.Errorf("engine wait: %w", ctx.Err())
}

// managerStuckInStart returns a manager whose loop has a turn blocked in its start.
func managerStuckInStart(t *testing.T) (*Manager, string) {
	t.Helper()
	ws, _ := config.NewWorkspace(filepath.Join(t.TempDir(), "ws"))
	keyring.MockInit()
	v := vault.New(ws, vault.OSKeyring())
	if err := v.SetEnv("default", "ANTHROPIC_API_KEY", "k"); err != nil {
		t.Fatal(err)
	}
	conn := newStuckConn()
	m, err := NewManager(Options{Workspace: ws, Conn: conn, Secrets: v, Events: events.New(), IdleCheck: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.Close)
	meta, err := m.Create(CreateRequest{Title: "stuck"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.Send(meta.ID, "hello"); err != nil {
		t.Fatal(err)
	}
	select {
	case <-conn.entered:
	case <-time.After(10 * time.Second):
		t.Fatal("the turn never reached the engine")
	}
	return m, meta.ID
}

// settleGoroutines is a goleak-style check: it waits until no goroutine but the
// caller runs code of the loops or agent packages, and at most n goroutines run in all
// (n is taken before the manager existed).
func settleGoroutines(t *testing.T, n int, d time.Duration) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		left := ownGoroutines()
		if len(left) == 0 && (n < 0 || runtime.NumGoroutine() <= n) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("goroutines left (%d in all, %d before the manager):\n%s", runtime.NumGoroutine(), n, strings.Join(left, "\n\n"))
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// ownGoroutines are the stacks, other than the caller's, with frames of this
// package or the agent package.
func ownGoroutines() []string {
	buf := make([]byte, 4<<20)
	stacks := strings.Split(string(buf[:runtime.Stack(buf, true)]), "\n\n")
	var left []string
	for _, s := range stacks[1:] { // the first is the caller
		if strings.Contains(s, "desktop/backend/loops.") || strings.Contains(s, "desktop/backend/agent.") {
			left = append(left, s)
		}
	}
	return left
}

// Close cancels a start in flight and returns only after the turn, the idle sweep
// and every goroutine of the manager ended; the turn ends as interrupted, not as an
// agent failure, and nothing starts after Close.
func TestCloseCancelsAStartInFlightAndWaits(t *testing.T) {
	before := runtime.NumGoroutine()
	m, id := managerStuckInStart(t)
	// Start's reconcile waits on the engine too; it gives up, and the idle sweep runs.
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if err := m.Start(ctx); err == nil {
		t.Fatal("Start reconciled with an engine that never came up")
	}
	start := time.Now()
	m.Close()
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("Close took %v", d)
	}
	// Close has returned, so the turn's last words are already written.
	types := transcriptTypes(t, m, id)
	if last := types[len(types)-1]; last != "interrupted" {
		t.Fatalf("transcript after Close = %v, want it to end with interrupted", types)
	}
	if got, _ := m.Get(id); got.Status == StatusError || got.Status == StatusStarting {
		t.Fatalf("status after Close = %s", got.Status)
	}
	settleGoroutines(t, before, 5*time.Second)
	if _, err := m.Send(id, "after close"); !errors.Is(err, ErrClosed) {
		t.Fatalf("Send after Close = %v, want ErrClosed", err)
	}
	m.Close() // a second Close (uninstall, then the app) returns at once
}

// Archive during a start ends the turn before it returns; sends are refused after.
func TestArchiveDuringStartEndsTheTurn(t *testing.T) {
	m, id := managerStuckInStart(t)
	done := make(chan error, 1)
	go func() { done <- m.Archive(id, true) }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Archive did not return: the start was not cancelled")
	}
	r := m.runFor(id)
	r.mu.Lock()
	busy, sess := r.busy, r.sess
	r.mu.Unlock()
	if busy || sess != nil {
		t.Fatalf("after Archive: busy=%v agent=%v", busy, sess != nil)
	}
	types := transcriptTypes(t, m, id)
	if strings.Contains(strings.Join(types, " "), "error") {
		t.Fatalf("a cancelled start was reported as an error: %v", types)
	}
	if got, _ := m.Get(id); got.Status != StatusStopped || !got.Archived {
		t.Fatalf("after Archive: status=%s archived=%v", got.Status, got.Archived)
	}
	if _, err := m.Send(id, "again"); !errors.Is(err, ErrArchived) {
		t.Fatalf("Send after Archive = %v", err)
	}
	if err := m.Archive(id, false); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Send(id, "unarchived"); err != nil {
		t.Fatalf("Send after unarchive = %v", err)
	}
}

// A send that races Archive either is refused or starts a turn Archive then ends:
// no turn is left running in an archived loop (run with -race).
func TestSendRacingArchiveLeavesNoTurn(t *testing.T) {
	for i := 0; i < 20; i++ {
		m, id := managerStuckInStart(t)
		if err := m.Archive(id, true); err != nil {
			t.Fatal(err)
		}
		if err := m.Archive(id, false); err != nil {
			t.Fatal(err)
		}
		sent := make(chan error, 1)
		go func() { _, err := m.Send(id, "racing"); sent <- err }()
		if err := m.Archive(id, true); err != nil {
			t.Fatal(err)
		}
		err := <-sent
		if err != nil && !errors.Is(err, ErrArchived) {
			t.Fatalf("racing send: %v", err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		if err := m.Wait(ctx, id); err != nil {
			cancel()
			t.Fatalf("a turn outlived Archive: %v", err)
		}
		cancel()
		m.Close()
	}
}

// An interrupt's kill timer is one of the manager's goroutines: Close ends it.
func TestCloseEndsInterruptTimers(t *testing.T) {
	before := runtime.NumGoroutine()
	m, id, f := managerWithFakeAgent(t, time.Hour, time.Second)
	if _, err := m.Send(id, "hang"); err != nil {
		t.Fatal(err)
	}
	f.waitStarted(t, "hang")
	_ = f.stdinR.CloseWithError(context.Canceled) // the CLI ignores the interrupt
	if _, err := m.Interrupt(id, false); err != nil {
		t.Fatal(err)
	}
	m.Close()
	if killed, _ := f.state(); !killed {
		t.Fatal("Close left the agent running")
	}
	settleGoroutines(t, before, 5*time.Second)
}
