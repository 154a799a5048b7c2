//go:build integration

package loops

import (
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/containers/podman/v5/pkg/bindings/containers"
	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing/object"

	"github.com/loopat/desktop/backend/workdir"
)

func newRepo(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	r, err := git.PlainInit(dir, false)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "README.md"), []byte("project\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	wt, _ := r.Worktree()
	if _, err := wt.Add("README.md"); err != nil {
		t.Fatal(err)
	}
	sig := &object.Signature{Name: "dev", Email: "dev@example.com", When: time.Now()}
	if _, err := wt.Commit("initial", &git.CommitOptions{Author: sig}); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestLoopTurnsInOneProcess(t *testing.T) {
	h := newHarness(t)
	m := h.manager()
	repo := newRepo(t)
	meta, err := m.Create(CreateRequest{Title: "turns", Repo: repo})
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
	if got.SessionID == "" || got.Status != StatusIdle || got.Usage.ByModel["claude-sonnet-4-5"].Output == 0 {
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

	// The change shows in git status of the loop branch and commits from the host; the
	// sandbox user can still write the repository afterwards.
	st, err := workdir.GitStatus(m.Store().WorkDir(meta.ID))
	if err != nil || st.Branch != meta.Branch || len(st.Files) != 1 || st.Files[0].Path != "from-agent.txt" {
		t.Fatalf("git status = %+v %v", st, err)
	}
	if _, err := workdir.Commit(m.Store().WorkDir(meta.ID), "agent output", workdir.Author{}); err != nil {
		t.Fatal(err)
	}
	probe, err := m.Sandbox().Exec(context.Background(), meta.ID, agentCmd("sh", "-c", "touch .git/probe && mkdir -p .git/objects/zz && echo ok"), false, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	go io.Copy(io.Discard, probe.Stderr())
	io.Copy(io.Discard, probe.Stdout()) // unread output would block the process
	if code, _ := probe.Wait(); code != 0 {
		t.Fatalf("sandbox user cannot write .git after a host commit (exit %d)", code)
	}

	// The permission mode changes in the running CLI (no restart).
	if err := m.SetPermissionMode(meta.ID, "acceptEdits"); err != nil {
		t.Fatal(err)
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
	raw, _ := m.Messages(meta.ID)
	mode := ""
	for _, r := range raw {
		var l struct{ Type, Subtype, PermissionMode string }
		if json.Unmarshal(r, &l) == nil && l.Type == "system" && l.Subtype == "init" {
			mode = l.PermissionMode
		}
	}
	if mode != "acceptEdits" {
		t.Fatalf("permission mode of the last turn = %q, want acceptEdits", mode)
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
}

// sleepers counts processes running "sleep 60" in the loop's container.
func sleepers(t *testing.T, m *Manager, id string) int {
	t.Helper()
	p, err := m.Sandbox().Exec(context.Background(), id, agentCmd("sh", "-c",
		`n=0; for p in /proc/[0-9]*; do c=$(tr '\0' ' ' < $p/cmdline 2>/dev/null); case "$c" in "sleep 60"*) n=$((n+1));; esac; done; echo $n`), false, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	p.Stdin().Close()
	go io.Copy(io.Discard, p.Stderr()) // processes that vanish mid-scan make the shell complain
	var out strings.Builder
	buf := make([]byte, 64)
	for {
		n, err := p.Stdout().Read(buf)
		out.Write(buf[:n])
		if err != nil {
			break
		}
	}
	p.Wait()
	var n int
	if _, err := fmtSscan(strings.TrimSpace(out.String()), &n); err != nil {
		t.Fatalf("count sleepers: %q", out.String())
	}
	return n
}

func TestLoopInterruptAndQueue(t *testing.T) {
	h := newHarness(t)
	m := h.manager()
	meta, err := m.Create(CreateRequest{Title: "interrupt"})
	if err != nil {
		t.Fatal(err)
	}
	h.startMock(m, meta.ID)
	if _, err := m.Send(meta.ID, "[[long-tool]]"); err != nil {
		t.Fatal(err)
	}
	// Wait until the Bash tool's sleep runs in the container.
	deadline := time.Now().Add(90 * time.Second)
	for sleepers(t, m, meta.ID) == 0 {
		if time.Now().After(deadline) {
			_, all := transcript(t, m, meta.ID)
			t.Fatalf("slow tool never started:\n%s", all)
		}
		time.Sleep(300 * time.Millisecond)
	}
	// Messages sent while it works are queued, visible and removable.
	q1, err := m.Send(meta.ID, "[[echo]] dropped")
	if err != nil || !q1.Queued {
		t.Fatalf("first queued send: %+v %v", q1, err)
	}
	q2, err := m.Send(meta.ID, "[[echo]] after the interrupt")
	if err != nil || !q2.Queued {
		t.Fatalf("second queued send: %+v %v", q2, err)
	}
	if q, _ := m.Queue(meta.ID); len(q) != 2 {
		t.Fatalf("queue = %+v", q)
	}
	if err := m.Unqueue(meta.ID, q1.QueueID); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if _, err := m.Interrupt(meta.ID, true); err != nil {
		t.Fatal(err)
	}
	waitTurn(t, m, meta.ID, 90*time.Second)
	t.Logf("interrupt + queued turn: %v", time.Since(start))
	if n := sleepers(t, m, meta.ID); n != 0 {
		t.Fatalf("%d 'sleep 60' processes survive the interrupt", n)
	}
	ls, all := transcript(t, m, meta.ID)
	var interrupted, droppedSent bool
	for _, l := range ls {
		if l.Type == "interrupted" {
			interrupted = true
		}
		if l.Type == "user_input" && strings.Contains(l.Text, "dropped") {
			droppedSent = true
		}
	}
	if !interrupted || droppedSent {
		t.Fatalf("interrupted=%v droppedSent=%v\n%s", interrupted, droppedSent, all)
	}
	res, all := lastResult(t, m, meta.ID)
	if !strings.Contains(res, "[[echo]] after the interrupt") {
		t.Fatalf("queued message was not answered after the interrupt:\n%s", all)
	}
	if q, _ := m.Queue(meta.ID); len(q) != 0 {
		t.Fatalf("queue not drained: %+v", q)
	}
	if got, _ := m.Get(meta.ID); got.Status != StatusIdle {
		t.Fatalf("status after interrupt and queued turn = %s", got.Status)
	}
}

func TestLoopResumesAfterBackendRestart(t *testing.T) {
	h := newHarness(t)
	m1 := h.manager()
	meta, err := m1.Create(CreateRequest{Title: "restart"})
	if err != nil {
		t.Fatal(err)
	}
	h.startMock(m1, meta.ID)
	for _, text := range []string{"one", "two"} {
		if _, err := m1.Send(meta.ID, text); err != nil {
			t.Fatal(err)
		}
		waitTurn(t, m1, meta.ID, 2*time.Minute)
	}
	m1.Close() // the backend goes away; the container stays

	// The next turn goes through a new manager (as a fresh `loopat loop send` process
	// does; backend/cli and tests/e2e/cli.test.mjs drive the command itself).
	m2 := h.manager()
	if _, err := m2.Send(meta.ID, "three"); err != nil {
		t.Fatal(err)
	}
	waitTurn(t, m2, meta.ID, 2*time.Minute)
	if res, all := lastResult(t, m2, meta.ID); !strings.Contains(res, "echo: three") || !strings.Contains(res, "history: 3 user messages") {
		t.Fatalf("conversation did not continue after restart; reply %q\n%s", res, all)
	}
}

func TestLoopDeleteRemovesContainer(t *testing.T) {
	h := newHarness(t)
	m := h.manager()
	meta, err := m.Create(CreateRequest{Title: "delete me"})
	if err != nil {
		t.Fatal(err)
	}
	if err := m.EnsureContainer(context.Background(), meta.ID); err != nil {
		t.Fatal(err)
	}
	name := m.Sandbox().ContainerName(meta.ID)
	if ok, _ := containers.Exists(h.conn, name, nil); !ok {
		t.Fatal("container not created")
	}
	if err := m.Delete(meta.ID); err != nil {
		t.Fatal(err)
	}
	if ok, _ := containers.Exists(h.conn, name, nil); ok {
		t.Fatal("container survives loop deletion")
	}
	if _, err := os.Stat(filepath.Join(h.ws.LoopsDir(), meta.ID)); !os.IsNotExist(err) {
		t.Fatalf("loop folder survives: %v", err)
	}
	if _, err := m.Get(meta.ID); err == nil {
		t.Fatal("deleted loop still readable")
	}
}
