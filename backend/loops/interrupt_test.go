package loops

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/zalando/go-keyring"

	"github.com/loopat/desktop/backend/agent"
	"github.com/loopat/desktop/backend/config"
	"github.com/loopat/desktop/backend/events"
	"github.com/loopat/desktop/backend/vault"
)

// fakeCLI plays the stream-json CLI in memory: a user message whose text starts with
// "hang" runs until interrupted; any other message takes `work` and then succeeds. An
// interrupt ends the running turn with the CLI's error_during_execution result.
type fakeCLI struct {
	work     time.Duration
	stdinR   *io.PipeReader
	stdinW   *io.PipeWriter
	stdoutR  *io.PipeReader
	stdoutW  *io.PipeWriter
	stderrR  *io.PipeReader
	stderrW  *io.PipeWriter
	exited   chan struct{}
	once     sync.Once
	mu       sync.Mutex
	killed   bool
	finished []string    // texts of turns that ended with success
	started  chan string // text of each user message, once the fake runs its turn
}

func newFakeCLI(work time.Duration) *fakeCLI {
	f := &fakeCLI{work: work, exited: make(chan struct{}), started: make(chan string, 16)}
	f.stdinR, f.stdinW = io.Pipe()
	f.stdoutR, f.stdoutW = io.Pipe()
	f.stderrR, f.stderrW = io.Pipe()
	go f.serve()
	return f
}

func (f *fakeCLI) serve() {
	var outMu sync.Mutex
	emit := func(v map[string]any) {
		b, _ := json.Marshal(v)
		outMu.Lock()
		defer outMu.Unlock()
		_, _ = f.stdoutW.Write(append(b, '\n'))
	}
	var cur chan struct{} // closed by an interrupt of the running turn
	sc := bufio.NewScanner(f.stdinR)
	for sc.Scan() {
		var in struct {
			Type    string `json:"type"`
			Message struct {
				Content string `json:"content"`
			} `json:"message"`
			Request struct {
				Subtype string `json:"subtype"`
			} `json:"request"`
		}
		if json.Unmarshal(sc.Bytes(), &in) != nil {
			continue
		}
		switch {
		case in.Type == "control_request" && in.Request.Subtype == "interrupt":
			if cur != nil {
				close(cur)
				cur = nil
			}
		case in.Type == "user":
			stop := make(chan struct{})
			cur = stop
			text := in.Message.Content
			select {
			case f.started <- text:
			default:
			}
			go func() {
				var wait <-chan time.Time
				if !strings.HasPrefix(text, "hang") {
					wait = time.After(f.work)
				}
				select {
				case <-stop:
					emit(map[string]any{"type": "result", "subtype": "error_during_execution", "is_error": true})
				case <-wait:
					emit(map[string]any{"type": "assistant", "message": map[string]any{"content": "done: " + text}})
					f.mu.Lock()
					f.finished = append(f.finished, text)
					f.mu.Unlock()
					emit(map[string]any{"type": "result", "subtype": "success", "result": "done: " + text})
				case <-f.exited:
				}
			}()
		}
	}
}

func (f *fakeCLI) ID() string                                                         { return "fake" }
func (f *fakeCLI) Stdin() io.WriteCloser                                              { return f.stdinW }
func (f *fakeCLI) Stdout() io.Reader                                                  { return f.stdoutR }
func (f *fakeCLI) Stderr() io.Reader                                                  { return f.stderrR }
func (f *fakeCLI) Wait() (int, error)                                                 { <-f.exited; return 137, nil }
func (f *fakeCLI) StartProcess(context.Context, agent.Command) (agent.Process, error) { return f, nil }
func (f *fakeCLI) Kill(context.Context) error {
	f.mu.Lock()
	f.killed = true
	f.mu.Unlock()
	f.once.Do(func() {
		close(f.exited)
		_ = f.stdoutW.Close()
		_ = f.stderrW.Close()
		_ = f.stdinR.Close()
	})
	return nil
}

// waitStarted waits until the fake runs the turn of text (an event, not a sleep:
// under -race on a busy machine a turn can take long to reach it).
func (f *fakeCLI) waitStarted(t *testing.T, text string) {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		select {
		case got := <-f.started:
			if got == text {
				return
			}
		case <-deadline:
			t.Fatalf("the fake CLI never got %q", text)
		}
	}
}

func (f *fakeCLI) state() (killed bool, finished []string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.killed, append([]string(nil), f.finished...)
}

// managerWithFakeAgent returns a manager whose loop already has a running (fake) agent.
func managerWithFakeAgent(t *testing.T, grace, work time.Duration) (*Manager, string, *fakeCLI) {
	t.Helper()
	ws, _ := config.NewWorkspace(filepath.Join(t.TempDir(), "ws"))
	keyring.MockInit()
	m, err := NewManager(Options{Workspace: ws, Conn: downConn{}, Secrets: vault.New(ws, vault.OSKeyring()),
		Events: events.New(), InterruptGrace: grace})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.Close)
	meta, err := m.Create(CreateRequest{Title: "interrupt"})
	if err != nil {
		t.Fatal(err)
	}
	f := newFakeCLI(work)
	r := m.runFor(meta.ID)
	var sess *agent.Session
	sess, err = agent.Start(context.Background(), f, agent.Command{}, "m",
		func(l agent.Line) { m.onLine(meta.ID, r, l) },
		func(e agent.Exit) { m.onExit(meta.ID, r, sess, e) })
	if err != nil {
		t.Fatal(err)
	}
	r.mu.Lock()
	r.sess = sess
	r.mu.Unlock()
	return m, meta.ID, f
}

