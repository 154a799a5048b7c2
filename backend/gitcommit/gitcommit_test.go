package gitcommit

import (
	"errors"
	"testing"

	"github.com/go-git/go-billy/v5/memfs"
	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/storage/memory"
)

func TestAllCommitsEveryChangeOnce(t *testing.T) {
	fs := memfs.New()
	r, err := git.Init(memory.NewStorage(), fs)
	if err != nil {
		t.Fatal(err)
	}
	a := Author{Name: "loopat", Email: "loop@loopat.local"}
	if _, err := All(r, "empty", a); !errors.Is(err, ErrNothing) {
		t.Fatalf("empty worktree: %v", err)
	}
	f, _ := fs.Create("notes/a.md")
	f.Write([]byte("hello\n"))
	f.Close()
	if _, err := All(r, "  ", a); err == nil {
		t.Fatal("blank message accepted")
	}
	if _, err := All(r, "msg", Author{}); err == nil {
		t.Fatal("commit without an author accepted")
	}
	h, err := All(r, "add a", a)
	if err != nil {
		t.Fatal(err)
	}
	c, err := r.CommitObject(h)
	if err != nil || c.Message != "add a" || c.Author.Email != a.Email || c.Committer.Name != a.Name {
		t.Fatalf("commit %+v %v", c, err)
	}
	if _, err := c.File("notes/a.md"); err != nil {
		t.Fatalf("file not in the commit: %v", err)
	}
	if _, err := All(r, "again", a); !errors.Is(err, ErrNothing) {
		t.Fatalf("second commit with nothing new: %v", err)
	}
	// A deletion is staged too.
	if err := fs.Remove("notes/a.md"); err != nil {
		t.Fatal(err)
	}
	h2, err := All(r, "rm a", a)
	if err != nil {
		t.Fatal(err)
	}
	c2, _ := r.CommitObject(h2)
	if _, err := c2.File("notes/a.md"); err == nil {
		t.Fatal("deleted file still in the commit")
	}
}
