package events

import (
	"strings"
	"testing"
	"time"
)

func TestPublishSubscribeFilterCancel(t *testing.T) {
	b := New()
	all, cancelAll := b.Subscribe(8, nil)
	eng, cancelEng := b.Subscribe(8, func(t string) bool { return strings.HasPrefix(t, "engine:") })
	defer cancelEng()
	b.Publish("engine:state", "ready")
	b.Publish("image:progress", 50)
	if got := (<-all).Topic; got != "engine:state" {
		t.Fatalf("first event %q", got)
	}
	if got := (<-all).Data; got != 50 {
		t.Fatalf("second event data %v", got)
	}
	if got := (<-eng).Data; got != "ready" {
		t.Fatalf("filtered sub got %v", got)
	}
	select {
	case ev := <-eng:
		t.Fatalf("filter leaked %v", ev)
	case <-time.After(20 * time.Millisecond):
	}
	cancelAll()
	b.Publish("engine:state", "absent")
	select {
	case ev, ok := <-all:
		if ok {
			t.Fatalf("cancelled sub received %v", ev)
		}
	default:
		t.Fatal("cancelled sub's channel is still open")
	}
}

func TestSlowSubscriberDropsOldestNotPublisher(t *testing.T) {
	b := New()
	ch, cancel := b.Subscribe(2, nil)
	defer cancel()
	done := make(chan struct{})
	go func() {
		for i := 0; i < 1000; i++ {
			b.Publish("x", i)
		}
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(2 * time.Second):
		t.Fatal("publisher blocked by a slow subscriber")
	}
	<-ch
	if last := (<-ch).Data; last != 999 {
		t.Fatalf("newest event lost: %v", last)
	}
}

// Cancel closes the channel (a ranging reader ends) after the buffered events, and
// cancelling while publishers run neither panics nor races (run with -race).
func TestCancelClosesTheChannel(t *testing.T) {
	b := New()
	ch, cancel := b.Subscribe(4, nil)
	b.Publish("a", 1)
	cancel()
	cancel() // idempotent
	if ev, ok := <-ch; !ok || ev.Topic != "a" {
		t.Fatalf("buffered event before close = %+v %v", ev, ok)
	}
	select {
	case ev, ok := <-ch:
		if ok {
			t.Fatalf("event after cancel: %+v", ev)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("cancel did not close the channel")
	}

	stop := make(chan struct{})
	published := make(chan struct{})
	go func() {
		defer close(published)
		for {
			select {
			case <-stop:
				return
			default:
				b.Publish("x", nil)
			}
		}
	}()
	for i := 0; i < 200; i++ {
		ch, cancel := b.Subscribe(1, nil)
		done := make(chan struct{})
		go func() {
			for range ch {
			}
			close(done)
		}()
		cancel()
		select {
		case <-done:
		case <-time.After(2 * time.Second):
			t.Fatal("a reader ranging over a cancelled subscription did not end")
		}
	}
	close(stop)
	<-published
}
