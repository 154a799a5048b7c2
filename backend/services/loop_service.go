package services

import (
	"encoding/json"
	"errors"
	"strings"

	"github.com/loopat/desktop/backend/hostexec"
	"github.com/loopat/desktop/backend/loops"
	"github.com/loopat/desktop/backend/rpc"
)

// LoopService is the UI's view of loops. Live updates arrive as events: "loops:changed",
// "loop:<id>:message", "loop:<id>:delta", "loop:<id>:status" {status, detail} and
// "loop:<id>:queue".
type LoopService struct {
	m  *loops.Manager
	hx *hostexec.Server // nil when host exec is not wired
	pf PortForwarder    // nil when port forwarding is not wired (loop_ports.go)
}

// NewLoopService exposes m; hx serves HostExecAudit.
func NewLoopService(m *loops.Manager, hx *hostexec.Server) *LoopService {
	return &LoopService{m: m, hx: hx}
}

// List returns every loop, newest first.
func (s *LoopService) List() ([]loops.Meta, error) { return s.m.List() }

// Create makes a loop (optionally on a local git repo, on branch loop/<slug>-<id6>). A
// loop without a title is named after its first message.
func (s *LoopService) Create(req loops.CreateRequest) (loops.Meta, error) {
	if strings.TrimSpace(req.Title) == "" {
		req.Title = UntitledLoop
	}
	return s.m.Create(req)
}

// Get returns one loop.
func (s *LoopService) Get(id string) (loops.Meta, error) {
	m, err := s.m.Get(id)
	return m, userError(err)
}

// Rename sets the title.
func (s *LoopService) Rename(id, title string) error { return userError(s.m.Rename(id, title)) }

// Archive hides or unhides a loop.
func (s *LoopService) Archive(id string, archived bool) error {
	return userError(s.m.Archive(id, archived))
}

// Delete removes the loop, its container and its folder.
func (s *LoopService) Delete(id string) error { return userError(s.m.Delete(id)) }

// Messages is the transcript: CLI stream-json lines plus {type:"user_input"|"error"|"interrupted"}.
func (s *LoopService) Messages(id string) ([]json.RawMessage, error) {
	m, err := s.m.Messages(id)
	return m, userError(err)
}

// MessagesPage is a bounded page of the transcript ending at byte offset before (0: the
// newest lines), at most limit lines (0: the default); page.Start is the cursor for the
// page before it.
func (s *LoopService) MessagesPage(id string, before int64, limit int) (loops.TranscriptPage, error) {
	p, err := s.m.MessagesPage(id, before, limit)
	return p, userError(err)
}

// Send starts a turn or queues the text while the agent works.
func (s *LoopService) Send(id, text string) (loops.SendResult, error) {
	r, err := s.m.Send(id, text)
	if err == nil {
		s.nameAfterFirstMessage(id, text)
	}
	return r, userError(err)
}

// Interrupt stops the running turn. Unless keepQueue, the queued messages are taken off
// the queue and returned so the UI can put their text back into the composer.
func (s *LoopService) Interrupt(id string, keepQueue bool) ([]loops.QueuedMessage, error) {
	q, err := s.m.Interrupt(id, keepQueue)
	if q == nil {
		q = []loops.QueuedMessage{}
	}
	return q, userError(err)
}

// Queue lists queued messages.
func (s *LoopService) Queue(id string) ([]loops.QueuedMessage, error) {
	q, err := s.m.Queue(id)
	return q, userError(err)
}

// Unqueue removes a queued message.
func (s *LoopService) Unqueue(id, queueID string) error { return userError(s.m.Unqueue(id, queueID)) }

// SetPermissionMode picks bypassPermissions, acceptEdits, default or plan.
func (s *LoopService) SetPermissionMode(id, mode string) error {
	return userError(s.m.SetPermissionMode(id, mode))
}

// HostExecAudit lists the host CLI calls the loop made.
func (s *LoopService) HostExecAudit(id string) ([]hostexec.AuditEntry, error) {
	if _, err := s.m.Get(id); err != nil {
		return nil, userError(err)
	}
	if s.hx == nil {
		return nil, errors.New("host exec is not available in this build")
	}
	return s.hx.Audit(id)
}

// userError gives the loop errors a user can act on their kind (4xx, not 500) and
// plain words with what to do next; other errors pass unchanged.
func userError(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, loops.ErrNotFound):
		return rpc.NotFound("This loop does not exist (it may have been deleted).", "Pick a loop in the sidebar.", err)
	case errors.Is(err, loops.ErrArchived):
		return rpc.Conflict("This loop is archived.", "Unarchive it to continue.", err)
	case errors.Is(err, loops.ErrEmptyMessage):
		return rpc.Invalid("The message is empty.", "Type what you want done, then send.", err)
	case errors.Is(err, loops.ErrBadInput):
		msg := strings.TrimPrefix(err.Error(), loops.ErrBadInput.Error()+": ")
		if msg != "" {
			msg = strings.ToUpper(msg[:1]) + msg[1:]
		}
		return rpc.Invalid(msg+".", "", err)
	}
	return err
}
