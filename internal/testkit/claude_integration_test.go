//go:build integration

package testkit_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/containers/podman/v5/pkg/api/handlers"
	"github.com/containers/podman/v5/pkg/bindings/containers"
	"github.com/containers/podman/v5/pkg/bindings/images"
	"github.com/containers/podman/v5/pkg/specgen"
	dockerContainer "github.com/docker/docker/api/types/container"
	spec "github.com/opencontainers/runtime-spec/specs-go"
	nettypes "go.podman.io/common/libnetwork/types"

	"github.com/loopat/desktop/internal/testkit"
	"github.com/loopat/desktop/internal/testkit/mockapi"
)

// streamJSONArgs run claude as one long-lived process taking a JSON line per user turn.
var streamJSONArgs = []string{"-p", "--input-format", "stream-json", "--output-format", "stream-json", "--verbose"}

// TestClaudeOnHostAgainstMock runs the real CLI on the host, as the test user (root under
// make test). Root may not use --dangerously-skip-permissions / bypassPermissions (unless
// IS_SANDBOX=1), so the Bash tool is pre-approved with --allowedTools Bash instead.
func TestClaudeOnHostAgainstMock(t *testing.T) {
	t.Parallel()
	mock := mockapi.New(mockapi.Options{})
	if err := mock.Listen("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { mock.Close() })

	h := startHostClaude(t, mock)
	cwd, stdin, out, stderr, cmd := h.cwd, h.stdin, h.out, h.stderr, h.cmd
	start := time.Now()

	// Turn 1 and turn 2 in one process: the second reply counts both prompts.
	send(t, stdin, "my name is Ada")
	texts, res := out.turn(t, time.Minute)
	if want := "echo: my name is Ada\nhistory: 1 user messages"; lastOf(texts) != want {
		t.Fatalf("turn 1 reply %q, want %q (stderr: %s)", texts, want, stderr.String())
	}
	firstTurn := time.Since(start)
	if res["is_error"] == true {
		t.Fatalf("turn 1 result is an error: %v", res)
	}
	send(t, stdin, "what is my name?")
	texts, _ = out.turn(t, time.Minute)
	if want := "echo: what is my name?\nhistory: 2 user messages"; lastOf(texts) != want {
		t.Fatalf("turn 2 reply %q, want %q", texts, want)
	}
	reqs := mock.MessagesRequests()
	if last := reqs[len(reqs)-1]; !bytes.Contains(last.Body, []byte("my name is Ada")) {
		t.Fatalf("turn 2 request does not carry turn 1: %.300s", last.Body)
	}

	// Turn 3: a Bash tool_use whose command writes a file in the cwd.
	send(t, stdin, "[[tool:bash echo made-by-claude > made.txt]]")
	texts, res = out.turn(t, time.Minute)
	if !strings.HasPrefix(lastOf(texts), "tool result:") || res["subtype"] != "success" {
		t.Fatalf("turn 3 reply %q, result %v", texts, res)
	}
	got, err := os.ReadFile(filepath.Join(cwd, "made.txt"))
	if err != nil || string(got) != "made-by-claude\n" {
		t.Fatalf("made.txt: %q, %v", got, err)
	}

	stdin.Close()
	if err := cmd.Wait(); err != nil {
		t.Fatalf("claude exit: %v (stderr: %s)", err, stderr.String())
	}
	for _, r := range mock.MessagesRequests() {
		if r.Header.Get("x-api-key") != "x" || r.Query != "beta=true" {
			t.Fatalf("request %s?%s with x-api-key %q", r.Path, r.Query, r.Header.Get("x-api-key"))
		}
	}
	t.Logf("claude on host: first turn after %v, %d requests, total %v", firstTurn.Round(time.Millisecond),
		len(mock.Requests()), time.Since(start).Round(time.Millisecond))
}

// hostClaude is the real CLI running on the host in stream-json mode.
type hostClaude struct {
	cwd    string
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	out    *eventStream
	stderr *syncBuf
}

func startHostClaude(t *testing.T, mock *mockapi.Server, extraEnv ...string) *hostClaude {
	t.Helper()
	bin := testkit.ClaudeBinary(t)
	h := &hostClaude{cwd: t.TempDir(), out: newEventStream(), stderr: &syncBuf{}}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	t.Cleanup(cancel)
	h.cmd = exec.CommandContext(ctx, bin, append(streamJSONArgs, "--allowedTools", "Bash")...)
	h.cmd.Dir = h.cwd
	// A minimal environment: nothing from the host (keys, proxies) leaks into the agent.
	h.cmd.Env = append([]string{
		"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
		"HOME=" + t.TempDir(),
		"ANTHROPIC_BASE_URL=" + mock.URL(),
		"ANTHROPIC_API_KEY=x",
		"CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1",
	}, extraEnv...)
	h.cmd.Stdout, h.cmd.Stderr = h.out, h.stderr
	var err error
	if h.stdin, err = h.cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	if err := h.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = h.cmd.Process.Kill() })
	return h
}

