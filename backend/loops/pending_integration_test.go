//go:build integration

package loops

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// waitForPending waits for n open items of the loop (the real CLI's can_use_tool).
func waitForPending(t *testing.T, m *Manager, id string, n int, d time.Duration) []Pending {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		p, err := m.PendingItems(id)
		if err != nil {
			t.Fatal(err)
		}
		if len(p) == n {
			return p
		}
		if time.Now().After(deadline) {
			_, all := transcript(t, m, id)
			t.Fatalf("pending = %+v, want %d\n%s", p, n, all)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// The real CLI in default mode asks before running Bash: the request waits as a
// pending item (status waiting); Allow runs the tool, Deny sends the user's note to the
// model as the tool's error result and the turn ends with the agent's reply; an
// "allow always" rule lets the next matching call run without asking.
func TestPermissionPromptsWithTheRealCLI(t *testing.T) {
	h := newHarness(t)
	m := h.manager()
	meta, err := m.Create(CreateRequest{Title: "prompts"})
	if err != nil {
		t.Fatal(err)
	}
	if err := m.SetPermissionMode(meta.ID, "default"); err != nil {
		t.Fatal(err)
	}
	mock := h.startMock(m, meta.ID)
	work := m.Store().WorkDir(meta.ID)
	// A first prompt without a marker: later prompts' markers then choose the reply.
	if _, err := m.Send(meta.ID, "hello"); err != nil {
		t.Fatal(err)
	}
	waitTurn(t, m, meta.ID, 2*time.Minute)

	// Allow once.
	if _, err := m.Send(meta.ID, "[[tool:bash echo allowed > allowed.txt]]"); err != nil {
		t.Fatal(err)
	}
	p := waitForPending(t, m, meta.ID, 1, time.Minute)[0]
	if p.Kind != PendingPermission || p.Tool != "Bash" || !strings.Contains(string(p.Input), "allowed.txt") {
		t.Fatalf("pending = %+v", p)
	}
	if got, _ := m.Get(meta.ID); got.Status != StatusWaiting {
		t.Fatalf("status while the prompt is open = %s", got.Status)
	}
	if _, err := os.Stat(filepath.Join(work, "allowed.txt")); err == nil {
		t.Fatal("the tool ran before it was allowed")
	}
	if err := m.Answer(meta.ID, p.ID, PendingAnswer{Allow: true}); err != nil {
		t.Fatal(err)
	}
	waitTurn(t, m, meta.ID, time.Minute)
	if b, err := os.ReadFile(filepath.Join(work, "allowed.txt")); err != nil || strings.TrimSpace(string(b)) != "allowed" {
		_, all := transcript(t, m, meta.ID)
		t.Fatalf("allowed tool did not run: %q %v\n%s", b, err, all)
	}

	// Deny with a note.
	if _, err := m.Send(meta.ID, "[[tool:bash echo denied > denied.txt]]"); err != nil {
		t.Fatal(err)
	}
	p = waitForPending(t, m, meta.ID, 1, time.Minute)[0]
	if err := m.Answer(meta.ID, p.ID, PendingAnswer{Message: "not now, use the scratch folder"}); err != nil {
		t.Fatal(err)
	}
	waitTurn(t, m, meta.ID, time.Minute)
	if _, err := os.Stat(filepath.Join(work, "denied.txt")); err == nil {
		t.Fatal("a denied tool ran")
	}
	if res, all := lastResult(t, m, meta.ID); !strings.Contains(res, "tool error: not now, use the scratch folder") {
		t.Fatalf("the agent's reply does not carry the denial: %q\n%s", res, all)
	}
	sawDenial := false
	for _, r := range mock.MessagesRequests() {
		body := string(r.Body)
		if strings.Contains(body, `"is_error":true`) && strings.Contains(body, "not now, use the scratch folder") {
			sawDenial = true
		}
	}
	if !sawDenial {
		t.Fatal("the model API never saw an is_error tool_result with the user's note")
	}
	if got, _ := m.Get(meta.ID); got.Status != StatusIdle {
		t.Fatalf("status after the denied turn = %s", got.Status)
	}

	// Allow always: the rule is stored and the next matching call runs unasked.
	if _, err := m.Send(meta.ID, "[[tool:bash touch always-1.txt]]"); err != nil {
		t.Fatal(err)
	}
	p = waitForPending(t, m, meta.ID, 1, time.Minute)[0]
	if err := m.Answer(meta.ID, p.ID, PendingAnswer{Allow: true, Always: true, Rule: "Bash(touch:*)"}); err != nil {
		t.Fatal(err)
	}
	waitTurn(t, m, meta.ID, time.Minute)
	if rules, _ := m.PermissionRules(meta.ID); len(rules) != 1 || rules[0] != "Bash(touch:*)" {
		t.Fatalf("rules = %v", rules)
	}
	if _, err := m.Send(meta.ID, "[[tool:bash touch always-2.txt]]"); err != nil {
		t.Fatal(err)
	}
	waitTurn(t, m, meta.ID, time.Minute)
	for _, f := range []string{"always-1.txt", "always-2.txt"} {
		if _, err := os.Stat(filepath.Join(work, f)); err != nil {
			_, all := transcript(t, m, meta.ID)
			t.Fatalf("%s: %v\n%s", f, err, all)
		}
	}
	if p, _ := m.PendingItems(meta.ID); len(p) != 0 {
		t.Fatalf("a call covered by the rule still asked: %+v", p)
	}
}
