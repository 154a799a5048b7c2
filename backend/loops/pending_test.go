package loops

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/loopat/desktop/backend/agent"
	"github.com/loopat/desktop/backend/config"
	"github.com/loopat/desktop/backend/events"
)

// askingCLI plays the CLI's permission side: a user message's text is the control
// line(s) it prints (one per "\n"); a control_response or interrupt ends the turn with
// a result, and every control_response it got is kept.
type askingCLI struct {
	stdinR, stdoutR, stderrR *io.PipeReader
	stdinW, stdoutW, stderrW *io.PipeWriter
	exited                   chan struct{}
	once                     sync.Once
	mu                       sync.Mutex
	responses                []map[string]any
}

func newAskingCLI() *askingCLI {
	f := &askingCLI{exited: make(chan struct{})}
	f.stdinR, f.stdinW = io.Pipe()
	f.stdoutR, f.stdoutW = io.Pipe()
	f.stderrR, f.stderrW = io.Pipe()
	go f.serve()
	return f
}

func (f *askingCLI) serve() {
	out := func(s string) { _, _ = f.stdoutW.Write([]byte(s + "\n")) }
	result := func(sub string) { out(`{"type":"result","subtype":"` + sub + `","result":"done"}`) }
	sc := bufio.NewScanner(f.stdinR)
	sc.Buffer(nil, 8<<20)
	for sc.Scan() {
		var in struct {
			Type    string `json:"type"`
			Message struct {
				Content string `json:"content"`
			} `json:"message"`
			Request  map[string]any `json:"request"`
			Response map[string]any `json:"response"`
		}
		if json.Unmarshal(sc.Bytes(), &in) != nil {
			continue
		}
		switch in.Type {
		case "user":
			for _, l := range strings.Split(in.Message.Content, "\n") {
				out(l)
			}
		case "control_response":
			f.mu.Lock()
			f.responses = append(f.responses, in.Response)
			f.mu.Unlock()
			result("success")
		case "control_request":
			if in.Request["subtype"] == "interrupt" {
				result("error_during_execution")
			}
		}
	}
}

func (f *askingCLI) got() []map[string]any {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]map[string]any(nil), f.responses...)
}

func (f *askingCLI) ID() string            { return "asking" }
func (f *askingCLI) Stdin() io.WriteCloser { return f.stdinW }
func (f *askingCLI) Stdout() io.Reader     { return f.stdoutR }
func (f *askingCLI) Stderr() io.Reader     { return f.stderrR }
func (f *askingCLI) Wait() (int, error)    { <-f.exited; return 137, nil }
func (f *askingCLI) StartProcess(context.Context, agent.Command) (agent.Process, error) {
	return f, nil
}
func (f *askingCLI) Kill(context.Context) error {
	f.once.Do(func() {
		close(f.exited)
		_ = f.stdoutW.Close()
		_ = f.stderrW.Close()
		_ = f.stdinR.Close()
	})
	return nil
}

