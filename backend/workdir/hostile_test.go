package workdir

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/go-git/go-git/v5"

	"github.com/loopat/desktop/backend/safefs"
)

// hostRepo is a repository of the user elsewhere on the host, with one commit. It returns
// its folder and a fingerprint of its .git to compare after an attack.
func hostRepo(t *testing.T) (string, func() string) {
	t.Helper()
	dir := t.TempDir()
	write(t, filepath.Join(dir, "README"), "host repo\n")
	if _, err := Commit(dir, "host", Author{}); err != nil {
		t.Fatal(err)
	}
	return dir, func() string { return fingerprint(t, filepath.Join(dir, ".git")) }
}

// fingerprint lists every path, size and mode under dir.
func fingerprint(t *testing.T, dir string) string {
	t.Helper()
	var b strings.Builder
	err := filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		data := ""
		if fi.Mode().IsRegular() {
			raw, _ := os.ReadFile(p)
			data = string(raw)
		}
		b.WriteString(p + " " + fi.Mode().String() + " " + data + "\n")
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// A workdir .git that leads to another repository is refused by every Git tab operation,
// and that repository is left exactly as it was.
func TestGitRedirectsToAnotherRepositoryAreRefused(t *testing.T) {
	host, hostState := hostRepo(t)
	redirects := map[string]func(t *testing.T, work string){
		"gitdir file": func(t *testing.T, work string) {
			write(t, filepath.Join(work, ".git"), "gitdir: "+filepath.Join(host, ".git")+"\n")
		},
		"symlink": func(t *testing.T, work string) {
			if err := os.Symlink(filepath.Join(host, ".git"), filepath.Join(work, ".git")); err != nil {
				t.Fatal(err)
			}
		},
		"commondir": func(t *testing.T, work string) {
			if _, err := git.PlainInit(work, false); err != nil {
				t.Fatal(err)
			}
			write(t, filepath.Join(work, ".git", "commondir"), filepath.Join(host, ".git")+"\n")
		},
		"alternates": func(t *testing.T, work string) {
			if _, err := git.PlainInit(work, false); err != nil {
				t.Fatal(err)
			}
			write(t, filepath.Join(work, ".git", "objects", "info", "alternates"), filepath.Join(host, ".git", "objects")+"\n")
		},
		"objects symlink": func(t *testing.T, work string) {
			if _, err := git.PlainInit(work, false); err != nil {
				t.Fatal(err)
			}
			os.RemoveAll(filepath.Join(work, ".git", "objects"))
			if err := os.Symlink(filepath.Join(host, ".git", "objects"), filepath.Join(work, ".git", "objects")); err != nil {
				t.Fatal(err)
			}
		},
	}
	for name, plant := range redirects {
		t.Run(name, func(t *testing.T) {
			before := hostState()
			work := t.TempDir()
			write(t, filepath.Join(work, "evil.txt"), "from the loop\n")
			plant(t, work)
			if _, err := Commit(work, "from the Git tab", Author{}); !errors.Is(err, safefs.ErrUnsafeGitDir) {
				t.Errorf("Commit = %v, want ErrUnsafeGitDir", err)
			}
			if _, err := GitStatus(work); !errors.Is(err, safefs.ErrUnsafeGitDir) {
				t.Errorf("GitStatus = %v, want ErrUnsafeGitDir", err)
			}
			if _, err := GitDiff(work, ""); !errors.Is(err, safefs.ErrUnsafeGitDir) {
				t.Errorf("GitDiff = %v, want ErrUnsafeGitDir", err)
			}
			if after := hostState(); after != before {
				t.Fatalf("host repository changed:\n%s\n---\n%s", before, after)
			}
		})
	}
}

// Links planted inside a real .git (a ref pointing at a host file) cannot make a commit
// write outside the workdir.
func TestCommitNeverWritesThroughLinksInGitDir(t *testing.T) {
	work := t.TempDir()
	victim := filepath.Join(t.TempDir(), "victim")
	write(t, victim, "host file\n")
	write(t, filepath.Join(work, "a.txt"), "a\n")
	if _, err := Commit(work, "first", Author{}); err != nil {
		t.Fatal(err)
	}
	ref := filepath.Join(work, ".git", "refs", "heads", "master")
	os.Remove(ref)
	if err := os.Symlink(victim, ref); err != nil {
		t.Fatal(err)
	}
	write(t, filepath.Join(work, "a.txt"), "b\n")
	_, _ = Commit(work, "second", Author{}) // may fail; must not write out
	if b, _ := os.ReadFile(victim); string(b) != "host file\n" {
		t.Fatalf("victim written through .git: %q", b)
	}
}

// A symlink to a host file in the worktree never yields that file's content: Tree lists
// it as a link, Read refuses it, GitDiff shows only the link text, and Commit stores the
// link, not the content.
func TestWorktreeLinksOutAreNeverRead(t *testing.T) {
	work := t.TempDir()
	secret := filepath.Join(t.TempDir(), "shadow")
	write(t, secret, "root:SECRET-HASH:19000\n")
	write(t, filepath.Join(work, "a.txt"), "a\n")
	if _, err := Commit(work, "first", Author{}); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(secret, filepath.Join(work, "x")); err != nil {
		t.Fatal(err)
	}
	es, err := Tree(work, "")
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, e := range es {
		if e.Name == "x" {
			found = e.Symlink && !e.Dir
		}
	}
	if !found {
		t.Fatalf("x not listed as a symlink: %+v", es)
	}
	if f, err := Read(work, "x"); !errors.Is(err, ErrOutside) || strings.Contains(f.Content, "SECRET") {
		t.Fatalf("Read(x) = %+v %v", f, err)
	}
	for _, p := range []string{"x", ""} {
		d, err := GitDiff(work, p)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(d, "SECRET") || !strings.Contains(d, "+"+secret) {
			t.Fatalf("GitDiff(%q):\n%s", p, d)
		}
	}
	h, err := Commit(work, "link", Author{})
	if err != nil {
		t.Fatal(err)
	}
	r, err := git.PlainOpen(work)
	if err != nil {
		t.Fatal(err)
	}
	c, err := r.CommitObject(mustHash(t, h))
	if err != nil {
		t.Fatal(err)
	}
	f, err := c.File("x")
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := f.Contents(); got != secret {
		t.Fatalf("committed x = %q, want the link text", got)
	}
}
