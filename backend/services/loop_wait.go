package services

import (
	"context"
	"errors"
	"time"
)

// maxWaitIdleSeconds bounds one WaitIdle call; a caller that waits longer calls again.
const maxWaitIdleSeconds = 60

// WaitIdle waits up to seconds (at most 60) until the loop has no turn running or
// queued, and says whether it has. A fresh `loopat loop send` that handed its message to
// the running app (over the control socket) waits for the reply with it, so the turn
// runs in the app, where its prompts also show.
func (s *LoopService) WaitIdle(id string, seconds int) (bool, error) {
	if _, err := s.m.Get(id); err != nil {
		return false, userError(err)
	}
	seconds = min(max(seconds, 0), maxWaitIdleSeconds)
	ctx, cancel := context.WithTimeout(context.Background(), time.Duration(seconds)*time.Second)
	defer cancel()
	switch err := s.m.Wait(ctx, id); {
	case err == nil:
		return true, nil
	case errors.Is(err, context.DeadlineExceeded):
		return false, nil
	default:
		return false, userError(err)
	}
}
