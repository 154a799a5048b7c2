package notify

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"
)

// Message is one OS notification about a loop.
type Message struct {
	LoopID  string
	Summary string // the loop title
	Body    string
	// Replaces is the id of this loop's previous notification (0 = none), so a loop
	// shows one bubble that updates rather than a stack.
	Replaces uint32
}

// Sender shows notifications; Clicks yields the loop id of a clicked notification
// (nil when the platform cannot report clicks).
type Sender interface {
	Send(ctx context.Context, m Message) (uint32, error)
	Clicks() <-chan string
	Close() error
}

// Withdrawer is a Sender that can take a shown notification back (freedesktop can;
// a "needs your input" bubble is stale once the user has answered).
type Withdrawer interface {
	Withdraw(ctx context.Context, id uint32) error
}

// DefaultWindow is how long events for one loop are gathered into one notification.
const DefaultWindow = 1500 * time.Millisecond

// Options configure a Notifier.
type Options struct {
	Bus    Subscriber
	Sender Sender
	// Enabled is config.UI.Notifications; SetEnabled changes it while running.
	Enabled bool
	// Window coalesces a loop's events: the first starts it, the latest state at its end
	// is notified once (default DefaultWindow).
	Window time.Duration
	// LoopTitle names a loop (nil or "" = its id).
	LoopTitle func(id string) string
	// OpenLoop is called when the user clicks a notification.
	OpenLoop func(id string)
	Log      *slog.Logger
}

// Notifier follows loop statuses on the bus and notifies attention-worthy changes.
type Notifier struct {
	o      Options
	cancel func()
	quit   chan struct{}
	done   chan struct{}

	mu       sync.Mutex
	enabled  bool
	prev     map[string]string    // last status per loop
	pending  map[string]Attention // waiting for the end of the loop's window
	timers   map[string]*time.Timer
	wg       sync.WaitGroup    // withdrawals in flight (Close waits: the sender closes after)
	lastID   map[string]uint32 // last notification id per loop (for Replaces)
	asking   map[string]bool   // the loop's shown notification says it needs input
	failures int
	closed   bool

	// flushed, when set (by tests, before any event), hears each loop's window end after
	// its decision: sent, dropped as stale, or silenced. It lets a test wait for "nothing
	// was sent" as an event instead of sleeping past the window.
	flushed func(id string)
}

// Start subscribes to the bus and begins notifying. Close stops it.
func Start(o Options) (*Notifier, error) {
	if o.Bus == nil || o.Sender == nil {
		return nil, fmt.Errorf("notify: bus and sender are required")
	}
	if o.Window <= 0 {
		o.Window = DefaultWindow
	}
	if o.Log == nil {
		o.Log = slog.Default()
	}
	o.Log = o.Log.With("component", "notify")
	n := &Notifier{
		o: o, enabled: o.Enabled, quit: make(chan struct{}), done: make(chan struct{}),
		prev: map[string]string{}, pending: map[string]Attention{},
		timers: map[string]*time.Timer{}, lastID: map[string]uint32{}, asking: map[string]bool{},
	}
	evs, cancel := o.Bus.Subscribe(256, IsStatusTopic)
	n.cancel = cancel
	clicks := o.Sender.Clicks()
	go func() {
		defer close(n.done)
		for {
			select {
			case ev, ok := <-evs:
				if !ok {
					return
				}
				if id, status, detail, ok := ParseStatus(ev); ok {
					n.observe(id, status, detail)
				}
			case id, ok := <-clicks:
				if !ok {
					clicks = nil
					continue
				}
				if o.OpenLoop != nil {
					o.OpenLoop(id)
				}
			case <-n.quit:
				return
			}
		}
	}()
	return n, nil
}

// SetEnabled turns notifications on or off (the settings switch).
func (n *Notifier) SetEnabled(on bool) {
	n.mu.Lock()
	n.enabled = on
	n.mu.Unlock()
}

// observe records a status and schedules a notification when it needs attention.
func (n *Notifier) observe(id, status, detail string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	prev := n.prev[id]
	n.prev[id] = status
	kind, ok := Classify(prev, status, detail)
	if !ok {
		if Busy(status) {
			// The user is back at it: a pending "finished" is stale, and a shown
			// "needs your input" was answered.
			delete(n.pending, id)
			if n.asking[id] {
				delete(n.asking, id)
				n.withdrawLocked(n.lastID[id])
			}
		}
		return
	}
	n.pending[id] = Attention{LoopID: id, Kind: kind, Detail: detail}
	if _, running := n.timers[id]; running || n.closed {
		return
	}
	n.timers[id] = time.AfterFunc(n.o.Window, func() { n.flush(id) })
}

// flush sends the loop's latest pending attention, if any.
func (n *Notifier) flush(id string) {
	if n.flushed != nil {
		defer n.flushed(id)
	}
	n.mu.Lock()
	delete(n.timers, id)
	a, ok := n.pending[id]
	delete(n.pending, id)
	on, replaces := n.enabled, n.lastID[id]
	if !ok || !on || n.closed {
		n.mu.Unlock()
		return
	}
	n.mu.Unlock()

	a.Title = id
	if n.o.LoopTitle != nil {
		if t := n.o.LoopTitle(id); t != "" {
			a.Title = t
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	nid, err := n.o.Sender.Send(ctx, MessageFor(a, replaces))
	n.mu.Lock()
	defer n.mu.Unlock()
	if err != nil {
		n.failures++
		if n.failures == 1 {
			n.o.Log.Warn("notification not shown (further failures logged at debug)", "loop", id, "err", err)
		} else {
			n.o.Log.Debug("notification not shown", "loop", id, "err", err)
		}
		return
	}
	n.lastID[id] = nid
	n.asking[id] = a.Kind == KindInput
}

// withdrawLocked takes notification nid back in the background (a D-Bus call must not
// hold up the bus subscriber).
func (n *Notifier) withdrawLocked(nid uint32) {
	w, ok := n.o.Sender.(Withdrawer)
	if !ok || nid == 0 || n.closed {
		return
	}
	n.wg.Add(1)
	go func() {
		defer n.wg.Done()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := w.Withdraw(ctx, nid); err != nil {
			n.o.Log.Debug("notification not withdrawn", "id", nid, "err", err)
		}
	}()
}

// MessageFor is the notification text for an attention.
func MessageFor(a Attention, replaces uint32) Message {
	body := "Loop " + a.Kind.Label()
	if a.Kind == KindFailed && a.Detail != "" {
		body += ": " + truncate(a.Detail, 160)
	}
	return Message{LoopID: a.LoopID, Summary: a.Title, Body: body, Replaces: replaces}
}

func truncate(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

// Close stops notifying and closes the sender. Pending notifications are dropped.
func (n *Notifier) Close() error {
	n.mu.Lock()
	if n.closed {
		n.mu.Unlock()
		return nil
	}
	n.closed = true
	for id, t := range n.timers {
		t.Stop()
		delete(n.timers, id)
	}
	n.mu.Unlock()
	n.cancel()
	close(n.quit)
	<-n.done
	n.wg.Wait()
	return n.o.Sender.Close()
}
