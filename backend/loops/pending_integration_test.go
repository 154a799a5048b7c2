//go:build integration

package loops

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/loopat/desktop/internal/testkit/mockapi"
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

// startPromptMock is startMock with scenarios that call AskUserQuestion ([[ask]]) and
// ExitPlanMode ([[plan]]), then echo the tool results they got.
func (h *harness) startPromptMock(m *Manager, loopID string) *mockapi.Server {
	h.t.Helper()
	if err := m.EnsureContainer(context.Background(), loopID); err != nil {
		h.t.Fatalf("ensure container: %v", err)
	}
	echoResults := func(c mockapi.Conversation) mockapi.Reply {
		var parts []string
		for _, r := range c.ToolResults {
			prefix := "tool result: "
			if r.IsError {
				prefix = "tool error: "
			}
			parts = append(parts, prefix+r.Text)
		}
		return mockapi.Reply{Content: []mockapi.Block{mockapi.Text(strings.Join(parts, "\n"))}}
	}
	srv := mockapi.New(mockapi.Options{Scenarios: map[string]mockapi.Scenario{
		"ask": func(c mockapi.Conversation) mockapi.Reply {
			if c.Step > 0 {
				return echoResults(c)
			}
			return mockapi.Reply{Content: []mockapi.Block{mockapi.ToolUse("AskUserQuestion", map[string]any{"questions": []any{
				map[string]any{"question": "Which database?", "header": "DB", "multiSelect": false, "options": []any{
					map[string]any{"label": "Postgres", "description": "a server"},
					map[string]any{"label": "SQLite", "description": "a file"},
				}},
			}})}}
		},
		"plan": func(c mockapi.Conversation) mockapi.Reply {
			if c.Step > 0 {
				return echoResults(c)
			}
			return mockapi.Reply{Content: []mockapi.Block{mockapi.ToolUse("ExitPlanMode", map[string]any{"plan": "# Plan\n1. Add the table\n2. Test it"})}}
		},
	}})
	if err := srv.Listen("127.0.0.1:0"); err != nil {
		h.t.Fatal(err)
	}
	h.t.Cleanup(func() { srv.Close() })
	h.mu.Lock()
	h.mock = srv
	h.mu.Unlock()
	return srv
}

// AskUserQuestion and ExitPlanMode reach the user as question and plan items; the
// answers go back to the real CLI and resume the turn.
func TestQuestionAndPlanWithTheRealCLI(t *testing.T) {
	h := newHarness(t)
	m := h.manager()
	meta, err := m.Create(CreateRequest{Title: "questions"})
	if err != nil {
		t.Fatal(err)
	}
	if err := m.SetPermissionMode(meta.ID, "plan"); err != nil {
		t.Fatal(err)
	}
	h.startPromptMock(m, meta.ID)
	if _, err := m.Send(meta.ID, "hello"); err != nil {
		t.Fatal(err)
	}
	waitTurn(t, m, meta.ID, 2*time.Minute)

	if _, err := m.Send(meta.ID, "[[ask]]"); err != nil {
		t.Fatal(err)
	}
	p := waitForPending(t, m, meta.ID, 1, time.Minute)[0]
	if p.Kind != PendingQuestion || p.Rule != "" || !strings.Contains(string(p.Input), "Which database?") {
		t.Fatalf("question = %+v", p)
	}
	if err := m.Answer(meta.ID, p.ID, PendingAnswer{Allow: true, Answers: map[string]string{"Which database?": "SQLite"}}); err != nil {
		t.Fatal(err)
	}
	waitTurn(t, m, meta.ID, time.Minute)
	if res, all := lastResult(t, m, meta.ID); !strings.Contains(res, "tool result: ") || !strings.Contains(res, "SQLite") {
		t.Fatalf("the answer did not reach the model: %q\n%s", res, all)
	}

	// Keep planning (deny with a note), then approve.
	if _, err := m.Send(meta.ID, "[[plan]]"); err != nil {
		t.Fatal(err)
	}
	p = waitForPending(t, m, meta.ID, 1, time.Minute)[0]
	// CLI 2.1.328 asks with an empty input: it keeps the plan in its own plan file, and
	// the model's plan text is in the transcript before the request.
	if p.Kind != PendingPlan || p.Tool != "ExitPlanMode" {
		t.Fatalf("plan = %+v", p)
	}
	if err := m.Answer(meta.ID, p.ID, PendingAnswer{Message: "also add an index"}); err != nil {
		t.Fatal(err)
	}
	waitTurn(t, m, meta.ID, time.Minute)
	if res, all := lastResult(t, m, meta.ID); !strings.Contains(res, "tool error: ") || !strings.Contains(res, "also add an index") {
		t.Fatalf("keep planning did not reach the model: %q\n%s", res, all)
	}
	if _, err := m.Send(meta.ID, "[[plan]]"); err != nil {
		t.Fatal(err)
	}
	p = waitForPending(t, m, meta.ID, 1, time.Minute)[0]
	if err := m.Answer(meta.ID, p.ID, PendingAnswer{Allow: true}); err != nil {
		t.Fatal(err)
	}
	waitTurn(t, m, meta.ID, time.Minute)
	if res, all := lastResult(t, m, meta.ID); !strings.Contains(res, "tool result: ") {
		t.Fatalf("the approved plan's result: %q\n%s", res, all)
	}
}

