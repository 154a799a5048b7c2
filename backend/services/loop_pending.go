package services

import (
	"errors"

	"github.com/loopat/desktop/backend/loops"
	"github.com/loopat/desktop/backend/rpc"
)

// Pending lists what waits for the user in a loop: permission requests, questions
// and plans to approve ("loop:<id>:pending" carries the same list when it changes).
func (s *LoopService) Pending(id string) ([]loops.Pending, error) {
	p, err := s.m.PendingItems(id)
	if p == nil {
		p = []loops.Pending{}
	}
	return p, pendingError(err)
}

// Answer answers one pending item: allow (once, or always with a rule stored for the
// loop), deny with a note for the agent, or the answers to its questions.
func (s *LoopService) Answer(id, pendingID string, answer loops.PendingAnswer) error {
	return pendingError(s.m.Answer(id, pendingID, answer))
}

// PermissionRules lists the loop's "allow always" rules.
func (s *LoopService) PermissionRules(id string) ([]string, error) {
	r, err := s.m.PermissionRules(id)
	if r == nil {
		r = []string{}
	}
	return r, userError(err)
}

// RemovePermissionRule drops a rule; matching requests ask again.
func (s *LoopService) RemovePermissionRule(id, rule string) error {
	return userError(s.m.RemovePermissionRule(id, rule))
}

func pendingError(err error) error {
	if errors.Is(err, loops.ErrNoPending) {
		return rpc.NotFound("Nothing waits for this answer anymore.", "It was answered, withdrawn by the agent, or its turn ended.", err)
	}
	return userError(err)
}

// SetModel picks the loop's model (kept in meta.json); a running agent switches at
// once and keeps the conversation.
func (s *LoopService) SetModel(id, model string) error { return userError(s.m.SetModel(id, model)) }