// TestClaudeScenariosOnHost checks the CLI accepts the mock's thinking, TaskCreate and
// error replies, and shows what it makes of them.
func TestClaudeScenariosOnHost(t *testing.T) {
	t.Parallel()
	mock := mockapi.New(mockapi.Options{})
	if err := mock.Listen("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { mock.Close() })

	h := startHostClaude(t, mock, "CLAUDE_CODE_ENABLE_TODO_TOOLS=1")
	send(t, h.stdin, "hello") // no marker in the first prompt: each later prompt picks its scenario
	h.out.turn(t, time.Minute)
	send(t, h.stdin, "[[thinking]]")
	evs := h.out.turnEvents(t, time.Minute)
	if !hasBlock(evs, "thinking", "The user asked for thinking") || !hasBlock(evs, "text", "thought about it") {
		t.Fatalf("thinking turn: %v", evs)
	}
	send(t, h.stdin, "[[todo:tasks]]")
	evs = h.out.turnEvents(t, time.Minute)
	if !hasToolResult(evs, "Task #1 created successfully") || !hasBlock(evs, "text", "todos updated") {
		t.Fatalf("todo:tasks turn: %v", evs)
	}
	h.stdin.Close()
	if err := h.cmd.Wait(); err != nil {
		t.Fatalf("claude exit: %v (stderr: %s)", err, h.stderr.String())
	}

	// An API error ends the turn with an error result; no retries with CLAUDE_CODE_MAX_RETRIES=0.
	before := len(mock.MessagesRequests())
	h = startHostClaude(t, mock, "CLAUDE_CODE_MAX_RETRIES=0")
	start := time.Now()
	send(t, h.stdin, "[[error:401]]")
	_, res := h.out.turn(t, time.Minute)
	if res["is_error"] != true {
		t.Fatalf("401 result is not an error: %v", res)
	}
	if n := len(mock.MessagesRequests()) - before; n != 1 {
		t.Fatalf("%d requests for a 401 with CLAUDE_CODE_MAX_RETRIES=0, want 1", n)
	}
	h.stdin.Close()
	_ = h.cmd.Wait() // the CLI exits non-zero after an error turn
	t.Logf("401 error result after %v: %.200v", time.Since(start).Round(time.Millisecond), res["result"])
}

// TestClaudeInterruptSlowTool interrupts the [[slow-tool]] Bash command through the
// stream-json control protocol and continues the same process with [[echo]].
func TestClaudeInterruptSlowTool(t *testing.T) {
	t.Parallel()
	mock := mockapi.New(mockapi.Options{})
	if err := mock.Listen("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { mock.Close() })

	h := startHostClaude(t, mock)
	send(t, h.stdin, "[[slow-tool]]")
	// Wait for the tool_use, then for its command to run.
	var evs []map[string]any
	for !hasToolUse(evs, mockapi.SlowCommand) {
		select {
		case ev := <-h.out.events:
			if ev["type"] == "result" {
				t.Fatalf("turn ended before the slow tool ran: %v", evs)
			}
			evs = append(evs, ev)
		case <-time.After(time.Minute):
			t.Fatalf("no slow tool_use: %v", evs)
		}
	}
	for deadline := time.Now().Add(20 * time.Second); !descendantRunning(h.cmd.Process.Pid, "tail"); {
		if time.Now().After(deadline) {
			t.Fatal("the slow tool's tail never started under the CLI")
		}
		time.Sleep(50 * time.Millisecond)
	}
	start := time.Now()
	if _, err := h.stdin.Write([]byte(`{"type":"control_request","request_id":"int-1","request":{"subtype":"interrupt"}}` + "\n")); err != nil {
		t.Fatal(err)
	}
	evs = h.out.turnEvents(t, 30*time.Second)
	interrupted := time.Since(start)
	var acked bool
	for _, ev := range evs {
		if resp, _ := ev["response"].(map[string]any); ev["type"] == "control_response" && resp["request_id"] == "int-1" && resp["subtype"] == "success" {
			acked = true
		}
	}
	if !acked || interrupted > 20*time.Second {
		t.Fatalf("interrupt acked=%v after %v: %v", acked, interrupted, evs)
	}
	// The interrupted command is gone, not left running under the CLI.
	for deadline := time.Now().Add(10 * time.Second); descendantRunning(h.cmd.Process.Pid, "tail"); {
		if time.Now().After(deadline) {
			t.Fatal("the slow tool's tail still runs 10s after the interrupt")
		}
		time.Sleep(100 * time.Millisecond)
	}
	send(t, h.stdin, "[[echo]] after the interrupt")
	texts, _ := h.out.turn(t, time.Minute)
	if want := "echo: [[echo]] after the interrupt\nhistory: 2 user messages"; lastOf(texts) != want {
		t.Fatalf("after interrupt %q, want %q", texts, want)
	}
	h.stdin.Close()
	if err := h.cmd.Wait(); err != nil {
		t.Fatalf("claude exit: %v (stderr: %s)", err, h.stderr.String())
	}
	t.Logf("interrupt ended the turn after %v", interrupted.Round(time.Millisecond))
}

// descendantRunning reports whether a process named comm runs below pid (Linux /proc).
func descendantRunning(pid int, comm string) bool {
	parent := map[int]int{}
	name := map[int]string{}
	dirs, _ := os.ReadDir("/proc")
	for _, d := range dirs {
		p, err := strconv.Atoi(d.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile("/proc/" + d.Name() + "/stat")
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...; comm may hold spaces, so split after the last ')'.
		i := bytes.LastIndexByte(stat, ')')
		j := bytes.IndexByte(stat, '(')
		if i < 0 || j < 0 {
			continue
		}
		fields := strings.Fields(string(stat[i+1:]))
		if len(fields) < 2 {
			continue
		}
		pp, _ := strconv.Atoi(fields[1])
		parent[p], name[p] = pp, string(stat[j+1:i])
	}
	for p, n := range name {
		if n != comm {
			continue
		}
		for q := parent[p]; q > 1; q = parent[q] {
			if q == pid {
				return true
			}
		}
	}
	return false
}

func hasToolUse(evs []map[string]any, command string) bool {
	for _, ev := range evs {
		msg, _ := ev["message"].(map[string]any)
		blocks, _ := msg["content"].([]any)
		for _, b := range blocks {
			bm, _ := b.(map[string]any)
			if in, _ := bm["input"].(map[string]any); ev["type"] == "assistant" && bm["type"] == "tool_use" && in["command"] == command {
				return true
			}
		}
	}
	return false
}

func hasBlock(evs []map[string]any, typ, prefix string) bool {
	for _, ev := range evs {
		if ev["type"] != "assistant" {
			continue
		}
		msg, _ := ev["message"].(map[string]any)
		blocks, _ := msg["content"].([]any)
		for _, b := range blocks {
			bm, _ := b.(map[string]any)
			if bm["type"] != typ {
				continue
			}
			text, _ := bm[typ].(string)
			if strings.HasPrefix(text, prefix) {
				return true
			}
		}
	}
	return false
}

func hasToolResult(evs []map[string]any, prefix string) bool {
	for _, ev := range evs {
		if ev["type"] != "user" {
			continue
		}
		msg, _ := ev["message"].(map[string]any)
		blocks, _ := msg["content"].([]any)
		for _, b := range blocks {
			bm, _ := b.(map[string]any)
			if c, _ := bm["content"].(string); bm["type"] == "tool_result" && strings.HasPrefix(c, prefix) {
				return true
			}
		}
	}
	return false
}

// TestClaudeInContainerAgainstMock runs the real CLI inside a container from the local base
// image, as uid 2000, on a network the test creates, talking to the mock on that network's
// gateway IP (and no other address), driven through the podman bindings' exec API.
func TestClaudeInContainerAgainstMock(t *testing.T) {
	t.Parallel()
	bin := testkit.ClaudeBinary(t)
	if os.Geteuid() != 0 {
		t.Fatal("this test runs as root (make test): it chowns bind-mounted folders to the container's uid 2000")
	}
	sock := testkit.StartPodmanService(t)
	ctx := testkit.Connect(t, sock)
	if ok, err := images.Exists(ctx, testkit.BaseImage, nil); err != nil || !ok {
		t.Fatalf("base image %s missing (%v): run scripts/test/base-image.sh", testkit.BaseImage, err)
	}
	netName, gateway := testkit.CreateNetwork(t, sock)

	const uid = 2000
	work, home := t.TempDir(), t.TempDir()
	for _, d := range []string{work, home} {
		if err := os.Chown(d, uid, uid); err != nil {
			t.Fatal(err)
		}
	}
	s := specgen.NewSpecGenerator(testkit.BaseImage, false)
	s.Name = testkit.UniqueName("loopat-test-claude")
	s.Command = []string{"sleep", "infinity"}
	s.Init = ptr(true) // sleep as PID 1 ignores SIGTERM; catatonit forwards it
	s.User = "2000:2000"
	s.WorkDir = "/work"
	s.Labels = map[string]string{"loopat.test": "testkit"}
	s.Networks = map[string]nettypes.PerNetworkOptions{netName: {}}
	s.Mounts = []spec.Mount{
		{Type: "bind", Source: bin, Destination: "/usr/local/bin/claude", Options: []string{"rbind", "ro"}},
		{Type: "bind", Source: work, Destination: "/work", Options: []string{"rbind", "rw"}},
		{Type: "bind", Source: home, Destination: "/home/agent", Options: []string{"rbind", "rw"}},
	}
	created, err := containers.CreateWithSpec(ctx, s, nil)
	if err != nil {
		t.Fatalf("create container: %v", err)
	}
	t.Cleanup(func() {
		cctx, cancel := context.WithTimeout(testkit.Connect(t, sock), time.Minute)
		defer cancel()
		if _, err := containers.Remove(cctx, created.ID, new(containers.RemoveOptions).WithForce(true).WithTimeout(0)); err != nil {
			t.Errorf("remove container: %v", err)
		}
	})
	if err := containers.Start(ctx, created.ID, nil); err != nil {
		t.Fatalf("start container: %v (--init needs catatonit on the host: apt-get install catatonit)", err)
	}

	// The gateway address exists on the host only once a container is on the bridge.
	mock := mockapi.New(mockapi.Options{})
	if err := mock.Listen(net.JoinHostPort(gateway, "0")); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { mock.Close() })

	start := time.Now()
	execID, err := containers.ExecCreate(ctx, created.ID, &handlers.ExecCreateConfig{ExecOptions: dockerContainer.ExecOptions{
		AttachStdin: true, AttachStdout: true, AttachStderr: true,
		User: "2000:2000", WorkingDir: "/work",
		Cmd: append([]string{"claude", "--dangerously-skip-permissions"}, streamJSONArgs...),
		Env: []string{
			"HOME=/home/agent",
			"ANTHROPIC_BASE_URL=" + mock.URL(),
			"ANTHROPIC_API_KEY=x",
			"CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1",
		},
	}})
	if err != nil {
		t.Fatalf("exec create: %v", err)
	}
	stdinR, stdinW := io.Pipe()
	out := newEventStream()
	var stderr syncBuf
	var stdout, errw io.Writer = out, &stderr
	attached := make(chan error, 1)
	go func() {
		actx, cancel := context.WithTimeout(ctx, 3*time.Minute)
		defer cancel()
		attached <- containers.ExecStartAndAttach(actx, execID, new(containers.ExecStartAndAttachOptions).
			WithInputStream(*bufio.NewReader(stdinR)).WithAttachInput(true).
			WithOutputStream(stdout).WithAttachOutput(true).
			WithErrorStream(errw).WithAttachError(true))
	}()
	t.Cleanup(func() { stdinW.Close() })

	send(t, stdinW, "hello from the container")
	texts, _ := out.turn(t, 2*time.Minute)
	if want := "echo: hello from the container\nhistory: 1 user messages"; lastOf(texts) != want {
		t.Fatalf("reply %q, want %q (stderr: %s)", texts, want, stderr.String())
	}
	firstTurn := time.Since(start)
	send(t, stdinW, "[[tool:bash id -u > uid.txt]]")
	texts, _ = out.turn(t, time.Minute)
	if !strings.HasPrefix(lastOf(texts), "tool result:") {
		t.Fatalf("tool turn reply %q", texts)
	}
	if got, err := os.ReadFile(filepath.Join(work, "uid.txt")); err != nil || string(got) != "2000\n" {
		t.Fatalf("uid.txt written by the Bash tool: %q, %v", got, err)
	}
	stdinW.Close()
	select {
	case err := <-attached:
		if err != nil {
			t.Fatalf("exec attach: %v", err)
		}
	case <-time.After(time.Minute):
		t.Fatal("claude did not exit after stdin closed")
	}
	inspect, err := containers.ExecInspect(ctx, execID, nil)
	if err != nil || inspect.ExitCode != 0 {
		t.Fatalf("exec exit code %v, %v (stderr: %s)", inspect, err, stderr.String())
	}

	// Every request reached the mock from the container's address on the test network.
	reqs := mock.MessagesRequests()
	if len(reqs) < 3 {
		t.Fatalf("mock recorded %d /v1/messages requests, want ≥ 3", len(reqs))
	}
	_, subnet, err := containerSubnet(gateway)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range reqs {
		host, _, _ := net.SplitHostPort(r.RemoteAddr)
		if ip := net.ParseIP(host); ip == nil || !subnet.Contains(ip) || host == gateway || r.Header.Get("x-api-key") != "x" {
			t.Fatalf("request from %s (x-api-key %q), want a container address in %s", r.RemoteAddr, r.Header.Get("x-api-key"), subnet)
		}
	}
	t.Logf("claude in container: first turn after %v, %d requests", firstTurn.Round(time.Millisecond), len(reqs))
}

// containerSubnet finds the host interface subnet holding gateway.
func containerSubnet(gateway string) (net.IP, *net.IPNet, error) {
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return nil, nil, err
	}
	for _, a := range addrs {
		if ipn, ok := a.(*net.IPNet); ok && ipn.IP.String() == gateway {
			return ipn.IP, &net.IPNet{IP: ipn.IP.Mask(ipn.Mask), Mask: ipn.Mask}, nil
		}
	}
	return nil, nil, &net.AddrError{Err: "no host interface has the gateway address", Addr: gateway}
}

func ptr[T any](v T) *T { return &v }

// send writes one stream-json user turn.
func send(t *testing.T, w io.Writer, text string) {
	t.Helper()
	line, _ := json.Marshal(map[string]any{"type": "user", "message": map[string]any{"role": "user", "content": text}})
	if _, err := w.Write(append(line, '\n')); err != nil {
		t.Fatalf("write turn: %v", err)
	}
}

func lastOf(s []string) string {
	if len(s) == 0 {
		return ""
	}
	return s[len(s)-1]
}

// eventStream is an io.Writer that parses claude's stream-json stdout into events.
type eventStream struct {
	mu     sync.Mutex
	buf    []byte
	events chan map[string]any
}

func newEventStream() *eventStream {
	return &eventStream{events: make(chan map[string]any, 4096)}
}

func (e *eventStream) Write(p []byte) (int, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.buf = append(e.buf, p...)
	for {
		i := bytes.IndexByte(e.buf, '\n')
		if i < 0 {
			return len(p), nil
		}
		line := bytes.TrimSpace(e.buf[:i])
		e.buf = e.buf[i+1:]
		if len(line) == 0 {
			continue
		}
		var ev map[string]any
		if err := json.Unmarshal(line, &ev); err != nil {
			// Reported by the reader: t.Errorf here could run after the test ended.
			ev = map[string]any{"type": "not_json", "line": string(line)}
		}
		select {
		case e.events <- ev:
		default: // nobody reads any more (the test failed): drop rather than block the CLI
		}
	}
}

// turnEvents returns the events up to and including the turn's "result" event.
func (e *eventStream) turnEvents(t *testing.T, timeout time.Duration) []map[string]any {
	t.Helper()
	var evs []map[string]any
	deadline := time.After(timeout)
	for {
		select {
		case ev := <-e.events:
			evs = append(evs, ev)
			if ev["type"] == "not_json" {
				t.Fatalf("claude printed a line that is not JSON: %q", ev["line"])
			}
			if ev["type"] == "result" {
				return evs
			}
		case <-deadline:
			t.Fatalf("no result within %v; events so far %v", timeout, evs)
		}
	}
}

// turn returns the assistant text blocks of one turn and its "result" event.
func (e *eventStream) turn(t *testing.T, timeout time.Duration) ([]string, map[string]any) {
	t.Helper()
	evs := e.turnEvents(t, timeout)
	var texts []string
	for _, ev := range evs {
		if ev["type"] != "assistant" {
			continue
		}
		msg, _ := ev["message"].(map[string]any)
		blocks, _ := msg["content"].([]any)
		for _, b := range blocks {
			if bm, _ := b.(map[string]any); bm["type"] == "text" {
				text, _ := bm["text"].(string)
				texts = append(texts, text)
			}
		}
	}
	return texts, evs[len(evs)-1]
}

type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuf) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
