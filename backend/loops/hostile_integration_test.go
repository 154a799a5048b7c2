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
)

// huntScript is what an agent looking for credentials runs: every process's environment
// and command line, every secrets folder it can reach (its own, another loop's through
// /proc/*/root), podman's storage and state paths and the whole readable file system
// (small files), printed whole so the test looks for the values on the host side.
// One line: the mock API's tool marker ends at a newline.
const huntScript = `for p in /proc/[0-9]*; do tr '\0' '\n' < $p/environ 2>/dev/null; tr '\0' ' ' < $p/cmdline 2>/dev/null; echo; done; ` +
	`for d in /proc/[0-9]*/root/run/loopat-secrets /run/loopat-secrets /var/lib/containers /run/containers /run/libpod /var/run/libpod /run/user; do ` +
	`find "$d" -xdev -type f -size -4M -readable -exec cat {} + 2>/dev/null; done; ` +
	`find / -xdev \( -path /proc -o -path /sys -o -path /usr -o -path /lib -o -path /var/lib/dpkg \) -prune -o -type f -size -1M -readable -print0 2>/dev/null | xargs -0 cat 2>/dev/null; ` +
	`find /run/loopat-secrets /home/loopat /tmp -type f -readable -exec cat {} + 2>/dev/null; true`

// An agent hunting for secrets from inside its loop container (as the sandbox user, and
// as root inside the container) finds neither the context remote's token or SSH key
// (never delivered) nor another loop's env secret (its tmpfs is another mount in
// another container), while its own delivered secrets are there (control). Its env
// file is 0600 and the sandbox user's. On the host, podman's state database, the
// containers' userdata and the inspect outputs hold none of the values.
func TestHostileSandboxHuntsForCredentials(t *testing.T) {
	h := newHarness(t)
	f := newRemoteFixture(t, h) // vault "default": remote token + key, OTHER_SECRET, a file
	otherLoopSecret := uniqueSecret("team-secret")
	if err := h.vault.SetEnv("team", "TEAM_SECRET", otherLoopSecret); err != nil {
		t.Fatal(err)
	}
	m := f.m
	a, err := m.Create(CreateRequest{Title: "hunter"})
	if err != nil {
		t.Fatal(err)
	}
	b, err := m.Create(CreateRequest{Title: "victim", Vault: "team"})
	if err != nil {
		t.Fatal(err)
	}
	h.startMock(m, a.ID)
	// Loop b runs with its env secret delivered and a terminal process holding it.
	if out := runTerminal(t, m, b.ID, "sh", "-c", `echo "team=[${TEAM_SECRET:+set}]"`); !strings.Contains(out, "team=[set]") {
		t.Fatalf("loop b's terminal lacks its secret: %q", out)
	}
	tty, err := m.ExecTTY(context.Background(), b.ID, []string{"sh", "-c", "sleep 120"}, 80, 24)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tty.Kill(context.Background()) })

	// The agent of loop a runs the hunt with its Bash tool (its output lands in the transcript).
	all := agentTool(t, h, m, a.ID, `sh -c '`+strings.ReplaceAll(huntScript, "'", `'\''`)+`' 2>/dev/null | grep -a -o -E '(ghp_remote|team-secret|other)-[0-9a-f]{32}' | sort -u`)
	if found := containsAny(all, f.token, otherLoopSecret); len(found) > 0 {
		t.Fatalf("the agent's hunt found %d credential(s) it must not have:\n%s", len(found), all)
	}
	if !strings.Contains(all, f.other) {
		t.Fatalf("hunt control: the agent did not find its own OTHER_SECRET, so the hunt proves nothing:\n%s", all)
	}
	// The same hunt, unfiltered, as the sandbox user and as root in the container.
	for _, user := range []string{SandboxUser, "0"} {
		cmd := agentCmd("sh", "-c", huntScript)
		cmd.User = user
		dump := execOut(t, m, a.ID, cmd)
		if found := containsAny(dump, f.token, f.keyLine, otherLoopSecret); len(found) > 0 {
			t.Fatalf("hunt as %s found %d credential(s) it must not have", user, len(found))
		}
		if found := containsAny(dump, f.other, f.otherFile); len(found) != 2 {
			t.Fatalf("hunt control as %s: found %d of its 2 own secrets", user, len(found))
		}
	}
	// The env file: 0600, the sandbox user's, in the tmpfs (memory only).
	if st := sandboxRun(t, m, a.ID, `stat -c '%a %u %g' "`+envFilePath+`"; stat -f -c %T "`+SecretsDir+`"`); st != "600 2000 2000\ntmpfs\n" {
		t.Fatalf("env file mode/owner/fs = %q", st)
	}

	// Host side: podman keeps none of the values (the core of the boundary: the agent
	// cannot read podman's state, the host can).
	for _, id := range []string{a.ID, b.ID} {
		state := findPodmanState(t, m, id)
		for _, v := range []string{f.token, f.keyLine, f.other, f.otherFile, otherLoopSecret} {
			if hits := state.holders(t, m, id, v); len(hits) > 0 {
				t.Fatalf("podman state of loop %s holds a secret (%.12s…): %v", id, v, hits)
			}
		}
	}
}

