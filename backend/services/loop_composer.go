package services

import (
	"encoding/base64"
	"fmt"

	"github.com/loopat/desktop/backend/loops"
	"github.com/loopat/desktop/backend/rpc"
)

// Composer returns the CLI's slash commands (from its last init message) and the context
// usage for the composer. Changes arrive as "loop:<id>:composer".
func (s *LoopService) Composer(id string) (loops.ComposerState, error) {
	st, err := s.m.Composer(id)
	return st, userError(err)
}

// History is the loop's input history for ↑/↓ recall, oldest first.
func (s *LoopService) History(id string) ([]string, error) {
	h, err := s.m.History(id)
	return h, userError(err)
}

// SendWithImages is Send with images (base64 png, jpeg, gif or webp) that reach the
// agent as image content blocks.
func (s *LoopService) SendWithImages(id, text string, images []loops.ImageAttachment) (loops.SendResult, error) {
	r, err := s.m.SendWithImages(id, text, images)
	if err == nil {
		s.nameAfterFirstMessage(id, text)
	}
	return r, userError(err)
}

// EditQueued replaces the text of a queued message.
func (s *LoopService) EditQueued(id, queueID, text string) error {
	return userError(s.m.EditQueued(id, queueID, text))
}

// ClearQueue drops every queued message and returns them.
func (s *LoopService) ClearQueue(id string) ([]loops.QueuedMessage, error) {
	q, err := s.m.ClearQueue(id)
	return q, userError(err)
}

// NewSession makes the next message start a fresh CLI session (/clear); the transcript
// keeps the earlier conversation above a divider.
func (s *LoopService) NewSession(id string) error { return userError(s.m.NewSession(id)) }

// Upload writes a file (base64) into the loop's workdir under uploads/ and returns its
// workdir-relative path.
func (s *LoopService) Upload(id, name, dataBase64 string) (string, error) {
	if base64.StdEncoding.DecodedLen(len(dataBase64)) > loops.MaxUploadBytes+3 {
		return "", rpc.Invalid(fmt.Sprintf("The file is larger than %d MiB.", loops.MaxUploadBytes>>20), "Copy large files into the workdir another way (e.g. the terminal).", nil)
	}
	data, err := base64.StdEncoding.DecodeString(dataBase64)
	if err != nil {
		return "", rpc.Invalid("The file data is not base64.", "", err)
	}
	p, err := s.m.Upload(id, name, data)
	return p, userError(err)
}

// FindFiles lists workdir paths containing query, for the composer's @ picker (at most
// 50; folders end in "/"; links are not followed).
func (s *LoopService) FindFiles(id, query string) ([]string, error) {
	f, err := s.m.FindFiles(id, query)
	return f, userError(err)
}
