package safefs

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/go-git/go-billy/v5"
	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing/cache"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/storage/filesystem"
)

func openBilly(t *testing.T, dir string) *BillyFS {
	t.Helper()
	r, err := os.OpenRoot(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return NewBilly(r, dir)
}

// Symlinks planted in the tree never lead a read, write, stat or temp file outside it.
func TestBillyConfinesSymlinks(t *testing.T) {
	outside := t.TempDir()
	victim := filepath.Join(outside, "victim")
	if err := os.WriteFile(victim, []byte("secret"), 0o600); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	must(t, os.Symlink(outside, filepath.Join(dir, "out")))
	must(t, os.Symlink(victim, filepath.Join(dir, "file")))
	must(t, os.Symlink("../../"+filepath.Base(outside), filepath.Join(dir, "rel")))
	b := openBilly(t, dir)

	for _, name := range []string{"out/victim", "file", "rel/victim", "../" + filepath.Base(outside) + "/victim"} {
		if f, err := b.Open(name); err == nil {
			f.Close()
			t.Errorf("open %s followed a link out of the root", name)
		}
	}
	if f, err := b.OpenFile("file", os.O_WRONLY|os.O_TRUNC, 0); err == nil {
		f.Close()
		t.Error("write through an escaping symlink was allowed")
	}
	if f, err := b.TempFile("out", "tmp_"); err == nil {
		f.Close()
		t.Error("temp file created through an escaping symlink folder")
	}
	if err := b.Rename("file", "out/moved"); err == nil {
		t.Error("rename into an escaping folder was allowed")
	}
	if _, err := b.Stat("out/victim"); err == nil {
		t.Error("stat followed a link out")
	}
	if b, _ := os.ReadFile(victim); string(b) != "secret" {
		t.Fatalf("victim changed: %q", b)
	}
	if _, err := os.Stat(filepath.Join(outside, "moved")); err == nil {
		t.Fatal("a file arrived outside")
	}
	// Lstat still sees the link itself, Readlink reads it.
	if fi, err := b.Lstat("out"); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Fatalf("lstat out: %v %v", fi, err)
	}
}

func TestBillySymlinkCreationMustStayInside(t *testing.T) {
	b := openBilly(t, t.TempDir())
	for _, c := range []struct{ target, link string }{
		{"/etc/passwd", "a"}, {"../x", "a"}, {"../../x", "d/a"}, {"d/../../x", "a"}, {".git/config", "a"}, {"x/.GIT/hooks", "a"},
	} {
		if err := b.Symlink(c.target, c.link); err == nil {
			t.Errorf("symlink %s -> %s was created", c.link, c.target)
		}
	}
	for _, c := range []struct{ target, link string }{{"b.md", "a"}, {"../b.md", "d/a"}, {"./x/y", "z"}} {
		if err := b.Symlink(c.target, c.link); err != nil {
			t.Errorf("symlink %s -> %s: %v", c.link, c.target, err)
		}
	}
}

func TestBillyTempFileIsExclusiveAndNamed(t *testing.T) {
	dir := t.TempDir()
	b := openBilly(t, dir)
	f, err := b.TempFile("objects/pack", "tmp_")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(f.Name(), filepath.Join("objects", "pack", "tmp_")) {
		t.Fatalf("temp name %q is not relative to the filesystem", f.Name())
	}
	f.Close()
	if err := b.Rename(f.Name(), "objects/pack/final"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "objects", "pack", "final")); err != nil {
		t.Fatal(err)
	}
}

func TestBillyReadOnlyRefusesChanges(t *testing.T) {
	dir := t.TempDir()
	must(t, os.WriteFile(filepath.Join(dir, "a"), []byte("x"), 0o644))
	b := openBilly(t, dir).ReadOnly()
	checks := map[string]error{}
	_, checks["create"] = b.Create("n")
	_, checks["openw"] = b.OpenFile("a", os.O_WRONLY, 0)
	_, checks["temp"] = b.TempFile("", "t")
	checks["rename"] = b.Rename("a", "b")
	checks["remove"] = b.Remove("a")
	checks["mkdir"] = b.MkdirAll("d", 0o755)
	checks["symlink"] = b.Symlink("a", "l")
	for op, err := range checks {
		if !errors.Is(err, billy.ErrReadOnly) {
			t.Errorf("%s on a read-only view: %v", op, err)
		}
	}
	if f, err := b.Open("a"); err != nil {
		t.Fatal(err)
	} else {
		f.Close()
	}
}

// A FIFO swapped in for a file is refused at once instead of blocking the host.
func TestBillyRefusesFIFO(t *testing.T) {
	dir := t.TempDir()
	if err := syscall.Mkfifo(filepath.Join(dir, "pipe"), 0o644); err != nil {
		t.Skip("mkfifo:", err)
	}
	b := openBilly(t, dir)
	done := make(chan error, 1)
	go func() {
		f, err := b.Open("pipe")
		if err == nil {
			f.Close()
		}
		done <- err
	}()
	select {
	case err := <-done:
		if err == nil {
			t.Fatal("a FIFO was opened as a file")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("opening a FIFO blocked")
	}
}

// go-git works on top of it: init, add, commit, reopen.
func TestBillyCarriesGoGit(t *testing.T) {
	dir := t.TempDir()
	wt := openBilly(t, dir)
	must(t, wt.MkdirAll(".git", 0o755))
	dot, err := wt.Chroot(".git")
	if err != nil {
		t.Fatal(err)
	}
	g, err := git.Init(filesystem.NewStorage(dot, cache.NewObjectLRUDefault()), wt)
	if err != nil {
		t.Fatal(err)
	}
	f, err := wt.Create("notes/a.md")
	if err != nil {
		t.Fatal(err)
	}
	_, _ = f.Write([]byte("hello\n"))
	f.Close()
	w, err := g.Worktree()
	if err != nil {
		t.Fatal(err)
	}
	if err := w.AddWithOptions(&git.AddOptions{All: true}); err != nil {
		t.Fatal(err)
	}
	sig := &object.Signature{Name: "t", Email: "t@t", When: time.Now()}
	h, err := w.Commit("one", &git.CommitOptions{Author: sig, Committer: sig})
	if err != nil {
		t.Fatal(err)
	}
	g2, err := git.PlainOpen(dir)
	if err != nil {
		t.Fatal(err)
	}
	if head, err := g2.Head(); err != nil || head.Hash() != h {
		t.Fatalf("head %v %v, want %s", head, err, h)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
