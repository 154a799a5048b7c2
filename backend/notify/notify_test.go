package notify

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/loopat/desktop/backend/events"
)

// recordingSender stands in for the OS notification service (none exists in unit tests).
type recordingSender struct {
	mu     sync.Mutex
	sent   []Message
	clicks chan string
	closed bool
}

func newRecordingSender() *recordingSender { return &recordingSender{clicks: make(chan string, 4)} }

func (r *recordingSender) Send(_ context.Context, m Message) (uint32, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.sent = append(r.sent, m)
	return uint32(100 + len(r.sent)), nil
}
func (r *recordingSender) Clicks() <-chan string { return r.clicks }
func (r *recordingSender) Close() error          { r.mu.Lock(); r.closed = true; r.mu.Unlock(); return nil }
func (r *recordingSender) messages() []Message {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Message(nil), r.sent...)
}

func status(bus *events.Bus, id, st, detail string) {
	bus.Publish(events.LoopTopic(id, events.LoopStatus), map[string]string{"status": st, "detail": detail})
}

func startNotifier(t *testing.T, enabled bool, open func(string)) (*Notifier, *events.Bus, *recordingSender) {
	n, bus, s, _ := startWatchedNotifier(t, enabled, open)
	return n, bus, s
}

// startWatchedNotifier also returns waitWindow(id): it returns once loop id's window has
// ended and its notification was sent or dropped, so "nothing was sent" is checked after
// the decision, not after a guessed sleep.
func startWatchedNotifier(t *testing.T, enabled bool, open func(string)) (*Notifier, *events.Bus, *recordingSender, func(id string)) {
	t.Helper()
	bus := events.New()
	s := newRecordingSender()
	n, err := Start(Options{Bus: bus, Sender: s, Enabled: enabled, Window: 150 * time.Millisecond,
		LoopTitle: func(id string) string { return "Title of " + id }, OpenLoop: open})
	if err != nil {
		t.Fatal(err)
	}
	flushed := make(chan string, 64)
	n.flushed = func(id string) { flushed <- id } // set before any event, so no flush can miss it
	t.Cleanup(func() { n.Close() })
	ended := map[string]bool{} // windows heard so far (waitWindow runs on the test goroutine)
	waitWindow := func(id string) {
		t.Helper()
		timeout := time.After(5 * time.Second)
		for !ended[id] {
			select {
			case got := <-flushed:
				ended[got] = true
			case <-timeout:
				t.Fatalf("loop %s's notification window never ended", id)
			}
		}
	}
	return n, bus, s, waitWindow
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(3 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestClassify(t *testing.T) {
	cases := []struct {
		prev, status, detail string
		want                 Kind
		ok                   bool
	}{
		{"working", "idle", "", KindFinished, true},
		{"starting", "idle", "", KindFinished, true},
		{"working", "idle", "interrupted", "", false},
		{"", "idle", "", "", false}, // app started with an idle loop: nothing finished
		{"working", "waiting", "", KindInput, true},
		{"working", "error", "boom", KindFailed, true},
		{"idle", "working", "", "", false},
		{"idle", "stopped", "", "", false},
	}
	for _, c := range cases {
		got, ok := Classify(c.prev, c.status, c.detail)
		if got != c.want || ok != c.ok {
			t.Errorf("Classify(%q,%q,%q) = %q,%v want %q,%v", c.prev, c.status, c.detail, got, ok, c.want, c.ok)
		}
	}
}

func TestParseStatus(t *testing.T) {
	id, st, d, ok := ParseStatus(events.Event{Topic: "loop:abc:status", Data: map[string]any{"status": "error", "detail": "x"}})
	if !ok || id != "abc" || st != "error" || d != "x" {
		t.Fatalf("got %q %q %q %v", id, st, d, ok)
	}
	for _, topic := range []string{"loop:abc:message", "engine:state", "loop::status", "loop:a:b:status"} {
		if IsStatusTopic(topic) {
			t.Errorf("%q accepted as a status topic", topic)
		}
	}
	if _, _, _, ok := ParseStatus(events.Event{Topic: "loop:abc:status", Data: 3}); ok {
		t.Error("non-map data accepted")
	}
}

func TestFinishedLoopNotifiesOnceWithTitle(t *testing.T) {
	_, bus, s, waitWindow := startWatchedNotifier(t, true, nil)
	status(bus, "L1", "working", "")
	status(bus, "L1", "idle", "")
	waitWindow("L1")
	got := s.messages()
	if len(got) != 1 {
		t.Fatalf("want 1 notification, got %+v", got)
	}
	if got[0].Summary != "Title of L1" || got[0].Body != "Loop finished" || got[0].LoopID != "L1" || got[0].Replaces != 0 {
		t.Fatalf("message: %+v", got[0])
	}

	// A later turn replaces the loop's earlier bubble.
	status(bus, "L1", "working", "")
	status(bus, "L1", "error", "rate limited")
	waitFor(t, "second notification", func() bool { return len(s.messages()) == 2 })
	if m := s.messages()[1]; m.Replaces != 101 || m.Body != "Loop failed: rate limited" {
		t.Fatalf("second: %+v", m)
	}
}

func TestRapidEventsCoalesce(t *testing.T) {
	_, bus, s, waitWindow := startWatchedNotifier(t, true, nil)
	status(bus, "L2", "working", "")
	status(bus, "L2", "waiting", "")
	status(bus, "L2", "working", "")
	status(bus, "L2", "error", "first failure")
	status(bus, "L2", "working", "")
	status(bus, "L2", "idle", "")
	status(bus, "L3", "working", "")
	status(bus, "L3", "error", "other loop")
	waitWindow("L2")
	waitWindow("L3")
	got := s.messages()
	if len(got) != 2 {
		t.Fatalf("want one notification per loop, got %+v", got)
	}
	byLoop := map[string]Message{got[0].LoopID: got[0], got[1].LoopID: got[1]}
	if byLoop["L2"].Body != "Loop finished" {
		t.Errorf("L2 should report its latest state (finished): %+v", byLoop["L2"])
	}
	if byLoop["L3"].Body != "Loop failed: other loop" {
		t.Errorf("L3: %+v", byLoop["L3"])
	}
}

func TestBackToWorkCancelsPendingNotification(t *testing.T) {
	_, bus, s, waitWindow := startWatchedNotifier(t, true, nil)
	status(bus, "L4", "working", "")
	status(bus, "L4", "idle", "")
	status(bus, "L4", "working", "") // the queue started the next turn at once
	waitWindow("L4")
	if got := s.messages(); len(got) != 0 {
		t.Fatalf("a loop that is working again must not notify: %+v", got)
	}
}

func TestDisabledSendsNothing(t *testing.T) {
	n, bus, s, waitWindow := startWatchedNotifier(t, false, nil)
	status(bus, "L5", "working", "")
	status(bus, "L5", "error", "x")
	waitWindow("L5")
	if got := s.messages(); len(got) != 0 {
		t.Fatalf("notifications off but sent %+v", got)
	}
	n.SetEnabled(true)
	status(bus, "L5", "working", "")
	status(bus, "L5", "idle", "")
	waitFor(t, "notification after enabling", func() bool { return len(s.messages()) == 1 })
}

func TestClickOpensLoop(t *testing.T) {
	opened := make(chan string, 1)
	_, _, s := startNotifier(t, true, func(id string) { opened <- id })
	s.clicks <- "L6"
	select {
	case id := <-opened:
		if id != "L6" {
			t.Fatalf("opened %q", id)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("click did not open the loop")
	}
}

func TestCloseClosesSenderAndStops(t *testing.T) {
	n, bus, s := startNotifier(t, true, nil)
	status(bus, "L7", "working", "")
	status(bus, "L7", "idle", "")
	if err := n.Close(); err != nil {
		t.Fatal(err)
	}
	// Nothing can send after Close: no window timer is left to fire, and a window ending
	// anyway (a timer that fired as Close ran) finds the notifier closed.
	n.mu.Lock()
	timers := len(n.timers)
	n.mu.Unlock()
	if timers != 0 {
		t.Fatalf("%d notification timers left running after Close", timers)
	}
	n.flush("L7")
	if got := s.messages(); len(got) != 0 {
		t.Fatalf("sent after Close: %+v", got)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.closed {
		t.Fatal("sender not closed")
	}
}

func TestAppleString(t *testing.T) {
	if got := appleString("say \"hi\" \\ now\nplease"); got != `"say \"hi\" \\ now please"` {
		t.Fatalf("got %s", got)
	}
}

func TestStartNeedsBusAndSender(t *testing.T) {
	if _, err := Start(Options{Sender: newRecordingSender()}); err == nil {
		t.Fatal("want error without a bus")
	}
}
