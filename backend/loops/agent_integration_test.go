//go:build integration

package loops

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/containers/podman/v5/pkg/bindings/containers"
)

func TestLoopTurnsInOneProcess(t *testing.T) {
	h := newHarness(t)
	m := h.manager()
	meta, err := m.Create(CreateRequest{Title: "turns"})
	if err != nil {
		t.Fatal(err)
	}
	h.startMock(m, meta.ID)
	deltas, cancel := h.bus.Subscribe(4096, func(topic string) bool { return topic == "loop:"+meta.ID+":delta" })
	defer cancel()

	// Plain reply.
	start := time.Now()
	if res, err := m.Send(meta.ID, "hello there"); err != nil || res.Queued {
		t.Fatalf("send: %+v %v", res, err)
	}
	waitTurn(t, m, meta.ID, 2*time.Minute)
	t.Logf("first turn (agent start + reply): %v", time.Since(start))
	res, all := lastResult(t, m, meta.ID)
	if !strings.Contains(res, "echo: hello there") {
		t.Fatalf("reply missing echo:\n%s", all)
	}
	proc := m.AgentProcessID(meta.ID)
	if proc == "" {
		t.Fatal("no agent process after first turn")
	}
	got, _ := m.Get(meta.ID)
	if got.SessionID == "" || got.Status != StatusIdle || got.Usage["claude-sonnet-4-5"].OutputTokens == 0 {
		t.Fatalf("meta after turn: %+v", got)
	}
	select {
	case <-deltas:
	default:
		t.Fatal("no loop delta event was published for a streamed reply")
	}

	// A tool_use turn: Bash writes a file into the workdir; it must exist on the host.
	if _, err := m.Send(meta.ID, "[[tool:bash echo made-in-sandbox > from-agent.txt]]"); err != nil {
		t.Fatal(err)
	}
	waitTurn(t, m, meta.ID, 2*time.Minute)
	data, err := os.ReadFile(filepath.Join(m.Store().WorkDir(meta.ID), "from-agent.txt"))
	if err != nil || strings.TrimSpace(string(data)) != "made-in-sandbox" {
		_, all := transcript(t, m, meta.ID)
		t.Fatalf("file from Bash tool: %q %v\n%s", data, err, all)
	}

	// Third turn: same process, and the model saw the whole conversation.
	start = time.Now()
	if _, err := m.Send(meta.ID, "[[echo]] third"); err != nil {
		t.Fatal(err)
	}
	waitTurn(t, m, meta.ID, time.Minute)
	t.Logf("third turn in the long-lived process: %v", time.Since(start))
	res, all = lastResult(t, m, meta.ID)
	if !strings.Contains(res, "history: 3 user messages") {
		t.Fatalf("third turn lacks history:\n%s", all)
	}
	if p := m.AgentProcessID(meta.ID); p != proc {
		t.Fatalf("agent process changed between turns: %s -> %s", proc, p)
	}
	if n := len(h.mock.MessagesRequests()); n < 4 {
		t.Fatalf("mock saw %d message requests, want >= 4", n)
	}
	for _, r := range h.mock.MessagesRequests() {
		if r.Header.Get("x-api-key") != "sk-test-not-secret" {
			t.Fatalf("API key from the vault did not reach the CLI: %q", r.Header.Get("x-api-key"))
		}
	}
	// No secret in the container's create-time environment.
	info, err := containers.Inspect(h.conn, m.Sandbox().ContainerName(meta.ID), nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range info.Config.Env {
		if strings.Contains(e, "sk-test-not-secret") || strings.HasPrefix(e, "ANTHROPIC_") {
			t.Fatalf("secret in container env: %s", e)
		}
	}
	_ = context.Background
}
