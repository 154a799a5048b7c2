package services

import (
	"context"
	"time"

	"github.com/loopat/desktop/backend/terminal"
)

// Opening may create and start the loop's container (and build its image).
const terminalOpenTimeout = 30 * time.Minute

// TerminalService gives the UI shells in loop containers. Output arrives as
// "term:<session>:data" events (base64), the end as "term:<session>:exit" {code, error}.
type TerminalService struct {
	ctx context.Context
	t   *terminal.Manager
}

// NewTerminalService exposes t; appCtx bounds its work.
func NewTerminalService(appCtx context.Context, t *terminal.Manager) *TerminalService {
	return &TerminalService{ctx: appCtx, t: t}
}

// Open starts `bash -l` in the loop's container and returns the session id.
func (s *TerminalService) Open(loopID string, cols, rows int) (string, error) {
	ctx, cancel := context.WithTimeout(s.ctx, terminalOpenTimeout)
	defer cancel()
	return s.t.Open(ctx, loopID, cols, rows)
}

// Write sends base64-encoded keystrokes.
func (s *TerminalService) Write(session, dataBase64 string) error {
	return s.t.Write(session, dataBase64)
}

// Resize sets the terminal size.
func (s *TerminalService) Resize(session string, cols, rows int) error {
	ctx, cancel := context.WithTimeout(s.ctx, 10*time.Second)
	defer cancel()
	return s.t.Resize(ctx, session, cols, rows)
}

// Close ends the shell.
func (s *TerminalService) Close(session string) error {
	ctx, cancel := context.WithTimeout(s.ctx, 30*time.Second)
	defer cancel()
	return s.t.Close(ctx, session)
}
