// The model of a loop: chosen per loop, kept in meta.json, applied to a running agent
// at once (set_model) and to a new one with --model (with --resume, so the
// conversation goes on).

package loops

import (
	"fmt"
	"regexp"

	"github.com/loopat/desktop/backend/agent"
	"github.com/loopat/desktop/backend/events"
)

var modelRe = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._:/@\[\]-]{0,127}$`)

// SetModel stores the loop's model and switches a running agent to it.
func (m *Manager) SetModel(id, model string) error {
	if !modelRe.MatchString(model) {
		return fmt.Errorf("%w: model id %q is not a model name (letters, digits, . _ : / @ [ ] -, at most 128)", ErrBadInput, model)
	}
	return m.setSessionSetting(id, "model", func(x *Meta) { x.Model = model },
		func(s *agent.Session) error { return s.SetModel(model) })
}

// setSessionSetting stores a per-loop agent setting in meta.json and applies it to the
// running agent, if any (the next agent starts with the stored value).
func (m *Manager) setSessionSetting(id, what string, store func(*Meta), apply func(*agent.Session) error) error {
	if _, err := m.store.Update(id, store); err != nil {
		return err
	}
	r := m.runFor(id)
	r.mu.Lock()
	s := r.sess
	r.mu.Unlock()
	if s != nil {
		if err := apply(s); err != nil {
			return fmt.Errorf("apply %s: %w", what, err)
		}
	}
	m.publish(events.TopicLoopsChanged, map[string]string{"id": id})
	return nil
}