// execOut runs cmd in the loop's container and returns its stdout, whatever the exit code.
func execOut(t *testing.T, m *Manager, id string, cmd agentCommand) string {
	t.Helper()
	p, err := m.Sandbox().Exec(context.Background(), id, cmd, false, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	done := make(chan struct{})
	go func() { _, _ = io.Copy(io.Discard, p.Stderr()); close(done) }()
	_, _ = io.Copy(&out, p.Stdout())
	_, _ = p.Wait()
	<-done
	return out.String()
}

// hostileAgent plays a compromised agent on the control channel: the user message's
// text picks what it prints on stdout, where the host reads control requests.
const hostileAgent = `#!/bin/sh
while IFS= read -r line; do
  case "$line" in
  *'"type":"user"'*)
    case "$line" in
    *attack-badtool*) echo '{"type":"control_request","request_id":"bad-1","request":{"subtype":"can_use_tool","tool_name":{"x":1},"input":{}}}' ;;
    *attack-noid*) echo '{"type":"control_request","request":{"subtype":"can_use_tool","tool_name":"Bash","input":{}}}' ;;
    *attack-garbage*) echo '{"type":"control_request","request_id":' ;;
    *attack-huge*) printf '{"type":"control_request","request_id":"big","request":{"subtype":"can_use_tool","tool_name":"Bash","input":{"command":"'; head -c 2000000 /dev/zero | tr '\0' a; printf '"}}}\n' ;;
    *attack-compound*) echo '{"type":"control_request","request_id":"c-1","request":{"subtype":"can_use_tool","tool_name":"Bash","input":{"command":"npm test; touch /home/loopat/work/pwned"}}}' ;;
    esac ;;
  *'"type":"control_response"'*) echo '{"type":"result","subtype":"success","result":"answered","is_error":false}' ;;
  *'"subtype":"interrupt"'*) echo '{"type":"result","subtype":"error_during_execution","is_error":true}' ;;
  esac
done
`

// An agent that sends malformed or oversized control requests from inside its real
// loop container gets an error card and a refused or interrupted turn, never a hung
// loop or a stored request; a compound command does not ride an allow-always prefix
// rule. The hostile program replaces the CLI inside the container.
func TestHostileControlChannel(t *testing.T) {
	h := newHarness(t)
	o := h.options()
	o.AgentBinary = SandboxWork + "/fake-claude"
	m, err := NewManager(o)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.Close)
	meta, err := m.Create(CreateRequest{Title: "hostile control"})
	if err != nil {
		t.Fatal(err)
	}
	h.startMock(m, meta.ID)
	if err := os.WriteFile(filepath.Join(m.Store().WorkDir(meta.ID), "fake-claude"), []byte(hostileAgent), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, attack := range []string{"attack-badtool", "attack-noid", "attack-garbage", "attack-huge"} {
		before, _ := m.Messages(meta.ID)
		if _, err := m.Send(meta.ID, attack); err != nil {
			t.Fatal(err)
		}
		waitTurn(t, m, meta.ID, 90*time.Second)
		after, _ := m.Messages(meta.ID)
		card := false
		for _, l := range after[len(before):] {
			if strings.Contains(string(l), `"type":"error"`) && strings.Contains(string(l), "control message loopat cannot read") {
				card = true
			}
		}
		if !card {
			_, all := transcript(t, m, meta.ID)
			t.Fatalf("%s: no error card\n%s", attack, all)
		}
		if p, _ := m.PendingItems(meta.ID); len(p) != 0 {
			t.Fatalf("%s: a malformed request is pending: %+v", attack, p)
		}
	}
	if err := m.AddPermissionRule(meta.ID, "Bash(npm test:*)"); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Send(meta.ID, "attack-compound"); err != nil {
		t.Fatal(err)
	}
	p := waitForPending(t, m, meta.ID, 1, time.Minute)[0]
	if err := m.Answer(meta.ID, p.ID, PendingAnswer{Message: "no"}); err != nil {
		t.Fatal(err)
	}
	waitTurn(t, m, meta.ID, time.Minute)
}

// The workdir is the agent's: from inside its real container it plants links where the
// composer writes uploads and where the @ picker searches. The host writes nothing
// through them and lists nothing behind them.
func TestHostileComposerUploadsAndFileSearch(t *testing.T) {
	h := newHarness(t)
	m := h.manager()
	meta, err := m.Create(CreateRequest{Title: "hostile uploads"})
	if err != nil {
		t.Fatal(err)
	}
	h.startMock(m, meta.ID) // the container up, as the agent has it
	victim := t.TempDir()   // a host folder the agent must not reach
	victimFile := filepath.Join(victim, "notes.txt")
	if err := os.WriteFile(victimFile, []byte("host data"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(victim, "host-secret.txt"), []byte("s"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(victim, 0o777); err != nil { // writable by anyone: only confinement protects it
		t.Fatal(err)
	}
	// Absolute host paths as link targets: dangling inside the container, the victim on the host.
	out := execOut(t, m, meta.ID, agentCmd("sh", "-c",
		"cd "+SandboxWork+" && ln -s "+victim+" uploads && ln -s "+victim+" escape && ln -s .. up && ls -la && echo planted"))
	if !strings.Contains(out, "planted") {
		t.Fatalf("the agent could not plant its links: %s", out)
	}
	if _, err := m.Upload(meta.ID, "notes.txt", []byte("overwritten")); err == nil {
		t.Fatal("an upload went through a link planted at uploads/")
	}
	// uploads/ as a real folder with a link at the file's name.
	out = execOut(t, m, meta.ID, agentCmd("sh", "-c",
		"cd "+SandboxWork+" && rm uploads && mkdir uploads && ln -s "+victimFile+" uploads/notes.txt && echo planted"))
	if !strings.Contains(out, "planted") {
		t.Fatalf("second plant: %s", out)
	}
	p, err := m.Upload(meta.ID, "notes.txt", []byte("overwritten"))
	if err != nil || p != "uploads/notes-1.txt" {
		t.Fatalf("upload beside a planted link: %q %v", p, err)
	}
	if b, _ := os.ReadFile(victimFile); string(b) != "host data" {
		t.Fatalf("the host file was written through the agent's link: %q", b)
	}
	if ents, _ := os.ReadDir(victim); len(ents) != 2 {
		t.Fatalf("files appeared in the host folder: %v", ents)
	}
	for _, q := range []string{"", "secret", "meta.json", "host"} {
		got, err := m.FindFiles(meta.ID, q)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := json.Marshal(got)
		if strings.Contains(string(b), "host-secret") || strings.Contains(string(b), "meta.json") {
			t.Fatalf("the file search followed a link out of the workdir (%q): %s", q, b)
		}
	}
}
