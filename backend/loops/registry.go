// Loop CRUD: create, list, rename, archive, delete, permission mode.

package loops

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/loopat/desktop/backend/agent"
	"github.com/loopat/desktop/backend/events"
)

// CreateRequest is what the UI sends to create a loop.
type CreateRequest struct {
	Title string `json:"title"`
	Repo  string `json:"repo"`
	Vault string `json:"vault"`
}

// Create makes a new loop (its container starts with the first message).
func (m *Manager) Create(req CreateRequest) (Meta, error) {
	if meta, ok := m.claimWarm(req); ok {
		return meta, nil
	}
	c := m.cfg()
	meta, err := m.store.Create(NewLoop{
		Title: req.Title, Repo: req.Repo, Vault: req.Vault,
		Provider: c.Agent.DefaultProvider, Model: c.Agent.DefaultModel, PermissionMode: c.Agent.PermissionMode,
	})
	if err != nil {
		return Meta{}, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	meta = m.pullContext(ctx, meta)
	cancel()
	m.publish(events.TopicLoopsChanged, map[string]string{"id": meta.ID})
	m.KickWarm()
	return meta, nil
}

// pullContext is the pull edge: the loop starts from the latest shared context. What
// could not be prepared becomes the loop's warning.
func (m *Manager) pullContext(ctx context.Context, meta Meta) Meta {
	if m.opt.Context != nil {
		lc, err := m.opt.Context(ctx, meta.ID)
		warnings := lc.Warnings
		if err != nil {
			m.log.Warn("prepare loop context", "loop", meta.ID, "err", err)
			warnings = append(warnings, "unavailable: "+err.Error())
		}
		for i, w := range warnings {
			warnings[i] = string(m.scrub([]byte(w))) // shown in the UI like a status detail
		}
		if len(warnings) > 0 {
			if updated, err := m.store.Update(meta.ID, func(x *Meta) {
				x.ContextWarnings = warnings
				x.Warning = composeWarning("", warnings)
			}); err == nil {
				meta = updated
			}
		}
	}
	return meta
}

// List returns all loops, newest first (a warm loop not handed out is none).
func (m *Manager) List() ([]Meta, error) {
	all, err := m.store.List()
	if err != nil {
		return nil, err
	}
	out := all[:0]
	for _, meta := range all {
		if !meta.Warm {
			out = append(out, meta)
		}
	}
	return out, nil
}

// Get returns one loop.
func (m *Manager) Get(id string) (Meta, error) {
	meta, err := m.store.Get(id)
	if err == nil && meta.Warm {
		return Meta{}, errWarmHidden(id)
	}
	return meta, err
}

// Rename changes the title.
func (m *Manager) Rename(id, title string) error {
	title = strings.TrimSpace(title)
	if title == "" {
		return fmt.Errorf("%w: a loop needs a title", ErrBadInput)
	}
	if _, err := m.store.Update(id, func(x *Meta) { x.Title = title }); err != nil {
		return err
	}
	m.publish(events.TopicLoopsChanged, map[string]string{"id": id})
	return nil
}

// Archive hides (or unhides) a loop; archiving ends its turn (a start in flight too)
// and its agent, then stops its container.
func (m *Manager) Archive(id string, archived bool) error {
	if !archived {
		if _, err := m.store.Update(id, func(x *Meta) { x.Archived = false }); err != nil {
			return err
		}
		m.publish(events.TopicLoopsChanged, map[string]string{"id": id})
		return nil
	}
	if _, err := m.Get(id); err != nil {
		return err
	}
	r := m.runFor(id)
	why := ErrArchived
	m.beginStop(r, why) // before the flag is saved: see Send
	defer m.endStop(r, why)
	if _, err := m.store.Update(id, func(x *Meta) { x.Archived = true }); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := m.endTurnAndAgent(ctx, r); err != nil {
		m.log.Warn("archive: the turn did not end", "loop", id, "err", err)
	}
	m.stopLoop(ctx, id, StatusStopped)
	m.publish(events.TopicLoopsChanged, map[string]string{"id": id})
	return nil
}

// Delete ends the loop's turn (a start in flight too) and agent, then removes the
// container and the loop folder. The turn has ended before the container goes, so a
// start cannot recreate it afterwards.
func (m *Manager) Delete(id string) error {
	if _, err := m.Get(id); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	r := m.runFor(id)
	why := fmt.Errorf("%w: %s (being deleted)", ErrNotFound, id)
	m.beginStop(r, why)
	if err := m.endTurnAndAgent(ctx, r); err != nil {
		m.endStop(r, why)
		return fmt.Errorf("delete loop %s: %w", id, err)
	}
	if err := m.sb.Remove(ctx, id); err != nil {
		m.endStop(r, why)
		return fmt.Errorf("delete loop %s: %w", id, err)
	}
	if err := m.store.Delete(id); err != nil {
		m.endStop(r, why)
		return err
	}
	m.mu.Lock()
	if m.runs[id] == r {
		delete(m.runs, id)
	}
	m.mu.Unlock()
	if m.opt.Gateway != nil {
		m.opt.Gateway.Forget(id)
	}
	m.publish(events.TopicLoopsChanged, map[string]string{"id": id})
	return nil
}

// beginStop keeps new turns (Send, the queue) off r with why until endStop.
func (m *Manager) beginStop(r *run, why error) {
	r.mu.Lock()
	r.stopping = why
	r.queue = nil // a stopped loop sends nothing more
	r.mu.Unlock()
}

// endStop lets turns start again, unless another stop took over meanwhile.
func (m *Manager) endStop(r *run, why error) {
	r.mu.Lock()
	if r.stopping == why {
		r.stopping = nil
	}
	r.mu.Unlock()
}

// Messages returns the transcript.
func (m *Manager) Messages(id string) ([]json.RawMessage, error) {
	if _, err := m.store.Get(id); err != nil {
		return nil, err
	}
	return m.store.Transcript(id).Read()
}

// ValidPermissionMode reports whether mode is one the CLI accepts.
func ValidPermissionMode(mode string) bool {
	switch mode {
	case "bypassPermissions", "acceptEdits", "default", "plan":
		return true
	}
	return false
}

// SetPermissionMode stores the mode and applies it to a running agent.
func (m *Manager) SetPermissionMode(id, mode string) error {
	if !ValidPermissionMode(mode) {
		return fmt.Errorf("%w: permission mode %q is not one of bypassPermissions, acceptEdits, default, plan", ErrBadInput, mode)
	}
	return m.setSessionSetting(id, "permission mode", func(x *Meta) { x.PermissionMode = mode },
		func(s *agent.Session) error { return s.SetPermissionMode(mode) })
}
