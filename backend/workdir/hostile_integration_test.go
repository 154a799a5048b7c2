//go:build integration

package workdir_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"

	"github.com/loopat/desktop/backend/config"
	"github.com/loopat/desktop/backend/loops"
	"github.com/loopat/desktop/backend/loops/testimage"
	"github.com/loopat/desktop/backend/safefs"
	"github.com/loopat/desktop/backend/services"
	"github.com/loopat/desktop/backend/workdir"
	"github.com/loopat/desktop/internal/testkit"
)

// agentUID is the sandbox user the agent runs as.
const agentUID = "2000"

type staticConn struct{ ctx context.Context }

func (s staticConn) Conn(context.Context) (context.Context, error) { return s.ctx, nil }

// hostileLoop is a real loop container (real podman, the loops test image) whose workdir
// the test attacks from inside, as the agent, through podman exec.
type hostileLoop struct {
	t         *testing.T
	m         *loops.Manager
	id        string
	container string
	git       *services.WorkdirService // the Git tab and file viewer, as the UI calls them
}

func startHostileLoop(t *testing.T) *hostileLoop {
	t.Helper()
	uri := testkit.StartPodmanService(t)
	conn := testkit.Connect(t, uri)
	if err := testimage.Ensure(); err != nil {
		t.Fatal(err)
	}
	ws, err := config.NewWorkspace(filepath.Join(t.TempDir(), testkit.UniqueName("hw")))
	if err != nil {
		t.Fatal(err)
	}
	if err := ws.Ensure(); err != nil {
		t.Fatal(err)
	}
	m, err := loops.NewManager(loops.Options{
		Workspace: ws, Conn: staticConn{conn},
		Images: loops.ImageFunc(func(ctx, conn context.Context, _ loops.Meta) (string, string, error) { return testimage.Ref, "", nil }),
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.Close)
	meta, err := m.Create(loops.CreateRequest{Title: "hostile workdir"})
	if err != nil {
		t.Fatal(err)
	}
	h := &hostileLoop{t: t, m: m, id: meta.ID, container: m.Sandbox().ContainerName(meta.ID), git: services.NewWorkdirService(m, workdir.Author{})}
	t.Cleanup(func() {
		_ = exec.Command("podman", "rm", "-f", "-t", "0", h.container).Run()
		_ = exec.Command("podman", "network", "rm", "-f", m.Sandbox().NetworkName()).Run()
	})
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	if err := m.EnsureContainer(ctx, meta.ID); err != nil {
		t.Fatalf("start the loop container: %v", err)
	}
	return h
}

// agent runs script in the loop's workdir as the sandbox user.
func (h *hostileLoop) agent(script string) string {
	h.t.Helper()
	out, err := exec.Command("podman", "exec", "--user", agentUID, "--workdir", loops.SandboxWork, h.container, "sh", "-c", script).CombinedOutput()
	if err != nil {
		h.t.Fatalf("agent: %s: %v\n%s", script, err, out)
	}
	return string(out)
}

// agentBackground starts script as the sandbox user and leaves it running.
func (h *hostileLoop) agentBackground(script string) {
	h.t.Helper()
	if out, err := exec.Command("podman", "exec", "-d", "--user", agentUID, "--workdir", loops.SandboxWork, h.container, "sh", "-c", script).CombinedOutput(); err != nil {
		h.t.Fatalf("agent (background): %v\n%s", err, out)
	}
}

func randHex() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// rootOnlyMarker is a host file only root may read, holding a unique secret.
func rootOnlyMarker(t *testing.T) (path, secret string) {
	t.Helper()
	secret = "MARKER-" + randHex()
	path = filepath.Join(t.TempDir(), "shadow")
	if err := os.WriteFile(path, []byte("root:"+secret+":19000:0:99999:7:::\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return path, secret
}

// hostRepo is a repository of the user on the host; state fingerprints its .git.
func hostRepo(t *testing.T) (dir string, state func() string) {
	t.Helper()
	dir = t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "README"), []byte("the user's project\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := workdir.Commit(dir, "host work", workdir.Author{}); err != nil {
		t.Fatal(err)
	}
	return dir, func() string {
		var b strings.Builder
		err := filepath.Walk(filepath.Join(dir, ".git"), func(p string, fi os.FileInfo, err error) error {
			if err != nil {
				return err
			}
			b.WriteString(p + " " + fi.Mode().String() + " " + fi.ModTime().String())
			if fi.Mode().IsRegular() {
				data, _ := os.ReadFile(p)
				b.Write(data)
			}
			b.WriteByte('\n')
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		return b.String()
	}
}

// The agent points the workdir's .git at a repository of the host user (a "gitdir:" file,
// then a symlink). The Git tab refuses status, diff, commit and init, and the host repository
// is byte-for-byte unchanged.
func TestHostileWorkdirGitRedirectToHostRepoIsRefused(t *testing.T) {
	h := startHostileLoop(t)
	repo, state := hostRepo(t)
	before := state()
	for name, plant := range map[string]string{
		"gitdir file": "rm -rf .git && printf 'gitdir: %s\\n' " + filepath.Join(repo, ".git") + " > .git",
		"symlink":     "rm -rf .git && ln -s " + filepath.Join(repo, ".git") + " .git",
		"commondir":   "rm -rf .git && mkdir -p .git/objects/info .git/refs && echo 'ref: refs/heads/master' > .git/HEAD && echo " + filepath.Join(repo, ".git") + " > .git/commondir",
		"alternates":  "rm -rf .git && mkdir -p .git/objects/info .git/refs && echo 'ref: refs/heads/master' > .git/HEAD && echo " + filepath.Join(repo, ".git", "objects") + " > .git/objects/info/alternates",
	} {
		t.Run(name, func(t *testing.T) {
			h.agent(plant + " && echo 'agent change' > evil.txt")
			if _, err := h.git.Commit(h.id, "commit from the Git tab"); !errors.Is(err, safefs.ErrUnsafeGitDir) {
				t.Errorf("Commit = %v, want ErrUnsafeGitDir", err)
			}
			if _, err := h.git.GitStatus(h.id); !errors.Is(err, safefs.ErrUnsafeGitDir) {
				t.Errorf("GitStatus = %v, want ErrUnsafeGitDir", err)
			}
			if _, err := h.git.GitDiff(h.id, ""); !errors.Is(err, safefs.ErrUnsafeGitDir) {
				t.Errorf("GitDiff = %v, want ErrUnsafeGitDir", err)
			}
			if _, err := h.git.InitRepo(h.id); !errors.Is(err, safefs.ErrUnsafeGitDir) {
				t.Errorf("InitRepo = %v, want ErrUnsafeGitDir", err)
			}
			if after := state(); after != before {
				t.Fatalf("the host repository changed:\n%s\n---\n%s", before, after)
			}
		})
	}
	r, err := git.PlainOpen(repo)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Head(); err != nil {
		t.Fatal(err)
	}
	it, err := r.Log(&git.LogOptions{})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	_ = it.ForEach(func(*object.Commit) error { n++; return nil })
	if n != 1 {
		t.Fatalf("host repository has %d commits, want its own 1", n)
	}
}

// The agent links workdir entries to a root-only host file and a host folder, and keeps
// swapping another entry between a plain file and such a link. The file viewer and the
// Git tab never return the host file's content.
func TestHostileWorkdirLinksOutAreNeverRead(t *testing.T) {
	h := startHostileLoop(t)
	marker, secret := rootOnlyMarker(t)
	// A repository first (from the Git tab: the agent image has no git), so Diff has a base.
	h.agent("echo base > base.txt")
	if _, err := h.git.Commit(h.id, "base"); err != nil {
		t.Fatal(err)
	}
	h.agent("ln -s " + marker + " x && ln -s " + filepath.Dir(marker) + " dir-out && ln -s /etc/shadow shadow && mkdir -p sub && ln -s ../../../../../../../../" + strings.TrimPrefix(marker, "/") + " sub/up")
	leaks := func(what, s string) {
		t.Helper()
		if strings.Contains(s, secret) {
			t.Fatalf("%s returned the host file's content:\n%s", what, s)
		}
	}
	for _, p := range []string{"x", "dir-out/shadow", "sub/up", "shadow"} {
		f, err := h.git.Read(h.id, p)
		if !errors.Is(err, workdir.ErrOutside) {
			t.Errorf("Read(%q) = %v, want ErrOutside", p, err)
		}
		leaks("Read("+p+")", f.Content)
	}
	if _, err := h.git.Tree(h.id, "dir-out"); !errors.Is(err, workdir.ErrOutside) {
		t.Errorf("Tree(dir-out) = %v, want ErrOutside", err)
	}
	es, err := h.git.Tree(h.id, "")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range es {
		if (e.Name == "x" || e.Name == "dir-out") && (!e.Symlink || e.Dir) {
			t.Errorf("%s listed as %+v, want a symlink", e.Name, e)
		}
	}
	d, err := h.git.GitDiff(h.id, "")
	if err != nil {
		t.Fatal(err)
	}
	leaks("GitDiff", d)
	if !strings.Contains(d, "+"+marker) {
		t.Errorf("diff does not show the link text of x:\n%s", d)
	}
	// Committing the links stores link texts, not the file.
	res, err := h.git.Commit(h.id, "links")
	if err != nil {
		t.Fatal(err)
	}
	r, err := git.PlainOpen(h.m.Store().WorkDir(h.id))
	if err != nil {
		t.Fatal(err)
	}
	c, err := r.CommitObject(plumbing.NewHash(res.Hash))
	if err != nil {
		t.Fatal(err)
	}
	files, _ := c.Files()
	_ = files.ForEach(func(f *object.File) error {
		s, _ := f.Contents()
		leaks("committed "+f.Name, s)
		return nil
	})

	// Swapped between checks: the agent flips "y" between a plain file and a link to the
	// marker as fast as it can while the host reads and diffs it.
	h.agent("echo plain > y")
	// perl (Debian's perl-base) swaps without forking, so the window is hit often.
	h.agentBackground(`perl -e 'while (1) { symlink($ARGV[0], "y.l"); rename("y.l", "y"); open(my $f, ">", "y.f"); print $f "plain\n"; close $f; rename("y.f", "y") }' ` + marker)
	deadline := time.Now().Add(5 * time.Second)
	reads := 0
	for time.Now().Before(deadline) {
		if f, err := h.git.Read(h.id, "y"); err == nil {
			leaks("Read(y) during swaps", f.Content)
		}
		if d, err := h.git.GitDiff(h.id, "y"); err == nil {
			leaks("GitDiff(y) during swaps", d)
		}
		reads++
	}
	if reads < 10 {
		t.Fatalf("only %d reads during the swap attack", reads)
	}
	t.Logf("%d reads and diffs during the swap attack, none leaked", reads)
}