// A prompt open when the app stops is never a silent hang: the next app start ends
// that turn with a note in the transcript (the CLI that asked is gone, so the question
// cannot be answered), the loop is idle with nothing pending, and the next message
// resumes the conversation.
func TestPendingPromptAcrossAnAppRestart(t *testing.T) {
	h := newHarness(t)
	m1 := h.manager()
	meta, err := m1.Create(CreateRequest{Title: "restart while asking"})
	if err != nil {
		t.Fatal(err)
	}
	if err := m1.SetPermissionMode(meta.ID, "default"); err != nil {
		t.Fatal(err)
	}
	h.startMock(m1, meta.ID)
	if _, err := m1.Send(meta.ID, "hello"); err != nil {
		t.Fatal(err)
	}
	waitTurn(t, m1, meta.ID, 2*time.Minute)
	if _, err := m1.Send(meta.ID, "[[tool:bash echo late > late.txt]]"); err != nil {
		t.Fatal(err)
	}
	waitForPending(t, m1, meta.ID, 1, time.Minute)
	if got, _ := m1.Get(meta.ID); got.Status != StatusWaiting {
		t.Fatalf("status while asking = %s", got.Status)
	}
	m1.Close() // the app stops with the prompt open

	m2 := h.manager()
	got, err := m2.Get(meta.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != StatusIdle {
		t.Fatalf("status after the restart = %s", got.Status)
	}
	if p, err := m2.PendingItems(meta.ID); err != nil || len(p) != 0 {
		t.Fatalf("pending after the restart = %+v, %v", p, err)
	}
	ls, all := transcript(t, m2, meta.ID)
	noted := false
	for _, l := range ls {
		if l.Type == "error" && strings.Contains(string(l.Message), "waited for your answer") {
			noted = true
		}
	}
	if !noted {
		t.Fatalf("no note about the dropped prompt:\n%s", all)
	}
	if _, err := os.Stat(filepath.Join(m2.Store().WorkDir(meta.ID), "late.txt")); err == nil {
		t.Fatal("the unanswered tool ran")
	}
	if _, err := m2.Send(meta.ID, "still there?"); err != nil {
		t.Fatal(err)
	}
	waitTurn(t, m2, meta.ID, 2*time.Minute)
	if res, all := lastResult(t, m2, meta.ID); !strings.Contains(res, "echo: still there?") {
		t.Fatalf("the conversation did not go on: %q\n%s", res, all)
	}
}
