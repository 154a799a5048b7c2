//go:build integration

package loops

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/containers/podman/v5/pkg/api/handlers"
	"github.com/containers/podman/v5/pkg/bindings/containers"
	dockerContainer "github.com/docker/docker/api/types/container"

	"github.com/loopat/desktop/backend/contextrepo"
	"github.com/loopat/desktop/backend/vault"
)

// uniqueSecret is a value no earlier run or other test can have left anywhere.
func uniqueSecret(prefix string) string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return prefix + "-" + hex.EncodeToString(b)
}

func sha256Hex(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}

// podmanState is where podman keeps what it knows of a container on the host: its
// state database and the container's userdata folders (exec bundles, exec process
// specs, exit files, conmon files).
type podmanState struct {
	dbFiles []string // state database (bolt_state.db or db.sql), at least one
	dirs    []string // every file below these is searched
}

func findPodmanState(t *testing.T, m *Manager, loopID string) podmanState {
	t.Helper()
	out, err := exec.Command("podman", "info", "--format", "json").Output()
	if err != nil {
		t.Fatalf("podman info: %v", err)
	}
	var info struct {
		Store struct {
			GraphRoot string `json:"graphRoot"`
			RunRoot   string `json:"runRoot"`
		} `json:"store"`
	}
	if err := json.Unmarshal(out, &info); err != nil || info.Store.GraphRoot == "" {
		t.Fatalf("podman info: %v %s", err, out)
	}
	var st podmanState
	for _, root := range []string{info.Store.GraphRoot, filepath.Join(info.Store.GraphRoot, "libpod"), info.Store.RunRoot, filepath.Join(info.Store.RunRoot, "libpod")} {
		for _, name := range []string{"bolt_state.db", "db.sql", "db.sql-wal"} {
			if fi, err := os.Stat(filepath.Join(root, name)); err == nil && fi.Mode().IsRegular() {
				st.dbFiles = append(st.dbFiles, filepath.Join(root, name))
			}
		}
	}
	if len(st.dbFiles) == 0 {
		t.Fatalf("no podman state database under %s or %s", info.Store.GraphRoot, info.Store.RunRoot)
	}
	insp, err := exec.Command("podman", "container", "inspect", "--format",
		"{{.StaticDir}}\n{{.ConmonPidFile}}\n{{.PidFile}}\n{{.ResolvConfPath}}", m.Sandbox().ContainerName(loopID)).Output()
	if err != nil {
		t.Fatalf("podman inspect: %v", err)
	}
	seen := map[string]bool{}
	for _, p := range strings.Split(strings.TrimSpace(string(insp)), "\n") {
		if p = strings.TrimSpace(p); p == "" || p == "<no value>" {
			continue
		}
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() {
			p = filepath.Dir(p)
		}
		if !seen[p] {
			seen[p] = true
			st.dirs = append(st.dirs, p)
		}
	}
	// The exec session folders live in the userdata (StaticDir) and its run-root twin.
	if id := strings.TrimSpace(string(mustOut(t, "podman", "container", "inspect", "--format", "{{.Id}}", m.Sandbox().ContainerName(loopID)))); id != "" {
		for _, root := range []string{info.Store.GraphRoot, info.Store.RunRoot} {
			p := filepath.Join(root, "overlay-containers", id)
			if _, err := os.Stat(p); err == nil && !seen[p] {
				seen[p] = true
				st.dirs = append(st.dirs, p)
			}
		}
	}
	if len(st.dirs) == 0 {
		t.Fatal("podman inspect named no userdata folder")
	}
	return st
}

func mustOut(t *testing.T, name string, args ...string) []byte {
	t.Helper()
	out, err := exec.Command(name, args...).Output()
	if err != nil {
		t.Fatalf("%s %v: %v", name, args, err)
	}
	return out
}

