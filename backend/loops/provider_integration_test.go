//go:build integration

package loops

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/loopat/desktop/backend/config"
	"github.com/loopat/desktop/internal/testkit/mockapi"
)

// Switching a loop to another provider and model mid-conversation, with the real CLI:
// the agent restarts with --resume, so the second provider's API sees the earlier turns
// and the new model id; the first provider gets nothing more. meta.json keeps the choice.
func TestProviderAndModelSwitchKeepsTheConversation(t *testing.T) {
	h := newHarness(t)
	second := mockapi.New(mockapi.Options{})
	if err := second.Listen("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { second.Close() })
	o := h.options()
	o.PartialMessages, o.InterruptGrace = true, 10*time.Second
	o.Config = func() config.Config {
		c := h.config()
		c.Providers = append(c.Providers, config.Provider{Name: "second", BaseURL: second.URL(),
			Models: []string{"second-model-x"}, KeyRef: "MOCK_KEY"})
		return c
	}
	m, err := NewManager(o)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.Close)
	meta, err := m.Create(CreateRequest{Title: "switch"})
	if err != nil {
		t.Fatal(err)
	}
	first := h.startMock(m, meta.ID)

	if _, err := m.Send(meta.ID, "remember the word zebra-4711"); err != nil {
		t.Fatal(err)
	}
	waitTurn(t, m, meta.ID, 2*time.Minute)
	firstCount := len(first.MessagesRequests())
	if firstCount == 0 {
		t.Fatal("the first provider saw no request")
	}
	before, _ := m.Get(meta.ID)
	if before.SessionID == "" {
		t.Fatal("no session id after the first turn")
	}

	if err := m.SetProvider(meta.ID, "nope", ""); err == nil {
		t.Fatal("an unconfigured provider was accepted")
	}
	if err := m.SetProvider(meta.ID, "second", ""); err != nil {
		t.Fatal(err)
	}
	got, _ := m.Get(meta.ID)
	if got.Provider != "second" || got.Model != "second-model-x" || got.SessionID != before.SessionID {
		t.Fatalf("meta after the switch: provider %q model %q session %q (was %q)", got.Provider, got.Model, got.SessionID, before.SessionID)
	}
	reopened, err := m.Store().Get(meta.ID)
	if err != nil || reopened.Provider != "second" {
		t.Fatalf("meta.json: %+v %v", reopened, err)
	}

	if _, err := m.Send(meta.ID, "what was the word?"); err != nil {
		t.Fatal(err)
	}
	waitTurn(t, m, meta.ID, 2*time.Minute)
	reqs := second.MessagesRequests()
	if len(reqs) == 0 {
		_, all := transcript(t, m, meta.ID)
		t.Fatalf("the second provider saw no request\n%s", all)
	}
	sawHistory := false
	for _, r := range reqs {
		body := string(r.Body)
		if strings.Contains(body, "zebra-4711") && strings.Contains(body, "what was the word?") &&
			strings.Contains(body, `"model":"second-model-x"`) {
			sawHistory = true
		}
	}
	if !sawHistory {
		t.Fatalf("no request to the second provider carried the earlier turn and the new model:\n%s", reqs[len(reqs)-1].Body)
	}
	if n := len(first.MessagesRequests()); n != firstCount {
		t.Fatalf("the first provider got %d more requests after the switch", n-firstCount)
	}
}
