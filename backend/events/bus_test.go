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
	case ev := <-all:
		t.Fatalf("cancelled sub received %v", ev)
	default:
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
