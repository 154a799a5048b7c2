// The composer's input history: what the user sent to a loop, for ↑/↓ recall.

package loops

import (
	"encoding/json"
	"os"
	"path/filepath"

	"github.com/loopat/desktop/backend/safefs"
)

// Bounds of a loop's input history (history.json in the loop's folder, host-only).
const (
	MaxHistoryEntries  = 200
	maxHistoryEntryLen = 16 << 10
)

// History returns the loop's sent messages, oldest first (at most MaxHistoryEntries).
func (m *Manager) History(id string) ([]string, error) {
	if _, err := m.store.Get(id); err != nil {
		return nil, err
	}
	composerMu.Lock()
	defer composerMu.Unlock()
	return m.readHistory(id), nil
}

func (m *Manager) historyPath(id string) (string, error) {
	dir, err := m.store.Dir(id)
	if err != nil {
		return "", err
	}
	return filepath.Join(dir, "history.json"), nil
}

// readHistory (composerMu held); a missing or broken file is an empty history.
func (m *Manager) readHistory(id string) []string {
	h := []string{}
	p, err := m.historyPath(id)
	if err != nil {
		return h
	}
	if b, err := os.ReadFile(p); err == nil {
		_ = json.Unmarshal(b, &h)
	}
	if h == nil {
		h = []string{}
	}
	return h
}

// remember appends text to the history: a repeat of the last entry is not added, an
// entry too long to be worth recalling is skipped, and the oldest entries go first.
func (m *Manager) remember(id, text string) {
	if text == "" || len(text) > maxHistoryEntryLen {
		return
	}
	composerMu.Lock()
	defer composerMu.Unlock()
	h := m.readHistory(id)
	if len(h) > 0 && h[len(h)-1] == text {
		return
	}
	h = append(h, text)
	if len(h) > MaxHistoryEntries {
		h = h[len(h)-MaxHistoryEntries:]
	}
	p, err := m.historyPath(id)
	if err == nil {
		b, _ := json.Marshal(h)
		err = safefs.WriteFileAtomic(p, b, 0o600)
	}
	if err != nil {
		m.log.Warn("save input history", "loop", id, "err", err)
	}
}
