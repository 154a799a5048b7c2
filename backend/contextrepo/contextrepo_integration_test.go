//go:build integration

package contextrepo

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/zalando/go-keyring"
	"golang.org/x/crypto/ssh"

	"github.com/loopat/desktop/backend/config"
	"github.com/loopat/desktop/backend/vault"
	"github.com/loopat/desktop/internal/testkit"
)

const (
	baseImage   = "docker.io/library/debian:bookworm-slim"
	gitSSHImage = "localhost/loopat-test-gitssh:1" // cached by tag across runs
)

func podman(t *testing.T, stdin string, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command("podman", args...)
	if stdin != "" {
		cmd.Stdin = strings.NewReader(stdin)
	}
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func mustPodman(t *testing.T, args ...string) string {
	t.Helper()
	out, err := podman(t, "", args...)
	if err != nil {
		t.Fatalf("podman %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

// sandbox starts a container as the sandbox user (uid 2000, like loop containers) with mounts.
func sandbox(t *testing.T, mounts []Mount) string {
	t.Helper()
	if _, err := exec.LookPath("podman"); err != nil {
		t.Fatalf("podman is required: %v", err)
	}
	name := testkit.UniqueName("loopat-ctx-test")
	args := []string{"run", "-d", "--name", name, "--init", "--user", "2000:2000", "--network", "none"}
	if podmanRootless(t) {
		// As loops.Sandbox does: the podman user on the host is uid 2000 inside, so the
		// sandbox can write the host-owned mounts and its files are the user's.
		args = append(args, "--userns=keep-id:uid=2000,gid=2000")
	}
	for _, m := range mounts {
		args = append(args, "--mount", fmt.Sprintf("type=bind,src=%s,dst=%s,ro=%t", m.Source, m.Target, m.ReadOnly))
	}
	args = append(args, baseImage, "sleep", "infinity")
	mustPodman(t, args...)
	t.Cleanup(func() { _, _ = podman(t, "", "rm", "-f", "-t", "0", name) })
	return name
}

// podmanRootless tells whether the podman server runs rootless (the server decides,
// as loops.Sandbox asks it, not our euid).
func podmanRootless(t *testing.T) bool {
	t.Helper()
	out := strings.TrimSpace(mustPodman(t, "info", "--format", "{{.Host.Security.Rootless}}"))
	return out == "true"
}

func inSandbox(t *testing.T, name, script string) (string, error) {
	t.Helper()
	return podman(t, "", "exec", name, "sh", "-c", script)
}

func newIntegrationStore(t *testing.T, secrets Secrets) *Store {
	t.Helper()
	ws, err := config.NewWorkspace(filepath.Join(t.TempDir(), ".loopat"))
	if err != nil {
		t.Fatal(err)
	}
	return New(Options{Workspace: ws, Secrets: secrets})
}

// Solo mode end to end with real sandboxes: loops write context the way the agent does
// (inside the container at /loopat/context), promote, and later loops see the result;
// a clash is reported and both versions survive; knowledge is read-only in normal loops.
func TestSoloContextThroughSandboxes(t *testing.T) {
	s := newIntegrationStore(t, nil)
	ctx := context.Background()
	idA, idB, idC, idD := testkit.UniqueName("a"), testkit.UniqueName("b"), testkit.UniqueName("c"), testkit.UniqueName("d")

	mA, err := s.PrepareLoop(ctx, idA, false)
	if err != nil {
		t.Fatal(err)
	}
	mB, err := s.PrepareLoop(ctx, idB, false)
	if err != nil {
		t.Fatal(err)
	}
	a, b := sandbox(t, mA), sandbox(t, mB)

	// Knowledge is read-only in a normal loop; notes and personal are writable.
	out, err := inSandbox(t, a, "echo changed > /loopat/context/knowledge/README.md")
	if err == nil || !strings.Contains(strings.ToLower(out), "read-only") {
		t.Fatalf("knowledge write in a normal loop: err=%v out=%q", err, out)
	}
	if out, err := inSandbox(t, a, "touch /loopat/context/knowledge/new.md"); err == nil {
		t.Fatalf("knowledge create in a normal loop succeeded: %q", out)
	}
	if out, err := inSandbox(t, a, `echo "deploy with make release" > /loopat/context/notes/memory/MEMORY.md &&
		echo "prefers tabs" > /loopat/context/personal/memory/style.md`); err != nil {
		t.Fatalf("notes/personal write: %v %s", err, out)
	}
	if out, err := inSandbox(t, b, `echo "deploy by hand" > /loopat/context/notes/memory/MEMORY.md`); err != nil {
		t.Fatalf("loop b write: %v %s", err, out)
	}

	resA, err := s.Promote(ctx, idA)
	if err != nil {
		t.Fatal(err)
	}
	if r := status(t, resA, Notes); r.Status != Promoted {
		t.Fatalf("promote a notes: %+v", r)
	}
	if r := status(t, resA, Personal); r.Status != Promoted || r.Files[0] != "memory/style.md" {
		t.Fatalf("promote a personal: %+v", r)
	}
	if r := status(t, resA, Knowledge); r.Status != Unchanged {
		t.Fatalf("promote a knowledge: %+v", r)
	}

	resB, err := s.Promote(ctx, idB)
	if err != nil {
		t.Fatal(err)
	}
	r := status(t, resB, Notes)
	if r.Status != Conflict || len(r.Files) != 1 || r.Files[0] != "memory/MEMORY.md" {
		t.Fatalf("promote b: want a conflict on memory/MEMORY.md, got %+v", r)
	}
	// Nothing thrown away: b still sees its own version, the origin keeps a's on main and b's on loop/<b>.
	if out, err := inSandbox(t, b, "cat /loopat/context/notes/memory/MEMORY.md"); err != nil || out != "deploy by hand\n" {
		t.Errorf("loop b after conflict: %q %v", out, err)
	}
	if got := fileAt(t, s.OriginDir(Notes), "refs/heads/main", "memory/MEMORY.md"); got != "deploy with make release\n" {
		t.Errorf("origin main: %q", got)
	}
	if got := fileAt(t, s.OriginDir(Notes), "refs/heads/"+LoopBranch(idB), "memory/MEMORY.md"); got != "deploy by hand\n" {
		t.Errorf("origin loop branch of b: %q", got)
	}
	// The sandbox user can still use b's clone (ownership survived the host-side promote).
	// (The host wrote the index, the loop branch and a pack of origin/main into it.)
	if out, err := inSandbox(t, b, "echo more >> /loopat/context/notes/memory/MEMORY.md && ls -lnR /loopat/context/notes/.git/index /loopat/context/notes/.git/refs /loopat/context/notes/.git/objects/pack"); err != nil || strings.Contains(out, " 0 0 ") {
		t.Errorf("loop b clone after promote: %v %s", err, out)
	}

	// A later loop starts from what a promoted.
	mC, err := s.PrepareLoop(ctx, idC, false)
	if err != nil {
		t.Fatal(err)
	}
	c := sandbox(t, mC)
	if out, err := inSandbox(t, c, "cat /loopat/context/notes/memory/MEMORY.md /loopat/context/personal/memory/style.md"); err != nil ||
		out != "deploy with make release\nprefers tabs\n" {
		t.Errorf("loop c sees %q (%v)", out, err)
	}

	// A distill loop may write knowledge; its change becomes a proposal, not a push to main.
	mD, err := s.PrepareLoop(ctx, idD, true)
	if err != nil {
		t.Fatal(err)
	}
	d := sandbox(t, mD)
	if out, err := inSandbox(t, d, "echo '# Release' > /loopat/context/knowledge/release.md"); err != nil {
		t.Fatalf("distill knowledge write: %v %s", err, out)
	}
	resD, err := s.Promote(ctx, idD)
	if err != nil || status(t, resD, Knowledge).Status != Proposed {
		t.Fatalf("promote distill: %+v %v", resD, err)
	}
	ps, err := s.Proposals(ctx)
	if err != nil || len(ps) != 1 || ps[0].ID != idD {
		t.Fatalf("proposals %+v %v", ps, err)
	}
}

// ensureGitSSHImage builds the sshd+git test image once; later runs reuse it by tag.
func ensureGitSSHImage(t *testing.T) {
	t.Helper()
	if _, err := podman(t, "", "image", "exists", gitSSHImage); err == nil {
		return
	}
	start := time.Now()
	out, err := podman(t, "", "build", "-q", "-t", gitSSHImage, "-f", "testdata/gitssh.Containerfile", "testdata")
	if err != nil {
		t.Fatalf("build %s: %v\n%s", gitSSHImage, err, out)
	}
	t.Logf("built %s in %s", gitSSHImage, time.Since(start).Round(time.Second))
}

// A team remote over ssh: a bare repository served by sshd in a container the test
// starts, the client key taken from the vault, the server's host key the only one accepted.
func TestSSHRemoteWithVaultKey(t *testing.T) {
	ensureGitSSHImage(t)
	name := testkit.UniqueName("loopat-ctx-gitssh")
	mustPodman(t, "run", "-d", "--name", name, "-p", "127.0.0.1::22", gitSSHImage)
	t.Cleanup(func() { _, _ = podman(t, "", "rm", "-f", "-t", "0", name) })
	hostPort := strings.TrimSpace(mustPodman(t, "port", name, "22/tcp"))
	_, port, err := net.SplitHostPort(hostPort)
	if err != nil {
		t.Fatalf("port %q: %v", hostPort, err)
	}

	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	block, err := ssh.MarshalPrivateKey(priv, "")
	if err != nil {
		t.Fatal(err)
	}
	sshPub, err := ssh.NewPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	if out, err := podman(t, string(ssh.MarshalAuthorizedKey(sshPub)), "exec", "-i", name, "sh", "-c",
		"mkdir -p /home/git/.ssh && cat > /home/git/.ssh/authorized_keys && chmod 700 /home/git/.ssh && chmod 600 /home/git/.ssh/authorized_keys && chown -R git:git /home/git/.ssh && su git -c 'git init -q --bare -b main /srv/git/notes.git'"); err != nil {
		t.Fatalf("set up git server: %v %s", err, out)
	}
	hostKey := strings.Fields(mustPodman(t, "exec", name, "cat", "/etc/ssh/ssh_host_ed25519_key.pub"))
	knownHosts := fmt.Sprintf("[127.0.0.1]:%s %s %s", port, hostKey[0], hostKey[1])
	waitTCP(t, hostPort)

	keyring.MockInit()
	newStore := func(known string) *Store {
		s := newIntegrationStore(t, nil)
		v := vault.New(s.opt.Workspace, vault.OSKeyring())
		if err := v.SetFile("", ".ssh/id_ed25519", 0o600, pem.EncodeToMemory(block)); err != nil {
			t.Fatal(err)
		}
		s.opt.Secrets = v
		err := s.SetRemote(Notes, Remote{URL: "ssh://git@127.0.0.1:" + port + "/srv/git/notes.git", SSHKeyFile: ".ssh/id_ed25519", KnownHosts: known})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}

	// Another host key than the server's is refused.
	otherPub, _, _ := ed25519.GenerateKey(rand.Reader)
	otherKey, _ := ssh.NewPublicKey(otherPub)
	bad := newStore(fmt.Sprintf("[127.0.0.1]:%s %s", port, strings.TrimSpace(string(ssh.MarshalAuthorizedKey(otherKey)))))
	if err := bad.Ensure(context.Background(), Notes); err == nil || !strings.Contains(err.Error(), "knownhosts") {
		t.Fatalf("clone with a wrong host key: %v", err)
	}

	s := newStore(knownHosts)
	ctx := context.Background()
	id := testkit.UniqueName("ssh")
	if _, err := s.PrepareLoop(ctx, id, false); err != nil {
		t.Fatal(err)
	}
	gitShow := func(rev string) string {
		t.Helper()
		out, err := podman(t, "", "exec", "--user", "git", name, "git", "--git-dir=/srv/git/notes.git", "show", rev)
		if err != nil {
			t.Fatalf("git show %s on the server: %v %s", rev, err, out)
		}
		return out
	}
	if got := gitShow("main:memory/MEMORY.md"); !strings.Contains(got, "Team memory") {
		t.Errorf("seed on the server: %q", got)
	}
	writeFile(t, filepath.Join(s.LoopDir(id, Notes), "memory", "ssh.md"), "promoted over ssh\n")
	res, err := s.Promote(ctx, id)
	if err != nil || status(t, res, Notes).Status != Promoted {
		t.Fatalf("promote over ssh: %+v %v", res, err)
	}
	if got := gitShow("main:memory/ssh.md"); got != "promoted over ssh\n" {
		t.Errorf("server after promote: %q", got)
	}
	st, err := s.Status(ctx, Notes)
	if err != nil || st.Solo || st.FetchError != "" || st.Ahead != 0 || st.Behind != 0 {
		t.Errorf("status over ssh: %+v %v", st, err)
	}
	if _, err := s.Write(Notes, "ui.md", "from the ui\n"); err != nil {
		t.Fatal(err)
	}
	if st, err := s.Push(ctx, Notes); err != nil || st.Ahead != 0 {
		t.Fatalf("push over ssh: %+v %v", st, err)
	}
	if got := gitShow("main:ui.md"); got != "from the ui\n" {
		t.Errorf("server after push: %q", got)
	}
	if _, err := os.Stat(s.OriginDir(Notes)); err == nil {
		t.Error("a solo origin was made for a repository with a remote")
	}
}

func waitTCP(t *testing.T, addr string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("sshd at %s not reachable: %v", addr, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
