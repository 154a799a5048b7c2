package loops

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/loopat/desktop/backend/notify"
)

// fakeNotifications stands in for the OS notification service: it records what is
// shown and withdrawn, and lets the test click a notification.
type fakeNotifications struct {
	mu        sync.Mutex
	shown     []notify.Message
	withdrawn []uint32
	clicks    chan string
}

func (f *fakeNotifications) Send(_ context.Context, m notify.Message) (uint32, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.shown = append(f.shown, m)
	return uint32(len(f.shown)), nil
}
func (f *fakeNotifications) Withdraw(_ context.Context, id uint32) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.withdrawn = append(f.withdrawn, id)
	return nil
}
func (f *fakeNotifications) Clicks() <-chan string { return f.clicks }
func (f *fakeNotifications) Close() error          { return nil }
func (f *fakeNotifications) state() ([]notify.Message, []uint32) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]notify.Message(nil), f.shown...), append([]uint32(nil), f.withdrawn...)
}

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Needs-input everywhere: a permission prompt from the agent sets the loop waiting; the
// OS notification says "needs your input" (a click opens the loop) and the tray's
// attention list, watching the same bus, shows the loop. Answering clears both: the
// bubble is withdrawn and the tray entry is gone.
func TestWaitingLoopNotifiesAndShowsInTheTrayUntilAnswered(t *testing.T) {
	m, id, _, bus := managerWithAskingAgent(t)
	fake := &fakeNotifications{clicks: make(chan string, 1)}
	opened := make(chan string, 1)
	n, err := notify.Start(notify.Options{Bus: bus, Sender: fake, Enabled: true, Window: 50 * time.Millisecond,
		LoopTitle: func(string) string { return "Fix the build" }, OpenLoop: func(id string) { opened <- id }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Close() })
	attention := notify.NewAttentionList(func(string) string { return "Fix the build" })
	evs, cancel := bus.Subscribe(64, notify.IsStatusTopic)
	t.Cleanup(cancel)
	go func() {
		for ev := range evs {
			attention.Observe(ev)
		}
	}()

	if _, err := m.Send(id, canUseTool("n1", "Bash", `{"command":"rm -rf build"}`)); err != nil {
		t.Fatal(err)
	}
	p := waitPending(t, m, id, 1)[0]
	waitStatus(t, m, id, StatusWaiting)
	eventually(t, "the needs-input notification", func() bool {
		shown, _ := fake.state()
		return len(shown) == 1
	})
	shown, _ := fake.state()
	if msg := shown[0]; msg.LoopID != id || msg.Summary != "Fix the build" || !strings.Contains(msg.Body, "needs your input") {
		t.Fatalf("notification = %+v", msg)
	}
	eventually(t, "the tray entry", func() bool { return len(attention.Items()) == 1 })
	if a := attention.Items()[0]; a.LoopID != id || a.Kind != notify.KindInput {
		t.Fatalf("tray attention = %+v", a)
	}
	fake.clicks <- id
	select {
	case got := <-opened:
		if got != id {
			t.Fatalf("the click opened %q", got)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("clicking the notification did not open the loop")
	}

	if err := m.Answer(id, p.ID, PendingAnswer{Allow: true}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the tray entry to clear", func() bool { return len(attention.Items()) == 0 })
	eventually(t, "the notification to be withdrawn", func() bool {
		_, withdrawn := fake.state()
		return len(withdrawn) == 1 && withdrawn[0] == 1
	})
	waitIdle(t, m, id, 5*time.Second)
	// The turn that ended after the answer is news of its own ("finished"), not a second
	// "needs your input".
	eventually(t, "the finished notification", func() bool {
		shown, _ := fake.state()
		return len(shown) == 2
	})
	if shown, _ := fake.state(); strings.Contains(shown[1].Body, "input") {
		t.Fatalf("after the answer: %+v", shown[1])
	}
}
