// Package notify turns loop status changes into OS notifications (a loop finished, needs
// input, or failed) and defines the attention model the tray shares.
package notify

import (
	"github.com/loopat/desktop/backend/events"
)

// Kind is why a loop needs the user's attention.
type Kind string

const (
	KindFinished Kind = "finished" // a turn ended normally
	KindInput    Kind = "input"    // the agent waits for the user
	KindFailed   Kind = "failed"   // the turn ended in an error
)

// Loop statuses as published on events.LoopTopic(id, events.LoopStatus) (see backend/loops).
const (
	statusIdle     = "idle"
	statusStarting = "starting"
	statusWorking  = "working"
	statusWaiting  = "waiting"
	statusError    = "error"
)

// Attention is one loop that needs the user.
type Attention struct {
	LoopID string `json:"loopId"`
	Title  string `json:"title"`
	Kind   Kind   `json:"kind"`
	Detail string `json:"detail,omitempty"`
}

// Label is the short human text for a kind.
func (k Kind) Label() string {
	switch k {
	case KindFinished:
		return "finished"
	case KindInput:
		return "needs your input"
	case KindFailed:
		return "failed"
	}
	return string(k)
}

// Classify says whether the status change prev -> status needs attention. A turn the
// user interrupted is not news, and idle without a running turn before is not "finished".
func Classify(prev, status, detail string) (Kind, bool) {
	switch status {
	case statusWaiting:
		return KindInput, true
	case statusError:
		return KindFailed, true
	case statusIdle:
		if (prev == statusWorking || prev == statusStarting) && detail != "interrupted" {
			return KindFinished, true
		}
	}
	return "", false
}

// Busy reports whether status means the user is working with the loop again (any
// earlier attention for it is settled).
func Busy(status string) bool { return status == statusWorking || status == statusStarting }

// IsStatusTopic accepts "loop:<id>:status" topics (a bus subscription filter).
func IsStatusTopic(topic string) bool {
	_, ok := statusLoopID(topic)
	return ok
}

func statusLoopID(topic string) (string, bool) {
	id, what, ok := events.ParseLoopTopic(topic)
	if !ok || what != events.LoopStatus {
		return "", false
	}
	return id, true
}

// ParseStatus reads a "loop:<id>:status" event ({status, detail}).
func ParseStatus(ev events.Event) (id, status, detail string, ok bool) {
	id, ok = statusLoopID(ev.Topic)
	if !ok {
		return "", "", "", false
	}
	switch d := ev.Data.(type) {
	case map[string]string:
		status, detail = d["status"], d["detail"]
	case map[string]any:
		status, _ = d["status"].(string)
		detail, _ = d["detail"].(string)
	default:
		return "", "", "", false
	}
	return id, status, detail, status != ""
}

// Subscriber is the part of *events.Bus the notifier and the tray need.
type Subscriber interface {
	Subscribe(buffer int, filter func(topic string) bool) (<-chan events.Event, func())
}
