package workdir

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/go-git/go-git/v5"
)

func write(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestPathsStayInTheWorkdir(t *testing.T) {
	root := t.TempDir()
	outside := t.TempDir()
	write(t, filepath.Join(root, "src", "a.go"), "package a\n")
	write(t, filepath.Join(outside, "secret"), "s3cret")
	if err := os.Symlink(filepath.Join(outside, "secret"), filepath.Join(root, "link-out")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, filepath.Join(root, "dir-out")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("src/a.go", filepath.Join(root, "link-in")); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{"../x", "src/../../x", "/etc/passwd", "link-out", "dir-out/secret"} {
		if f, err := Read(root, bad); !errors.Is(err, ErrOutside) {
			t.Errorf("Read(%q) = %+v %v, want ErrOutside", bad, f, err)
		}
	}
	for _, bad := range []string{"../x", "/etc", "dir-out"} {
		if _, err := Tree(root, bad); !errors.Is(err, ErrOutside) {
			t.Errorf("Tree(%q) = %v, want ErrOutside", bad, err)
		}
	}
	if f, err := Read(root, "link-in"); err != nil || f.Content != "package a\n" {
		t.Fatalf("Read through an in-tree link: %+v %v", f, err)
	}
	if _, err := Read(root, "src"); err == nil || !strings.Contains(err.Error(), "is a folder") {
		t.Fatalf("Read of a folder: %v", err)
	}
	es, err := Tree(root, "")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range es {
		if e.Name == "dir-out" && (e.Dir || !e.Symlink) {
			t.Errorf("a link to a folder listed as %+v", e)
		}
	}
}

func TestTreeAndRead(t *testing.T) {
	root := t.TempDir()
	write(t, filepath.Join(root, "b.txt"), "hello\n")
	write(t, filepath.Join(root, "a", "x.txt"), "x")
	write(t, filepath.Join(root, "bin.dat"), "ab\x00cd")
	write(t, filepath.Join(root, ".git", "HEAD"), "ref: refs/heads/main\n")
	write(t, filepath.Join(root, "big.txt"), strings.Repeat("y", MaxReadBytes+10))
	es, err := Tree(root, "")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range es {
		names = append(names, e.Name)
	}
	if strings.Join(names, ",") != "a,b.txt,big.txt,bin.dat" {
		t.Fatalf("tree = %v (folders first, sorted, .git hidden)", names)
	}
	sub, err := Tree(root, "a")
	if err != nil || len(sub) != 1 || sub[0].Path != "a/x.txt" {
		t.Fatalf("subtree = %+v %v", sub, err)
	}
	f, err := Read(root, "b.txt")
	if err != nil || f.Content != "hello\n" || f.Binary {
		t.Fatalf("read text = %+v %v", f, err)
	}
	f, err = Read(root, "bin.dat")
	if err != nil || !f.Binary || f.Content != "" {
		t.Fatalf("read binary = %+v %v", f, err)
	}
	f, err = Read(root, "big.txt")
	if err != nil || !f.Truncated || len(f.Content) != MaxReadBytes || f.Size != MaxReadBytes+10 {
		t.Fatalf("read big: truncated=%v len=%d size=%d err=%v", f.Truncated, len(f.Content), f.Size, err)
	}
	if IsBinary([]byte("héllo")) || !IsBinary([]byte{0xff, 0xfe, 'a'}) {
		t.Fatal("IsBinary misjudges UTF-8 / invalid bytes")
	}
}

func TestGitStatusDiffCommit(t *testing.T) {
	root := t.TempDir()
	st, err := GitStatus(root)
	if err != nil || st.IsRepo {
		t.Fatalf("plain folder: %+v %v", st, err)
	}
	write(t, filepath.Join(root, "keep.txt"), "one\ntwo\nthree\n")
	h1, err := Commit(root, "first", Author{})
	if err != nil {
		t.Fatal(err)
	}
	r, err := git.PlainOpen(root)
	if err != nil {
		t.Fatal(err)
	}
	c, err := r.CommitObject(mustHash(t, h1))
	if err != nil || c.Author.Email != "loop@loopat.local" || c.Message != "first" {
		t.Fatalf("commit = %+v %v", c, err)
	}
	write(t, filepath.Join(root, "keep.txt"), "one\nTWO\nthree\n")
	write(t, filepath.Join(root, "new.txt"), "fresh\n")
	st, err = GitStatus(root)
	if err != nil || !st.IsRepo || st.Clean || len(st.Files) != 2 || st.Head != h1 {
		t.Fatalf("status = %+v %v", st, err)
	}
	if st.Files[0].Path != "keep.txt" || st.Files[0].Status != " M" || st.Files[1].Status != "??" {
		t.Fatalf("porcelain status = %+v", st.Files)
	}
	d, err := GitDiff(root, "keep.txt")
	if err != nil {
		t.Fatal(err)
	}
	want := "diff --git a/keep.txt b/keep.txt\n--- a/keep.txt\n+++ b/keep.txt\n@@ -1,3 +1,3 @@\n one\n-two\n+TWO\n three\n"
	if d != want {
		t.Fatalf("diff =\n%s\nwant\n%s", d, want)
	}
	all, err := GitDiff(root, "")
	if err != nil || !strings.Contains(all, "--- /dev/null\n+++ b/new.txt\n@@ -0,0 +1,1 @@\n+fresh\n") {
		t.Fatalf("diff of new file:\n%s %v", all, err)
	}
	if _, err := GitDiff(root, "../etc"); !errors.Is(err, ErrOutside) {
		t.Fatalf("diff outside: %v", err)
	}
	h2, err := Commit(root, "second", Author{Name: "Ann", Email: "ann@example.com"})
	if err != nil || h2 == h1 {
		t.Fatalf("second commit: %s %v", h2, err)
	}
	if st, _ := GitStatus(root); !st.Clean {
		t.Fatalf("not clean after commit: %+v", st)
	}
	if _, err := Commit(root, "again", Author{}); err == nil {
		t.Fatal("empty commit accepted")
	}
	if _, err := Commit(root, "  ", Author{}); err == nil {
		t.Fatal("blank message accepted")
	}
}
