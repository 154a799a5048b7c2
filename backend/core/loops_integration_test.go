//go:build integration

package core_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/loopat/desktop/backend/contextrepo"
	"github.com/loopat/desktop/backend/core"
	"github.com/loopat/desktop/backend/loops"
	"github.com/loopat/desktop/internal/testkit"
	"github.com/loopat/desktop/internal/testkit/appkit"
	"github.com/loopat/desktop/internal/testkit/mockapi"
)

type coreFixture struct {
	t       *testing.T
	uri     string
	home    string
	mock    *mockapi.Server
	realKey string
	token   string
}

func newCoreFixture(t *testing.T) *coreFixture {
	t.Helper()
	uri := testkit.StartPodmanService(t)
	t.Setenv("CONTAINER_HOST", uri)
	home := filepath.Join(t.TempDir(), testkit.UniqueName("core"))
	t.Setenv("LOOPAT_HOME", home)
	if err := os.MkdirAll(home, 0o700); err != nil {
		t.Fatal(err)
	}
	mock := mockapi.New(mockapi.Options{})
	// The provider is on the host's loopback: only the host-side gateway can reach it.
	if err := mock.Listen("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { mock.Close() })
	if err := os.WriteFile(filepath.Join(home, "config.toml"), []byte(appkit.MockConfig(mock.URL(), "")), 0o600); err != nil {
		t.Fatal(err)
	}
	f := &coreFixture{t: t, uri: uri, home: home, mock: mock,
		realKey: "sk-real-" + randHex(16), token: "tok-123-" + randHex(4)}
	conn := testkit.Connect(t, uri)
	t.Cleanup(func() { appkit.RemoveWorkspace(conn, home) })
	return f
}

func randHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// open starts the app's composition root on the fixture's LOOPAT_HOME.
func (f *coreFixture) open() *core.Core {
	f.t.Helper()
	c, err := core.Open(context.Background(), core.Options{})
	if err != nil {
		f.t.Fatal(err)
	}
	f.t.Cleanup(c.Close)
	if c.ConfigErr != nil {
		f.t.Fatalf("config: %v", c.ConfigErr)
	}
	c.Start(context.Background())
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := c.Engine.WaitReady(ctx); err != nil {
		f.t.Fatalf("engine: %v", err)
	}
	return c
}

// turn sends text and waits for the turn; it fails unless the turn ended idle.
func turn(t *testing.T, c *core.Core, id, text string) string {
	t.Helper()
	if _, err := c.Loops.Send(id, text); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	if err := c.Loops.Wait(ctx, id); err != nil {
		t.Fatalf("turn: %v", err)
	}
	raw, err := c.Loops.Messages(id)
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, l := range raw {
		b.Write(l)
		b.WriteByte('\n')
	}
	if meta, _ := c.Loops.Get(id); meta.Status != loops.StatusIdle {
		t.Fatalf("turn ended in status %q:\n%s", meta.Status, b.String())
	}
	return b.String()
}

func sandboxSh(t *testing.T, container, script string, user ...string) string {
	t.Helper()
	u := "0"
	if len(user) > 0 {
		u = user[0]
	}
	out, err := exec.Command("podman", "exec", "--user", u, container, "sh", "-c", script).CombinedOutput()
	if err != nil {
		t.Fatalf("podman exec %s: %v\n%s", script, err, out)
	}
	return string(out)
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// grepTree fails when any file under root holds needle.
func grepTree(t *testing.T, root, needle string) {
	t.Helper()
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if strings.Contains(string(b), needle) {
			t.Errorf("%s holds the secret", p)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("walk %s: %v", root, err)
	}
}

// A loop through the whole app: the agent's model traffic goes over the loop's link to
// the host gateway, which alone holds the real key; vault env secrets reach the agent's
// tools and are masked in the transcript; context repositories are mounted, promote
// works from inside the sandbox and a second loop sees the result; host exec is refused
// for a loop that declared no CLIs; a lost link and an app restart are re-attached.
func TestLoopThroughAppGatewayContextPromote(t *testing.T) {
	f := newCoreFixture(t)
	c := f.open()
	if err := c.Vault.SetEnv("default", "MOCK_KEY", f.realKey); err != nil {
		t.Fatal(err)
	}
	if err := c.Vault.SetEnv("default", "MY_TOKEN", f.token); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = c.Vault.DeleteEnv("default", "MOCK_KEY")
		_ = c.Vault.DeleteEnv("default", "MY_TOKEN")
	})

	start := time.Now()
	a, err := c.Loops.Create(loops.CreateRequest{Title: "gateway and context"})
	if err != nil {
		t.Fatal(err)
	}
	script := `echo "$MY_TOKEN" > out.txt; echo "token: $MY_TOKEN"; ` +
		`echo note-from-a > /loopat/context/notes/x.md; ` +
		`(touch /loopat/context/knowledge/y.md; echo rc=$?) > ko.txt 2>&1; ` +
		`(loopat-host ls; echo rc=$?) > hx.txt 2>&1; ` +
		`(loopat-host promote; echo rc=$?) > promote.txt 2>&1`
	out := turn(t, c, a.ID, "[[tool:bash "+script+"]]")
	t.Logf("first turn (cold container, agent start) %s", time.Since(start).Round(time.Millisecond))
	work := c.Loops.Store().WorkDir(a.ID)

	// The mock (the "provider") saw the real key on every request, never the placeholder.
	reqs := f.mock.MessagesRequests()
	if len(reqs) < 2 {
		t.Fatalf("mock saw %d model requests, want the tool call and its follow-up", len(reqs))
	}
	for _, r := range reqs {
		if got := r.Header.Get("X-Api-Key"); got != f.realKey {
			t.Fatalf("provider got key %q, want the real key", got)
		}
	}
	// The agent's system prompt carries the context instructions.
	if body := string(reqs[0].Body); !strings.Contains(body, core.PromoteCommand) || !strings.Contains(body, "/loopat/context") {
		t.Errorf("system prompt lacks the context instructions (%d bytes)", len(body))
	}
	// Claude's auto memory lives in the personal repository (--settings autoMemoryDirectory).
	if body := string(reqs[0].Body); !strings.Contains(body, contextrepo.MemoryDir) {
		t.Errorf("system prompt does not name the memory directory %s", contextrepo.MemoryDir)
	}

	// The env secret reached the tool, and the transcript masks it.
	if got := strings.TrimSpace(readFile(t, filepath.Join(work, "out.txt"))); got != f.token {
		t.Fatalf("out.txt = %q, want the vault token", got)
	}
	if strings.Contains(out, f.token) || !strings.Contains(out, "token: ***") {
		t.Fatalf("transcript does not mask the token:\n%s", out)
	}

	// Context: knowledge is read-only, host exec is refused (no [host].clis), promote worked.
	if ko := readFile(t, filepath.Join(work, "ko.txt")); strings.Contains(ko, "rc=0") {
		t.Errorf("writing knowledge succeeded: %s", ko)
	}
	if hx := readFile(t, filepath.Join(work, "hx.txt")); !strings.Contains(hx, "rc=126") || !strings.Contains(hx, "not enabled") {
		t.Errorf("host exec without [host].clis: %s", hx)
	}
	if pr := readFile(t, filepath.Join(work, "promote.txt")); !strings.Contains(pr, "notes: promoted") || !strings.Contains(pr, "rc=0") {
		t.Fatalf("loopat-host promote: %s", pr)
	}

	// The key is nowhere in the sandbox: not in the container config, not in the agent's
	// environment (which holds the placeholder and the token instead), not in its files.
	name := c.Loops.Sandbox().ContainerName(a.ID)
	insp, err := exec.Command("podman", "inspect", name).CombinedOutput()
	if err != nil {
		t.Fatalf("podman inspect: %v %s", err, insp)
	}
	if strings.Contains(string(insp), f.realKey) {
		t.Fatal("podman inspect shows the real key")
	}
	// As the sandbox user: root in the container lacks CAP_SYS_PTRACE to read other users' environ.
	environ := sandboxSh(t, name, `cat /proc/[0-9]*/environ 2>/dev/null | tr '\0' '\n'`, "2000")
	if strings.Contains(environ, f.realKey) {
		t.Fatal("a sandbox process has the real key in its environment")
	}
	for _, want := range []string{"ANTHROPIC_BASE_URL=http://" + core.GatewayAddr, "ANTHROPIC_API_KEY=loopat-placeholder-", "MY_TOKEN=" + f.token} {
		if !strings.Contains(environ, want) {
			t.Errorf("agent environment lacks %q", want)
		}
	}
	if strings.Contains(environ, "MOCK_KEY=") {
		t.Error("the provider's key variable reached the sandbox")
	}
	grepTree(t, filepath.Join(c.Workspace.LoopsDir(), a.ID), f.realKey) // home, workdir, context, messages.jsonl
	grepTree(t, filepath.Join(c.Workspace.LoopsDir(), a.ID, "messages.jsonl"), f.token)
	grepTree(t, c.Workspace.LogsDir(), f.realKey)

	// A lost link (relay killed) comes back while the container runs.
	pidFile := "/tmp/loopat/host.pid"
	oldPid := strings.TrimSpace(sandboxSh(t, name, "cat "+pidFile))
	sandboxSh(t, name, "kill "+oldPid)
	waitNewRelay(t, name, pidFile, oldPid, 20*time.Second)
	before := len(f.mock.MessagesRequests())
	turn(t, c, a.ID, "after the link came back")
	if len(f.mock.MessagesRequests()) <= before {
		t.Fatal("no model request after re-attach")
	}

	// A second loop pulls the promoted note.
	b, err := c.Loops.Create(loops.CreateRequest{Title: "reader"})
	if err != nil {
		t.Fatal(err)
	}
	if out := turn(t, c, b.ID, "[[tool:bash cat /loopat/context/notes/x.md]]"); !strings.Contains(out, "note-from-a") {
		t.Fatalf("second loop does not see the promoted note:\n%s", out)
	}

	// App restart: the containers keep running and get their link back at start-up.
	oldPid = strings.TrimSpace(sandboxSh(t, name, "cat "+pidFile))
	closeStart := time.Now()
	c.Close()
	if d := time.Since(closeStart); d > 5*time.Second {
		t.Errorf("closing the app took %s (agents not killed promptly)", d)
	}
	restart := time.Now()
	c2 := f.open()
	waitNewRelay(t, name, pidFile, oldPid, 30*time.Second)
	t.Logf("app close %s, re-open to re-linked %s", restart.Sub(closeStart).Round(time.Millisecond), time.Since(restart).Round(time.Millisecond))
	before = len(f.mock.MessagesRequests())
	turn(t, c2, a.ID, "after an app restart")
	if len(f.mock.MessagesRequests()) <= before {
		t.Fatal("no model request after the restart")
	}
	grepTree(t, c2.Workspace.LogsDir(), f.realKey)

	// Deleting a loop removes its container (and its link with it).
	if err := c2.Loops.Delete(b.ID); err != nil {
		t.Fatal(err)
	}
	if ok, err := c2.Loops.Sandbox().Running(context.Background(), b.ID); err != nil || ok {
		t.Fatalf("deleted loop's container still running: %v %v", ok, err)
	}
}

// waitNewRelay waits until a relay other than oldPid owns the link in the container.
func waitNewRelay(t *testing.T, container, pidFile, oldPid string, limit time.Duration) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for {
		out, _ := exec.Command("podman", "exec", container, "cat", pidFile).Output()
		if pid := strings.TrimSpace(string(out)); pid != "" && pid != oldPid {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("no new relay in %s after %s (old pid %s)", container, limit, oldPid)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