// holders are the podman state files, and the JSON of `podman inspect` and of every
// exec session's inspect, that contain needle.
func (st podmanState) holders(t *testing.T, m *Manager, loopID, needle string) []string {
	t.Helper()
	var hits []string
	seen := map[string]bool{}
	for _, f := range st.dbFiles {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatalf("read %s: %v", f, err)
		}
		if bytes.Contains(b, []byte(needle)) {
			hits = append(hits, f)
		}
	}
	for _, d := range st.dirs {
		err := filepath.WalkDir(d, func(p string, e fs.DirEntry, err error) error {
			if err != nil {
				return nil // a file that went away (exit file, exec spec) meanwhile
			}
			if !e.Type().IsRegular() {
				return nil
			}
			if seen[p] {
				return nil // the userdata folder is reached from two roots
			}
			seen[p] = true
			b, err := os.ReadFile(p)
			if err == nil && bytes.Contains(b, []byte(needle)) {
				hits = append(hits, p)
			}
			return nil
		})
		if err != nil {
			t.Fatalf("walk %s: %v", d, err)
		}
	}
	name := m.Sandbox().ContainerName(loopID)
	if out := mustOut(t, "podman", "inspect", name); bytes.Contains(out, []byte(needle)) {
		hits = append(hits, "podman inspect "+name)
	}
	info, err := containers.Inspect(m.sb.mustConn(t), name, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range info.ExecIDs {
		rep, err := containers.ExecInspect(m.sb.mustConn(t), id, nil)
		if err != nil {
			continue // ended and removed meanwhile
		}
		js, _ := json.Marshal(rep)
		if bytes.Contains(js, []byte(needle)) {
			hits = append(hits, "exec inspect "+id)
		}
	}
	return hits
}

