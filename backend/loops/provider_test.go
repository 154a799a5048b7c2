package loops

import (
	"errors"
	"testing"
	"time"

	"github.com/loopat/desktop/backend/config"
)

// A provider switch stores provider and model, keeps the session (the next agent
// resumes it) and ends the running agent; it is refused mid-turn and for a provider
// the config does not name, changing nothing.
func TestSetProviderRestartsTheAgentAndKeepsTheSession(t *testing.T) {
	m, id, f, _ := managerWithAskingAgent(t)
	m.opt.Config = func() config.Config {
		c := config.Default()
		c.Providers = append(c.Providers, config.Provider{Name: "second", BaseURL: "http://127.0.0.1:9", Models: []string{"m-two"}, KeyRef: "K"})
		return c
	}
	if _, err := m.store.Update(id, func(x *Meta) { x.Provider, x.SessionID = "anthropic", "sess-1" }); err != nil {
		t.Fatal(err)
	}
	for _, bad := range [][2]string{{"nope", ""}, {"", ""}, {"second", "--bad model"}} {
		if err := m.SetProvider(id, bad[0], bad[1]); !errors.Is(err, ErrBadInput) {
			t.Fatalf("SetProvider(%q, %q) = %v", bad[0], bad[1], err)
		}
	}

	// Mid-turn: refused.
	if _, err := m.Send(id, canUseTool("p1", "Bash", `{"command":"ls"}`)); err != nil {
		t.Fatal(err)
	}
	waitPending(t, m, id, 1)
	if err := m.SetProvider(id, "second", ""); !errors.Is(err, ErrBadInput) {
		t.Fatalf("switch mid-turn = %v", err)
	}
	if meta, _ := m.Get(id); meta.Provider != "anthropic" {
		t.Fatalf("a refused switch stored provider %q", meta.Provider)
	}
	if _, err := m.Interrupt(id, false); err != nil {
		t.Fatal(err)
	}
	waitIdle(t, m, id, 5*time.Second)

	if err := m.SetProvider(id, "second", ""); err != nil {
		t.Fatal(err)
	}
	meta, _ := m.Get(id)
	if meta.Provider != "second" || meta.Model != "m-two" || meta.SessionID != "sess-1" {
		t.Fatalf("meta = provider %q model %q session %q", meta.Provider, meta.Model, meta.SessionID)
	}
	select {
	case <-f.exited:
	case <-time.After(5 * time.Second):
		t.Fatal("the old agent still runs after a provider switch")
	}
	r := m.runFor(id)
	r.mu.Lock()
	sess := r.sess
	r.mu.Unlock()
	if sess != nil {
		t.Fatal("the old session is still the loop's agent")
	}
	// Same provider, other model: only the model changes.
	if err := m.SetProvider(id, "second", "m-three"); err != nil {
		t.Fatal(err)
	}
	if meta, _ := m.Get(id); meta.Provider != "second" || meta.Model != "m-three" {
		t.Fatalf("meta = %+v", meta)
	}
}
