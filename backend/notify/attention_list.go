package notify

import (
	"sync"

	"github.com/loopat/desktop/backend/events"
)

// AttentionList is the "needs you" list the tray shows, fed by loop status events: a
// loop that finished, failed or waits for input is added (newest first); one that works
// again is settled and removed. It lives here, apart from systray, so the tray and a
// test can watch the same bus with it on any platform.
type AttentionList struct {
	title func(id string) string // nil or "" = the loop id

	mu    sync.Mutex
	prev  map[string]string // last status per loop
	items []Attention       // newest first
}

// NewAttentionList names entries with title(loopID).
func NewAttentionList(title func(id string) string) *AttentionList {
	return &AttentionList{title: title, prev: map[string]string{}}
}

// Observe updates the list from one bus event; it reports whether the list changed.
func (l *AttentionList) Observe(ev events.Event) bool {
	id, status, detail, ok := ParseStatus(ev)
	if !ok {
		return false
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	prev := l.prev[id]
	l.prev[id] = status
	if kind, ok := Classify(prev, status, detail); ok {
		l.removeLocked(id)
		title := id
		if l.title != nil {
			if t := l.title(id); t != "" {
				title = t
			}
		}
		l.items = append([]Attention{{LoopID: id, Title: title, Kind: kind, Detail: detail}}, l.items...)
		return true
	}
	if Busy(status) {
		return l.removeLocked(id)
	}
	return false
}

// Items is a copy of the list, newest first.
func (l *AttentionList) Items() []Attention {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]Attention(nil), l.items...)
}

// Remove drops loop id's entry (the user opened it); it reports whether there was one.
func (l *AttentionList) Remove(id string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.removeLocked(id)
}

func (l *AttentionList) removeLocked(id string) bool {
	for i, a := range l.items {
		if a.LoopID == id {
			l.items = append(l.items[:i], l.items[i+1:]...)
			return true
		}
	}
	return false
}
