package services

import (
	"encoding/json"
	"errors"

	"github.com/loopat/desktop/backend/hostexec"
	"github.com/loopat/desktop/backend/loops"
)

// LoopService is the UI's view of loops. Live updates arrive as events: "loops:changed",
// "loop:<id>:message", "loop:<id>:delta", "loop:<id>:status" {status, detail} and
// "loop:<id>:queue".
type LoopService struct {
	m  *loops.Manager
	hx *hostexec.Server // nil when host exec is not wired
}

// NewLoopService exposes m; hx serves HostExecAudit.
func NewLoopService(m *loops.Manager, hx *hostexec.Server) *LoopService {
	return &LoopService{m: m, hx: hx}
}

// List returns every loop, newest first.
func (s *LoopService) List() ([]loops.Meta, error) { return s.m.List() }

// Create makes a loop (optionally on a local git repo, on branch loop/<slug>-<id6>).
func (s *LoopService) Create(req loops.CreateRequest) (loops.Meta, error) { return s.m.Create(req) }

// Get returns one loop.
func (s *LoopService) Get(id string) (loops.Meta, error) { return s.m.Get(id) }

// Rename sets the title.
func (s *LoopService) Rename(id, title string) error { return s.m.Rename(id, title) }

// Archive hides or unhides a loop.
func (s *LoopService) Archive(id string, archived bool) error { return s.m.Archive(id, archived) }

// Delete removes the loop, its container and its folder.
func (s *LoopService) Delete(id string) error { return s.m.Delete(id) }

// Messages is the transcript: CLI stream-json lines plus {type:"user_input"|"error"|"interrupted"}.
func (s *LoopService) Messages(id string) ([]json.RawMessage, error) { return s.m.Messages(id) }

// Send starts a turn or queues the text while the agent works.
func (s *LoopService) Send(id, text string) (loops.SendResult, error) { return s.m.Send(id, text) }

// Interrupt stops the running turn. Unless keepQueue, the queued messages are taken off
// the queue and returned so the UI can put their text back into the composer.
func (s *LoopService) Interrupt(id string, keepQueue bool) ([]loops.QueuedMessage, error) {
	q, err := s.m.Interrupt(id, keepQueue)
	if q == nil {
		q = []loops.QueuedMessage{}
	}
	return q, err
}

// Queue lists queued messages.
func (s *LoopService) Queue(id string) ([]loops.QueuedMessage, error) { return s.m.Queue(id) }

// Unqueue removes a queued message.
func (s *LoopService) Unqueue(id, queueID string) error { return s.m.Unqueue(id, queueID) }

// SetPermissionMode picks bypassPermissions, acceptEdits, default or plan.
func (s *LoopService) SetPermissionMode(id, mode string) error {
	return s.m.SetPermissionMode(id, mode)
}

// HostExecAudit lists the host CLI calls the loop made.
func (s *LoopService) HostExecAudit(id string) ([]hostexec.AuditEntry, error) {
	if _, err := s.m.Get(id); err != nil {
		return nil, err
	}
	if s.hx == nil {
		return nil, errors.New("host exec is not available in this build")
	}
	return s.hx.Audit(id)
}