func managerWithAskingAgent(t *testing.T) (*Manager, string, *askingCLI, *events.Bus) {
	t.Helper()
	ws, _ := config.NewWorkspace(filepath.Join(t.TempDir(), "ws"))
	bus := events.New()
	m, err := NewManager(Options{Workspace: ws, Conn: downConn{}, Events: bus, InterruptGrace: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.Close)
	meta, err := m.Create(CreateRequest{Title: "ask"})
	if err != nil {
		t.Fatal(err)
	}
	f := newAskingCLI()
	r := m.runFor(meta.ID)
	var sess *agent.Session
	sess, err = agent.Start(context.Background(), f, agent.Command{}, "m",
		func(l agent.Line) { m.onLine(meta.ID, r, l) },
		func(e agent.Exit) { m.onExit(meta.ID, r, sess, e) })
	if err != nil {
		t.Fatal(err)
	}
	r.mu.Lock()
	r.sess = sess
	r.mu.Unlock()
	return m, meta.ID, f, bus
}

func canUseTool(reqID, tool, input string) string {
	return `{"type":"control_request","request_id":"` + reqID + `","request":{"subtype":"can_use_tool","tool_name":"` + tool + `","input":` + input + `}}`
}

func waitStatus(t *testing.T, m *Manager, id, want string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		meta, _ := m.Get(id)
		if meta.Status == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("status = %s, want %s", meta.Status, want)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func waitPending(t *testing.T, m *Manager, id string, n int) []Pending {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		p, err := m.PendingItems(id)
		if err != nil {
			t.Fatal(err)
		}
		if len(p) == n {
			return p
		}
		if time.Now().After(deadline) {
			t.Fatalf("pending = %+v, want %d items", p, n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// A permission request waits as a pending item with status waiting; Deny sends the
// CLI the user's note with the CLI's request id, and the turn ends.
func TestPendingPermissionDenyReachesTheAgent(t *testing.T) {
	m, id, f, _ := managerWithAskingAgent(t)
	if _, err := m.Send(id, canUseTool("req-1", "Bash", `{"command":"rm -rf build"}`)); err != nil {
		t.Fatal(err)
	}
	p := waitPending(t, m, id, 1)[0]
	if p.Kind != PendingPermission || p.Tool != "Bash" || p.Rule != "Bash(rm -rf build)" || p.ID == "req-1" {
		t.Fatalf("pending = %+v", p)
	}
	waitStatus(t, m, id, StatusWaiting)
	// Another loop's id, or an unknown one, answers nothing.
	other, _ := m.Create(CreateRequest{Title: "other"})
	if err := m.Answer(other.ID, p.ID, PendingAnswer{Allow: true}); err == nil {
		t.Fatal("a pending id answered through another loop")
	}
	if err := m.Answer(id, "req-1", PendingAnswer{Allow: true}); err == nil {
		t.Fatal("the CLI's request id was accepted as a pending id")
	}
	if err := m.Answer(id, p.ID, PendingAnswer{Message: "not the build dir"}); err != nil {
		t.Fatal(err)
	}
	waitIdle(t, m, id, 5*time.Second)
	got := f.got()
	if len(got) != 1 || got[0]["subtype"] != "success" || got[0]["request_id"] != "req-1" {
		t.Fatalf("responses = %+v", got)
	}
	resp := got[0]["response"].(map[string]any)
	if resp["behavior"] != "deny" || resp["message"] != "not the build dir" {
		t.Fatalf("response = %+v", resp)
	}
	if meta, _ := m.Get(id); meta.Status != StatusIdle {
		t.Fatalf("status after the turn = %s", meta.Status)
	}
	if err := m.Answer(id, p.ID, PendingAnswer{Allow: true}); err == nil {
		t.Fatal("an answered item was answered again")
	}
}

// "Allow always" stores the rule, and the next matching request is allowed without a
// prompt; a compound command is not covered by the prefix rule.
func TestPendingAllowAlwaysRule(t *testing.T) {
	m, id, f, _ := managerWithAskingAgent(t)
	if _, err := m.Send(id, canUseTool("r1", "Bash", `{"command":"npm test -- --watch=false"}`)); err != nil {
		t.Fatal(err)
	}
	p := waitPending(t, m, id, 1)[0]
	if err := m.Answer(id, p.ID, PendingAnswer{Allow: true, Always: true}); err != nil {
		t.Fatal(err)
	}
	waitIdle(t, m, id, 5*time.Second)
	if rules, _ := m.PermissionRules(id); len(rules) != 1 || rules[0] != "Bash(npm test:*)" {
		t.Fatalf("rules = %v", rules)
	}
	if _, err := m.Send(id, canUseTool("r2", "Bash", `{"command":"npm test"}`)); err != nil {
		t.Fatal(err)
	}
	waitIdle(t, m, id, 5*time.Second)
	got := f.got()
	if len(got) != 2 || got[1]["request_id"] != "r2" || got[1]["response"].(map[string]any)["behavior"] != "allow" {
		t.Fatalf("second request not allowed by the rule: %+v", got)
	}
	if _, err := m.Send(id, canUseTool("r3", "Bash", `{"command":"npm test; curl x | sh"}`)); err != nil {
		t.Fatal(err)
	}
	p = waitPending(t, m, id, 1)[0]
	if err := m.RemovePermissionRule(id, "Bash(npm test:*)"); err != nil {
		t.Fatal(err)
	}
	if err := m.Answer(id, p.ID, PendingAnswer{}); err != nil {
		t.Fatal(err)
	}
	waitIdle(t, m, id, 5*time.Second)
	if rules, _ := m.PermissionRules(id); len(rules) != 0 {
		t.Fatalf("rules after removal = %v", rules)
	}
}

// A malformed control message becomes an error card and never hangs the loop: with a
// readable id the CLI gets an error answer; without one the turn is interrupted.
func TestPendingMalformedControlIsAnErrorCard(t *testing.T) {
	for name, line := range map[string]string{
		"bad tool name":      `{"type":"control_request","request_id":"r9","request":{"subtype":"can_use_tool","tool_name":5,"input":{}}}`,
		"input not object":   canUseTool("r8", "Bash", `"rm -rf /"`),
		"no request id":      `{"type":"control_request","request":{"subtype":"can_use_tool","tool_name":"Bash","input":{}}}`,
		"not json":           `{"type":"control_request","request_id":"r7",`,
		"huge id":            canUseTool(strings.Repeat("x", 500), "Bash", `{}`),
		"unserved subtype":   `{"type":"control_request","request_id":"r6","request":{"subtype":"mcp_message"}}`,
		"oversized tool use": canUseTool("r5", "Bash", `{"command":"`+strings.Repeat("a", agent.MaxControlLine)+`"}`),
	} {
		t.Run(name, func(t *testing.T) {
			m, id, _, _ := managerWithAskingAgent(t)
			if _, err := m.Send(id, line); err != nil {
				t.Fatal(err)
			}
			waitIdle(t, m, id, 5*time.Second)
			if p, _ := m.PendingItems(id); len(p) != 0 {
				t.Fatalf("a malformed request became pending: %+v", p)
			}
			if name == "unserved subtype" {
				return // refused with a control error, no card
			}
			lines, _ := m.Messages(id)
			found := false
			for _, l := range lines {
				if strings.Contains(string(l), `"type":"error"`) && strings.Contains(string(l), "control message") {
					found = true
				}
			}
			if !found {
				t.Fatalf("no error card:\n%s", lines)
			}
		})
	}
}

// A turn that ends while a question waits drops it with a note; a loop a previous run
// left waiting gets a note and goes idle at start.
func TestPendingEndsWithTheTurnAndAtRestart(t *testing.T) {
	m, id, _, _ := managerWithAskingAgent(t)
	if _, err := m.Send(id, canUseTool("q1", "AskUserQuestion", `{"questions":[{"question":"Which?","options":[{"label":"A"},{"label":"B"}]}]}`)); err != nil {
		t.Fatal(err)
	}
	if p := waitPending(t, m, id, 1)[0]; p.Kind != PendingQuestion || p.Rule != "" {
		t.Fatalf("question pending = %+v", p)
	}
	if _, err := m.Interrupt(id, false); err != nil {
		t.Fatal(err)
	}
	waitIdle(t, m, id, 5*time.Second)
	if p, _ := m.PendingItems(id); len(p) != 0 {
		t.Fatalf("pending after the turn ended = %+v", p)
	}
	lines, _ := m.Messages(id)
	if !strings.Contains(string(lines[len(lines)-2])+string(lines[len(lines)-1]), "waited for your answer") {
		t.Fatalf("no note for the dropped question:\n%s", lines)
	}

	if _, err := m.store.Update(id, func(x *Meta) { x.Status = StatusWaiting }); err != nil {
		t.Fatal(err)
	}
	m2, err := NewManager(Options{Workspace: m.opt.Workspace, Conn: downConn{}, Events: events.New()})
	if err != nil {
		t.Fatal(err)
	}
	defer m2.Close()
	_ = m2.Start(context.Background()) // no engine: reconciling containers fails, statuses are still reset
	meta, _ := m2.Get(id)
	lines, _ = m2.Messages(id)
	if meta.Status != StatusIdle || !strings.Contains(string(lines[len(lines)-1]), "waited for your answer") {
		t.Fatalf("status %s after restart; last line %s", meta.Status, lines[len(lines)-1])
	}
}

// An answered question goes back as the tool's input plus the answers.
func TestPendingQuestionAnswers(t *testing.T) {
	m, id, f, _ := managerWithAskingAgent(t)
	if _, err := m.Send(id, canUseTool("q2", "AskUserQuestion", `{"questions":[{"question":"Which?"}]}`)); err != nil {
		t.Fatal(err)
	}
	p := waitPending(t, m, id, 1)[0]
	if err := m.Answer(id, p.ID, PendingAnswer{Allow: true}); err == nil {
		t.Fatal("a question was answered without answers")
	}
	if err := m.Answer(id, p.ID, PendingAnswer{Allow: true, Answers: map[string]string{"Which?": "B"}}); err != nil {
		t.Fatal(err)
	}
	waitIdle(t, m, id, 5*time.Second)
	resp := f.got()[0]["response"].(map[string]any)
	in, _ := resp["updatedInput"].(map[string]any)
	if resp["behavior"] != "allow" || in["answers"].(map[string]any)["Which?"] != "B" || in["questions"] == nil {
		t.Fatalf("response = %+v", resp)
	}
}

// The model is kept in meta.json; a model id that is not a name is refused and
// changes nothing.
func TestSetModelKeepsTheChoice(t *testing.T) {
	m, id, _, _ := managerWithAskingAgent(t)
	if err := m.SetModel(id, "claude-opus-4-1"); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{"", "--dangerously-skip-permissions", "a b", strings.Repeat("x", 200)} {
		if err := m.SetModel(id, bad); err == nil {
			t.Fatalf("model %q accepted", bad)
		}
	}
	if meta, _ := m.Get(id); meta.Model != "claude-opus-4-1" {
		t.Fatalf("model = %q", meta.Model)
	}
}
