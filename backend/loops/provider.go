// The provider of a loop: chosen per loop and kept in meta.json like the model. A running
// CLI cannot change its API endpoint, so a switch ends the agent process; the next
// message starts a new one with --resume (the session id is kept), the new provider's
// route and the model: the conversation goes on.

package loops

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/loopat/desktop/backend/config"
	"github.com/loopat/desktop/backend/events"
)

// SetProvider stores the loop's provider and model. The provider must be configured;
// model "" means the provider's default. When the provider changes, a running agent is
// ended so the next message resumes the session through the new provider; with only
// the model changed it is switched in place (SetModel). Refused while a turn runs.
func (m *Manager) SetProvider(id, provider, model string) error {
	cfg := m.cfg()
	at := slices.IndexFunc(cfg.Providers, func(p config.Provider) bool { return p.Name == provider })
	if at < 0 {
		return fmt.Errorf("%w: no provider named %q in config.toml", ErrBadInput, provider)
	}
	p := cfg.Providers[at]
	if model == "" {
		model = cfg.Agent.DefaultModel
		if len(p.Models) > 0 && !slices.Contains(p.Models, model) {
			model = p.Models[0]
		}
	}
	if !modelRe.MatchString(model) {
		return fmt.Errorf("%w: model id %q is not a model name (letters, digits, . _ : / @ [ ] -, at most 128)", ErrBadInput, model)
	}
	meta, err := m.store.Get(id)
	if err != nil {
		return err
	}
	if meta.Archived {
		return ErrArchived
	}
	if meta.Provider == provider {
		return m.SetModel(id, model)
	}
	r := m.runFor(id)
	r.mu.Lock()
	if r.busy {
		r.mu.Unlock()
		return fmt.Errorf("%w: the agent is working; interrupt it or wait for the turn to end, then switch the provider", ErrBadInput)
	}
	// Stored under r.mu: a message sent meanwhile starts its agent with the new provider.
	if _, err := m.store.Update(id, func(x *Meta) { x.Provider, x.Model = provider, model }); err != nil {
		r.mu.Unlock()
		return err
	}
	s := r.sess
	r.sess = nil // the next message starts a new process on the new route
	r.mu.Unlock()
	if s != nil {
		ctx, cancel := context.WithTimeout(m.life, 30*time.Second)
		if err := s.Kill(ctx); err != nil {
			m.log.Warn("switch provider: end the old agent", "loop", id, "err", err)
		}
		cancel()
	}
	m.publish(events.TopicLoopsChanged, map[string]string{"id": id})
	return nil
}
