//go:build integration

package notify_test

import (
	"context"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/loopat/desktop/backend/events"
	"github.com/loopat/desktop/backend/notify"
	"github.com/loopat/desktop/backend/notify/internal/fakenotifications"
)

func publish(bus *events.Bus, id string, statuses ...string) {
	for _, s := range statuses {
		bus.Publish("loop:"+id+":status", map[string]string{"status": s})
	}
}

// A real notifier and freedesktop sender on a private session bus, against a fake
// notification daemon.
func TestIntegrationFreedesktopNotifications(t *testing.T) {
	dir, err := os.MkdirTemp("", "notify")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	bus, err := fakenotifications.StartBus(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(bus.Close)
	t.Setenv("DBUS_SESSION_BUS_ADDRESS", bus.Address)
	server, err := fakenotifications.Start(bus.Address)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(server.Close)

	sender, err := notify.NewFreedesktop("loopat", "loopat")
	if err != nil {
		t.Fatal(err)
	}
	opened := make(chan string, 4)
	evbus := events.New()
	titles := map[string]string{"L1": "Refactor the parser", "L2": "Write release notes", "L3": "Muted loop"}
	n, err := notify.Start(notify.Options{Bus: evbus, Sender: sender, Enabled: true, Window: 300 * time.Millisecond,
		LoopTitle: func(id string) string { return titles[id] }, OpenLoop: func(id string) { opened <- id }})
	if err != nil {
		t.Fatal(err)
	}
	windows := make(chan string, 16)
	notify.WatchWindows(n, func(id string) { windows <- id })
	t.Cleanup(func() { n.Close() })

	// waitCalls waits for loop id's coalescing window to end (Send has returned by then,
	// so its Notify call is recorded) and checks the number of Notify calls so far.
	waitCalls := func(id string, want int) []fakenotifications.Call {
		t.Helper()
		for {
			select {
			case got := <-windows:
				if got != id {
					continue
				}
			case <-time.After(10 * time.Second):
				t.Fatalf("loop %s's notification window never ended; Notify calls %+v", id, server.Calls())
			}
			calls := server.Calls()
			if len(calls) != want {
				t.Fatalf("want %d Notify calls, got %d: %+v", want, len(calls), calls)
			}
			return calls
		}
	}

	// A loop finishing: one Notify titled with the loop, clickable.
	began := time.Now()
	publish(evbus, "L1", "working", "idle")
	calls := waitCalls("L1", 1)
	t.Logf("MEASURED finished -> Notify within %s (coalescing window 300ms)", time.Since(began).Round(time.Millisecond))
	c := calls[0]
	if c.Summary != "Refactor the parser" || c.Body != "Loop finished" || c.AppName != "loopat" || c.ReplacesID != 0 {
		t.Fatalf("Notify: %+v", c)
	}
	if !slices.Contains(c.Actions, "default") || !slices.Contains(c.Actions, "open") {
		t.Fatalf("actions %v lack default/open", c.Actions)
	}

	// Three rapid attention events for one loop: one Notify with the latest state.
	publish(evbus, "L2", "working", "error", "working", "waiting", "working", "error")
	calls = waitCalls("L2", 2)
	if c := calls[1]; c.Summary != "Write release notes" || c.Body != "Loop failed" {
		t.Fatalf("coalesced Notify: %+v", c)
	}

	// Clicking the first notification opens its loop.
	if err := server.Invoke(calls[0].ID, "default"); err != nil {
		t.Fatal(err)
	}
	select {
	case id := <-opened:
		if id != "L1" {
			t.Fatalf("opened %q, want L1", id)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("ActionInvoked did not open the loop")
	}

	// L1 again: the bubble is replaced, not stacked.
	publish(evbus, "L1", "working", "idle")
	calls = waitCalls("L1", 3)
	if calls[2].ReplacesID != calls[0].ID {
		t.Fatalf("second notification for L1 should replace %d: %+v", calls[0].ID, calls[2])
	}

	// A loop waiting for input: "needs your input"; answered (working again), the bubble
	// is closed on the notification daemon.
	publish(evbus, "L4", "working", "waiting")
	calls = waitCalls("L4", 4)
	if c := calls[3]; c.Body != "Loop needs your input" {
		t.Fatalf("waiting Notify: %+v", c)
	}
	publish(evbus, "L4", "working")
	deadline := time.Now().Add(5 * time.Second)
	for !slices.Contains(server.Closed(), calls[3].ID) {
		if time.Now().After(deadline) {
			t.Fatalf("the answered loop's notification %d was not closed: closed %v", calls[3].ID, server.Closed())
		}
		time.Sleep(20 * time.Millisecond)
	}
	if closed := server.Closed(); len(closed) != 1 {
		t.Fatalf("only the needs-input bubble is withdrawn; closed %v", closed)
	}

	// Setting off: no Notify.
	n.SetEnabled(false)
	publish(evbus, "L3", "working", "idle")
	waitCalls("L3", 4) // the window ended with no Notify

	// No notification daemon: Send fails with a clear error (the notifier logs it once).
	server.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := sender.Send(ctx, notify.Message{LoopID: "x", Summary: "s", Body: "b"}); err == nil {
		t.Fatal("Send without a notification service must fail")
	}
}
