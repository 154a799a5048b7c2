// The model of a loop: chosen per loop, kept in meta.json, applied to a running agent
// at once (set_model) and to a new one with --model (with --resume, so the
// conversation goes on).

package loops

import (
	"fmt"
	"regexp"

	"github.com/loopat/desktop/backend/events"
)

var modelRe = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._:/@\[\]-]{0,127}$`)

// SetModel stores the loop's model and switches a running agent to it.
func (m *Manager) SetModel(id, model string) error {
	if !modelRe.MatchString(model) {
		return fmt.Errorf("%w: model id %q is not a model name (letters, digits, . _ : / @ [ ] -, at most 128)", ErrBadInput, model)
	}
	if _, err := m.store.Update(id, func(x *Meta) { x.Model = model }); err != nil {
		return err
	}
	r := m.runFor(id)
	r.mu.Lock()
	s := r.sess
	r.mu.Unlock()
	if s != nil {
		if err := s.SetModel(model); err != nil {
			return fmt.Errorf("apply model: %w", err)
		}
	}
	m.publish(events.TopicLoopsChanged, map[string]string{"id": id})
	return nil
}