// mustConn is the sandbox's engine connection for direct bindings calls in tests.
func (s *Sandbox) mustConn(t *testing.T) context.Context {
	t.Helper()
	c, err := s.conn.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// canaryExec creates (without starting) an exec whose environment holds value, the way
// env secrets were handed over before: the positive control that the state search
// finds a value podman keeps.
func canaryExec(t *testing.T, m *Manager, loopID, value string) {
	t.Helper()
	_, err := containers.ExecCreate(m.sb.mustConn(t), m.Sandbox().ContainerName(loopID), &handlers.ExecCreateConfig{
		ExecOptions: dockerContainer.ExecOptions{Cmd: []string{"true"}, Env: []string{"LOOPAT_CANARY=" + value}, AttachStdout: true}})
	if err != nil {
		t.Fatalf("canary exec: %v", err)
	}
}

// runTerminal runs args with a TTY the way the terminal does and returns its output.
func runTerminal(t *testing.T, m *Manager, id string, args ...string) string {
	t.Helper()
	tty, err := m.ExecTTY(context.Background(), id, args, 120, 40)
	if err != nil {
		t.Fatalf("terminal: %v", err)
	}
	out, _ := io.ReadAll(tty.Stdout())
	_, _ = tty.Wait()
	return string(out)
}

// agentTool runs command through the agent's Bash tool (the mock API asks for it) and
// returns the transcript.
func agentTool(t *testing.T, h *harness, m *Manager, id, command string) string {
	t.Helper()
	if _, err := m.Send(id, "[[tool:bash "+command+"]]"); err != nil {
		t.Fatal(err)
	}
	waitTurn(t, m, id, 3*time.Minute)
	_, all := transcript(t, m, id)
	return all
}

// An env secret reaches the agent's tools and a terminal, yet podman never holds it: not
// in its state database, not in the container's userdata (exec bundles and process
// specs), not in `podman inspect` nor any exec session's inspect. A canary passed the
// old way (ExecCreate's env) is found by the same search.
func TestEnvSecretNeverInPodmanState(t *testing.T) {
	h := newHarness(t)
	secret, providerKey := uniqueSecret("envsecret"), uniqueSecret("sk-test")
	if err := h.vault.SetEnv("default", "MY_SECRET", secret); err != nil {
		t.Fatal(err)
	}
	if err := h.vault.SetEnv("default", "MOCK_KEY", providerKey); err != nil {
		t.Fatal(err)
	}
	m := h.manager()
	meta, err := m.Create(CreateRequest{Title: "env secret"})
	if err != nil {
		t.Fatal(err)
	}
	h.startMock(m, meta.ID)

	// The agent's tool sees the value (its hash, so the transcript does not hold it).
	all := agentTool(t, h, m, meta.ID, `printf %s "$MY_SECRET" | sha256sum`)
	if !strings.Contains(all, sha256Hex(secret)) {
		t.Fatalf("the agent's tool did not see MY_SECRET:\n%s", all)
	}
	// So does the agent process itself (its environ, read as the sandbox user).
	environ := sandboxRun(t, m, meta.ID, `for p in /proc/[0-9]*; do tr '\0' '\n' < $p/environ 2>/dev/null; done`)
	if !strings.Contains(environ, "MY_SECRET="+secret) {
		t.Fatal("no process in the container has MY_SECRET in its environment")
	}
	// And a terminal.
	if out := runTerminal(t, m, meta.ID, "sh", "-c", `printf 'hash=%s\n' "$(printf %s "$MY_SECRET" | sha256sum)"`); !strings.Contains(out, "hash="+sha256Hex(secret)) {
		t.Fatalf("terminal did not see MY_SECRET: %q", out)
	}
	// The env file: in the tmpfs, 0600, the sandbox user's.
	if st := sandboxRun(t, m, meta.ID, `stat -c '%a %u %g' "`+envFilePath+`"`); st != "600 2000 2000\n" {
		t.Fatalf("env file mode/owner = %q", st)
	}

	state := findPodmanState(t, m, meta.ID)
	canary := uniqueSecret("canary")
	canaryExec(t, m, meta.ID, canary)
	if hits := state.holders(t, m, meta.ID, canary); len(hits) == 0 {
		t.Fatalf("positive control: a value in ExecCreate's env was not found in %v / %v", state.dbFiles, state.dirs)
	} else {
		t.Logf("control value found (as expected) in %v", hits)
	}
	if hits := state.holders(t, m, meta.ID, secret); len(hits) > 0 {
		t.Fatalf("podman holds the env secret: %v", hits)
	}
	// The provider key stays on the host (the gateway holds it; the agent has a placeholder).
	if hits := state.holders(t, m, meta.ID, providerKey); len(hits) > 0 {
		t.Fatalf("podman holds the provider key: %v", hits)
	}
}

// remoteCredentials mirrors core's wiring: the context remotes' token and SSH key.
func remoteCredentials(cs *contextrepo.Store) func() ([]vault.HostCredential, error) {
	return func() ([]vault.HostCredential, error) {
		rs, err := cs.Remotes()
		if err != nil {
			return nil, err
		}
		var out []vault.HostCredential
		for _, r := range rs {
			out = append(out, vault.HostCredential{Vault: r.Vault, Env: r.TokenEnv, File: r.SSHKeyFile})
		}
		return out, nil
	}
}

// remoteFixture is a vault holding a context remote's token and SSH key next to other
// secrets, and a manager wired to the remotes like the app.
type remoteFixture struct {
	token, keyLine, other, otherFile string
	m                                *Manager
}

func newRemoteFixture(t *testing.T, h *harness) remoteFixture {
	t.Helper()
	f := remoteFixture{token: uniqueSecret("ghp_remote"), other: uniqueSecret("other"), otherFile: uniqueSecret("otherfile")}
	key := fakeKey(t)
	f.keyLine = strings.Split(string(key), "\n")[1]
	for _, err := range []error{
		h.vault.SetEnv("default", "KNOWLEDGE_TOKEN", f.token),
		h.vault.SetEnv("default", "OTHER_SECRET", f.other),
		h.vault.SetFile("default", ".ssh/knowledge_key", 0o600, key),
		h.vault.SetFile("default", ".config/other/file", 0o600, []byte(f.otherFile)),
	} {
		if err != nil {
			t.Fatal(err)
		}
	}
	cs := contextrepo.New(contextrepo.Options{Workspace: h.ws})
	if err := cs.SetRemote(contextrepo.Knowledge, contextrepo.Remote{URL: "https://git.example.invalid/knowledge.git", TokenEnv: "KNOWLEDGE_TOKEN"}); err != nil {
		t.Fatal(err)
	}
	if err := cs.SetRemote(contextrepo.Notes, contextrepo.Remote{URL: "ssh://git@git.example.invalid/notes.git", SSHKeyFile: ".ssh/knowledge_key"}); err != nil {
		t.Fatal(err)
	}
	var err error
	o := h.options()
	o.HostCredentials = remoteCredentials(cs)
	o.PartialMessages, o.InterruptGrace = true, 10*time.Second
	f.m, err = NewManager(o)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.m.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(f.m.Close)
	return f
}

// sandboxDump is everything a search inside the container as the sandbox user reads:
// every process's environment and command line, the secrets tmpfs, the home, /tmp and
// the context mounts. The needles are looked for on the host side: putting them in the
// search's argv would hand them to podman's state.
func sandboxDump(t *testing.T, m *Manager, id string) string {
	t.Helper()
	return sandboxRun(t, m, id, `for p in /proc/[0-9]*; do tr '\0' '\n' < $p/environ 2>/dev/null; tr '\0' ' ' < $p/cmdline 2>/dev/null; echo; done
find "`+SecretsDir+`" "$HOME" /tmp /loopat -xdev -type f -size -4M -readable -exec cat {} + 2>/dev/null
true`)
}

func containsAny(hay string, needles ...string) []string {
	var found []string
	for _, n := range needles {
		if strings.Contains(hay, n) {
			found = append(found, n)
		}
	}
	return found
}

// A loop of the vault that holds a context remote's token and SSH key gets every other
// secret (env and file, agent and terminal) but neither credential.
func TestRemoteCredentialsStayOnHost(t *testing.T) {
	h := newHarness(t)
	f := newRemoteFixture(t, h)
	meta, err := f.m.Create(CreateRequest{Title: "remote creds"})
	if err != nil {
		t.Fatal(err)
	}
	h.startMock(f.m, meta.ID)
	all := agentTool(t, h, f.m, meta.ID, `printf 'other=%s file=%s token=[%s]\n' "$(printf %s "$OTHER_SECRET" | sha256sum)" "$(sha256sum < ~/.config/other/file)" "${KNOWLEDGE_TOKEN:-absent}"; ls ~/.ssh/knowledge_key 2>&1 || true`)
	if !strings.Contains(all, "other="+sha256Hex(f.other)) || !strings.Contains(all, "file="+sha256Hex(f.otherFile)) {
		t.Fatalf("the agent lacks the other secrets:\n%s", all)
	}
	if !strings.Contains(all, "token=[absent]") || strings.Contains(all, f.token) {
		t.Fatalf("the agent got the remote token:\n%s", all)
	}
	if out := runTerminal(t, f.m, meta.ID, "sh", "-c", `echo "token=[${KNOWLEDGE_TOKEN:-absent}] other=[${OTHER_SECRET:+set}]"`); !strings.Contains(out, "token=[absent] other=[set]") {
		t.Fatalf("terminal: %q", out)
	}
	dump := sandboxDump(t, f.m, meta.ID)
	if found := containsAny(dump, f.token, f.keyLine); len(found) > 0 {
		t.Fatalf("the sandbox holds a remote credential (%d of 2)", len(found))
	}
	if found := containsAny(dump, f.other, f.otherFile); len(found) != 2 {
		t.Fatalf("search control: the sandbox search found %d of the 2 delivered secrets", len(found))
	}
}
