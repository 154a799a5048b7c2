// Package events is the one server-to-UI event bus. Services publish; the Wails
// transport forwards to runtime.EventsEmit and the serve transport to WebSocket clients.
package events

import (
	"sync"
	"time"
)

// Event is a topic plus a JSON-serialisable payload.
// Topics are "<area>:<what>", e.g. "engine:state", "image:progress", "loop:<id>:message".
type Event struct {
	Topic string    `json:"topic"`
	Data  any       `json:"data"`
	Time  time.Time `json:"time"`
}

// Publisher is what services depend on.
type Publisher interface {
	Publish(topic string, data any)
}

// Bus fans events out to subscribers. Slow subscribers never block publishers: each
// has a bounded queue and drops the oldest events when it is full.
type Bus struct {
	mu   sync.RWMutex
	subs map[*sub]struct{}
}

type sub struct {
	ch     chan Event
	filter func(string) bool
}

// New returns an empty bus.
func New() *Bus { return &Bus{subs: map[*sub]struct{}{}} }

// Publish delivers to every subscriber whose filter accepts topic.
func (b *Bus) Publish(topic string, data any) {
	ev := Event{Topic: topic, Data: data, Time: time.Now()}
	b.mu.RLock()
	defer b.mu.RUnlock()
	for s := range b.subs {
		if s.filter != nil && !s.filter(topic) {
			continue
		}
		select {
		case s.ch <- ev:
		default: // full: drop the oldest, keep the newest
			select {
			case <-s.ch:
			default:
			}
			select {
			case s.ch <- ev:
			default:
			}
		}
	}
}

// Subscribe returns a channel of events (filter nil = all) and a cancel func. Cancel
// closes the channel, so a reader ranging over it ends; events still buffered are
// delivered first.
func (b *Bus) Subscribe(buffer int, filter func(topic string) bool) (<-chan Event, func()) {
	if buffer <= 0 {
		buffer = 256
	}
	s := &sub{ch: make(chan Event, buffer), filter: filter}
	b.mu.Lock()
	b.subs[s] = struct{}{}
	b.mu.Unlock()
	var once sync.Once
	return s.ch, func() {
		once.Do(func() {
			// Publish sends under the read lock: once the write lock is held and the
			// sub is gone, nothing can send on the channel, so closing it is safe.
			b.mu.Lock()
			delete(b.subs, s)
			close(s.ch)
			b.mu.Unlock()
		})
	}
}