func waitIdle(t *testing.T, m *Manager, id string, d time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	if err := m.Wait(ctx, id); err != nil {
		t.Fatalf("loop did not become idle: %v", err)
	}
}

func transcriptTypes(t *testing.T, m *Manager, id string) []string {
	t.Helper()
	lines, err := m.Messages(id)
	if err != nil {
		t.Fatal(err)
	}
	var types []string
	for _, l := range lines {
		var x struct{ Type, Subtype string }
		_ = json.Unmarshal(l, &x)
		types = append(types, strings.TrimSuffix(x.Type+"/"+x.Subtype, "/"))
	}
	return types
}

// An interrupt kept with its queue ends only the turn it was aimed at: the queued
// message that starts next runs longer than the grace period and is not killed.
func TestInterruptGraceTimerEndsOnlyTheInterruptedTurn(t *testing.T) {
	grace := 150 * time.Millisecond
	m, id, f := managerWithFakeAgent(t, grace, 4*grace)
	if _, err := m.Send(id, "hang until interrupted"); err != nil {
		t.Fatal(err)
	}
	q, err := m.Send(id, "queued one")
	if err != nil || !q.Queued {
		t.Fatalf("queue: %+v %v", q, err)
	}
	f.waitStarted(t, "hang until interrupted")
	taken, err := m.Interrupt(id, true)
	if err != nil || len(taken) != 0 {
		t.Fatalf("interrupt keeping the queue = %+v %v", taken, err)
	}
	waitIdle(t, m, id, 5*time.Second)
	killed, finished := f.state()
	if killed {
		t.Fatal("the interrupt's grace timer killed the agent while it served the next queued turn")
	}
	if len(finished) != 1 || finished[0] != "queued one" {
		t.Fatalf("finished turns = %v, want the queued message answered", finished)
	}
	types := transcriptTypes(t, m, id)
	want := []string{"user_input", "result/error_during_execution", "interrupted", "user_input", "assistant", "result/success"}
	if strings.Join(types, " ") != strings.Join(want, " ") {
		t.Fatalf("transcript = %v, want %v", types, want)
	}
	if got, _ := m.Get(id); got.Status != StatusIdle {
		t.Fatalf("status = %s", got.Status)
	}
}

// By default an interrupt hands the queued messages back (for the composer) and sends none.
func TestInterruptReturnsTheQueue(t *testing.T) {
	m, id, f := managerWithFakeAgent(t, time.Second, 10*time.Millisecond)
	if _, err := m.Send(id, "hang until interrupted"); err != nil {
		t.Fatal(err)
	}
	for _, text := range []string{"first", "second"} {
		if q, err := m.Send(id, text); err != nil || !q.Queued {
			t.Fatalf("queue %q: %+v %v", text, q, err)
		}
	}
	f.waitStarted(t, "hang until interrupted")
	taken, err := m.Interrupt(id, false)
	if err != nil || len(taken) != 2 || taken[0].Text != "first" || taken[1].Text != "second" {
		t.Fatalf("interrupt = %+v %v, want both queued messages back", taken, err)
	}
	waitIdle(t, m, id, 5*time.Second)
	if q, _ := m.Queue(id); len(q) != 0 {
		t.Fatalf("queue after interrupt = %+v", q)
	}
	types := transcriptTypes(t, m, id)
	if types[len(types)-1] != "interrupted" {
		t.Fatalf("transcript = %v, want it to end with interrupted", types)
	}
	// Instead of sleeping and finding nothing: the next message sent is the next turn, so
	// had a handed-back message still run, it would finish first.
	if _, err := m.Send(id, "after the interrupt"); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		killed, finished := f.state()
		if killed || len(finished) > 1 || (len(finished) == 1 && finished[0] != "after the interrupt") {
			t.Fatalf("killed=%v finished=%v: a handed-back message ran after the interrupt", killed, finished)
		}
		if len(finished) == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the message sent after the interrupt never finished")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// A turn that ignores the interrupt is still ended by the kill after the grace period.
func TestInterruptKillsAStuckTurnAfterGrace(t *testing.T) {
	m, id, f := managerWithFakeAgent(t, 100*time.Millisecond, time.Second)
	if _, err := m.Send(id, "hang"); err != nil {
		t.Fatal(err)
	}
	f.waitStarted(t, "hang")
	// A CLI that ignores the interrupt request: close the fake's input so it never answers.
	_ = f.stdinR.CloseWithError(io.EOF)
	if _, err := m.Interrupt(id, false); err != nil {
		t.Fatal(err)
	}
	waitIdle(t, m, id, 5*time.Second)
	if killed, _ := f.state(); !killed {
		t.Fatal("stuck turn was not killed after the grace period")
	}
	types := transcriptTypes(t, m, id)
	if types[len(types)-1] != "interrupted" {
		t.Fatalf("transcript = %v", types)
	}
}
