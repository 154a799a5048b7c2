package contextrepo

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/go-git/go-git/v5"
	gitconfig "github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"
)

// prepared returns a store with loop "l" prepared and its notes clone's path.
func prepared(t *testing.T) (*Store, string) {
	t.Helper()
	s := newStore(t)
	if _, err := s.PrepareLoop(context.Background(), "l", false); err != nil {
		t.Fatal(err)
	}
	return s, s.LoopDir("l", Notes)
}

func originHead(t *testing.T, s *Store, repo, ref string) plumbing.Hash {
	t.Helper()
	g, err := git.PlainOpen(s.OriginDir(repo))
	if err != nil {
		t.Fatal(err)
	}
	r, err := g.Reference(plumbing.ReferenceName(ref), true)
	if err != nil {
		return plumbing.ZeroHash
	}
	return r.Hash()
}

func loopBranch(t *testing.T, dir, id string) plumbing.Hash {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, ".git", "refs", "heads", "loop", id))
	if err != nil {
		t.Fatal(err)
	}
	return plumbing.NewHash(strings.TrimSpace(string(b)))
}

// promoteRefused promotes loop "l" and wants notes to fail naming want, with the
// origin and the loop's branch unchanged.
func promoteRefused(t *testing.T, s *Store, dir string, want ...string) {
	t.Helper()
	before := originHead(t, s, Notes, "refs/heads/main")
	var branch plumbing.Hash
	if hasLoopGit(dir) {
		if b, err := os.ReadFile(filepath.Join(dir, ".git", "refs", "heads", "loop", "l")); err == nil {
			branch = plumbing.NewHash(strings.TrimSpace(string(b)))
		}
	}
	res, err := s.Promote(context.Background(), "l")
	if err != nil {
		t.Fatal(err)
	}
	r := status(t, res, Notes)
	if r.Status != Failed {
		t.Fatalf("notes promote was not refused: %+v", r)
	}
	for _, w := range want {
		if !strings.Contains(r.Error, w) {
			t.Errorf("error %q does not say %q", r.Error, w)
		}
	}
	if after := originHead(t, s, Notes, "refs/heads/main"); after != before {
		t.Errorf("origin moved on a refused promote: %s -> %s", before, after)
	}
	if !branch.IsZero() {
		if got := loopBranch(t, dir, "l"); got != branch {
			t.Errorf("loop branch moved on a refused promote: %s -> %s", branch, got)
		}
	}
	if !strings.Contains(res.Summary(), "notes: failed") {
		t.Errorf("summary: %s", res.Summary())
	}
}

func TestPromoteRefusesEscapingSymlinkInWorktree(t *testing.T) {
	for _, target := range []string{"/etc/passwd", "../../../../../../etc/passwd", "memory/../../x", ".git/config"} {
		t.Run(target, func(t *testing.T) {
			s, dir := prepared(t)
			writeFile(t, filepath.Join(dir, "memory", "kept.md"), "the loop's work\n")
			if err := os.Symlink(target, filepath.Join(dir, "evil")); err != nil {
				t.Fatal(err)
			}
			promoteRefused(t, s, dir, `"evil"`)
			if got := readFile(t, filepath.Join(dir, "memory", "kept.md")); got != "the loop's work\n" {
				t.Fatalf("the loop's work changed: %q", got)
			}
			// Removing the link lets the same work promote.
			if err := os.Remove(filepath.Join(dir, "evil")); err != nil {
				t.Fatal(err)
			}
			res, err := s.Promote(context.Background(), "l")
			if err != nil || status(t, res, Notes).Status != Promoted {
				t.Fatalf("promote after removing the link: %+v %v", res, err)
			}
			if got := fileAt(t, s.OriginDir(Notes), "refs/heads/main", "memory/kept.md"); got != "the loop's work\n" {
				t.Fatalf("origin: %q", got)
			}
		})
	}
}

func TestPromoteKeepsInsideSymlinks(t *testing.T) {
	s, dir := prepared(t)
	if err := os.Symlink("memory/MEMORY.md", filepath.Join(dir, "index.md")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("../memory/MEMORY.md", filepath.Join(dir, "focus", "mem.md")); err != nil {
		t.Fatal(err)
	}
	res, err := s.Promote(context.Background(), "l")
	if err != nil || status(t, res, Notes).Status != Promoted {
		t.Fatalf("promote: %+v %v", res, err)
	}
	if got, err := os.Readlink(filepath.Join(s.Dir(Notes), "focus", "mem.md")); err != nil || got != "../memory/MEMORY.md" {
		t.Fatalf("main clone symlink: %q %v", got, err)
	}
}

// A symlink committed by the agent (in history, not just the worktree) is refused too.
func TestPromoteRefusesCommittedEscapingSymlink(t *testing.T) {
	s, dir := prepared(t)
	if err := os.Symlink("/etc/passwd", filepath.Join(dir, "evil")); err != nil {
		t.Fatal(err)
	}
	if out, err := agentGit(t, dir, "add", "-A"); err != nil {
		t.Fatal(out)
	}
	if out, err := agentGit(t, dir, "commit", "-qm", "evil"); err != nil {
		t.Fatal(out)
	}
	if out, err := agentGit(t, dir, "rm", "-q", "evil"); err != nil {
		t.Fatal(out)
	}
	promoteRefused(t, s, dir, `"evil"`, "absolute")
}

func TestPromoteRefusesBadRepositoryShapes(t *testing.T) {
	other := t.TempDir()
	if _, err := git.PlainInit(other, false); err != nil {
		t.Fatal(err)
	}
	cases := map[string]struct {
		plant func(t *testing.T, dir string)
		want  string
	}{
		"gitdir file": {func(t *testing.T, dir string) {
			must(t, os.RemoveAll(filepath.Join(dir, ".git")))
			writeFile(t, filepath.Join(dir, ".git"), "gitdir: "+filepath.Join(other, ".git")+"\n")
		}, "not a folder"},
		"symlinked .git": {func(t *testing.T, dir string) {
			must(t, os.Rename(filepath.Join(dir, ".git"), filepath.Join(dir, "moved")))
			must(t, os.Symlink(filepath.Join(other, ".git"), filepath.Join(dir, ".git")))
		}, "symlink"},
		"alternates": {func(t *testing.T, dir string) {
			writeFile(t, filepath.Join(dir, ".git", "objects", "info", "alternates"), filepath.Join(other, ".git", "objects")+"\n")
		}, "alternates"},
		"commondir": {func(t *testing.T, dir string) {
			writeFile(t, filepath.Join(dir, ".git", "commondir"), filepath.Join(other, ".git")+"\n")
		}, "commondir"},
		"objects symlinked out": {func(t *testing.T, dir string) {
			writeFile(t, filepath.Join(dir, "new.md"), "x\n")
			objs := filepath.Join(dir, ".git", "objects")
			must(t, os.RemoveAll(objs))
			must(t, os.Symlink(filepath.Join(other, ".git", "objects"), objs))
		}, "objects"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			s, dir := prepared(t)
			writeFile(t, filepath.Join(dir, "work.md"), "kept\n")
			c.plant(t, dir)
			promoteRefused(t, s, dir, c.want)
			if got := readFile(t, filepath.Join(dir, "work.md")); got != "kept\n" {
				t.Fatalf("work: %q", got)
			}
			// PrepareLoop again (container recreation) keeps the folder as it is.
			if _, err := s.PrepareLoop(context.Background(), "l", false); err != nil {
				t.Fatal(err)
			}
			if got := readFile(t, filepath.Join(dir, "work.md")); got != "kept\n" {
				t.Fatalf("work after re-prepare: %q", got)
			}
		})
	}
}

// Config the loop writes into its clone is never honoured by the host: the merge a
// promote needs runs elsewhere, with config isolated.
func TestPromoteIgnoresLoopGitConfig(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()
	for _, id := range []string{"a", "l"} {
		if _, err := s.PrepareLoop(ctx, id, false); err != nil {
			t.Fatal(err)
		}
	}
	marker := filepath.Join(t.TempDir(), "pwned")
	dir := s.LoopDir("l", Notes)
	cmd := "touch " + marker
	cfg := "\n[core]\n\tfsmonitor = " + cmd + "\n\tworktree = /tmp\n[filter \"x\"]\n\tclean = " + cmd + "\n\tsmudge = " + cmd +
		"\n\tprocess = " + cmd + "\n[merge \"x\"]\n\tdriver = " + cmd + "\n[include]\n\tpath = " + filepath.Join(t.TempDir(), "inc") +
		"\n[diff \"x\"]\n\ttextconv = " + cmd + "\n"
	f, err := os.OpenFile(filepath.Join(dir, ".git", "config"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = f.WriteString(cfg)
	f.Close()
	writeFile(t, filepath.Join(dir, ".gitattributes"), "* filter=x merge=x diff=x\n")
	must(t, os.MkdirAll(filepath.Join(dir, ".git", "hooks"), 0o755))
	writeFile(t, filepath.Join(dir, ".git", "hooks", "post-merge"), "#!/bin/sh\n"+cmd+"\n")
	must(t, os.Chmod(filepath.Join(dir, ".git", "hooks", "post-merge"), 0o755))
	// Both loops change the same file in different lines: a real three-way merge.
	writeFile(t, filepath.Join(s.LoopDir("a", Notes), "focus", "boards", "default", "todo.md"), "# To do\n- [ ] from a\n")
	writeFile(t, filepath.Join(dir, "memory", "MEMORY.md"), "# Team memory\n\nOne line per memory file in this folder.\n- from l\n")
	if res, err := s.Promote(ctx, "a"); err != nil || status(t, res, Notes).Status != Promoted {
		t.Fatalf("promote a: %+v %v", res, err)
	}
	res, err := s.Promote(ctx, "l")
	if err != nil || status(t, res, Notes).Status != Promoted {
		t.Fatalf("promote l: %+v %v", res, err)
	}
	if _, err := os.Stat(marker); err == nil {
		t.Fatal("a command from the loop's git config ran on the host")
	}
	for _, f := range []string{"focus/boards/default/todo.md", "memory/MEMORY.md", ".gitattributes"} {
		fileAt(t, s.OriginDir(Notes), "refs/heads/main", f)
	}
	// The merge reached the loop's clone, whose git sees a clean worktree.
	if got := readFile(t, filepath.Join(dir, "focus", "boards", "default", "todo.md")); !strings.Contains(got, "from a") {
		t.Errorf("merge not in the loop clone: %q", got)
	}
	if out, err := agentGit(t, dir, "-c", "core.fsmonitor=false", "-c", "core.worktree="+dir, "-c", "filter.x.clean=cat", "-c", "filter.x.smudge=cat", "-c", "filter.x.process=", "-c", "include.path=/dev/null", "status", "--porcelain"); err != nil || strings.TrimSpace(out) != "" {
		t.Errorf("loop clone not clean after promote: %v\n%s", err, out)
	}
}

// A knowledge proposal holding an escaping symlink (pushed past promote, e.g. by a team
// member) is refused at merge time, naming the file, and changes nothing.
func TestMergeProposalRefusesEscapingSymlink(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()
	if err := s.Ensure(ctx, Knowledge); err != nil {
		t.Fatal(err)
	}
	// Someone with origin access pushes proposal/x with a symlink to /etc/passwd.
	other := filepath.Join(t.TempDir(), "other")
	g, err := git.PlainClone(other, false, &git.CloneOptions{URL: s.OriginDir(Knowledge)})
	if err != nil {
		t.Fatal(err)
	}
	must(t, os.Symlink("/etc/passwd", filepath.Join(other, "passwd")))
	wt, _ := g.Worktree()
	must(t, wt.AddWithOptions(&git.AddOptions{All: true}))
	sig := s.signature()
	if _, err := wt.Commit("evil", &git.CommitOptions{Author: sig, Committer: sig}); err != nil {
		t.Fatal(err)
	}
	if err := g.Push(&git.PushOptions{RefSpecs: []gitconfig.RefSpec{"refs/heads/main:refs/heads/proposal/x"}}); err != nil {
		t.Fatal(err)
	}
	before := originHead(t, s, Knowledge, "refs/heads/main")
	err = s.MergeProposal(ctx, "x")
	var re *RefusedError
	if !errors.As(err, &re) || re.Path != "passwd" || !strings.Contains(err.Error(), "absolute") {
		t.Fatalf("merge proposal: %v", err)
	}
	if after := originHead(t, s, Knowledge, "refs/heads/main"); after != before {
		t.Fatal("origin main moved")
	}
	if _, err := os.Lstat(filepath.Join(s.Dir(Knowledge), "passwd")); err == nil {
		t.Fatal("the symlink reached the main clone")
	}
}

// Browse, read, search and write never follow a link out of the main clone.
func TestBrowseDoesNotFollowSymlinksOut(t *testing.T) {
	s := newStore(t)
	if err := s.Ensure(context.Background(), Notes); err != nil {
		t.Fatal(err)
	}
	outside := t.TempDir()
	writeFile(t, filepath.Join(outside, "secret.md"), "host secret needle\n")
	must(t, os.Symlink(outside, filepath.Join(s.Dir(Notes), "out")))
	must(t, os.Symlink(filepath.Join(outside, "secret.md"), filepath.Join(s.Dir(Notes), "secret.md")))
	if f, err := s.Read(Notes, "out/secret.md"); err == nil {
		t.Fatalf("read through a link out: %+v", f)
	}
	if f, err := s.Read(Notes, "secret.md"); err == nil {
		t.Fatalf("read a link out: %+v", f)
	}
	if _, err := s.Tree(Notes, "out"); err == nil {
		t.Fatal("listed a folder outside")
	}
	hits, err := s.Search(Notes, "needle")
	if err != nil || len(hits) != 0 {
		t.Fatalf("search found outside text: %+v %v", hits, err)
	}
	if _, err := s.Write(Notes, "out/new.md", "x"); err == nil {
		t.Fatal("wrote through a link out")
	}
	if _, err := s.Write(Notes, "secret.md", "overwritten"); err != nil {
		t.Fatalf("write over a symlink (it should replace the link): %v", err)
	}
	if got := readFile(t, filepath.Join(outside, "secret.md")); got != "host secret needle\n" {
		t.Fatalf("outside file changed: %q", got)
	}
	if _, err := os.Stat(filepath.Join(outside, "new.md")); err == nil {
		t.Fatal("a file was created outside")
	}
}

func TestCheckTreeEntry(t *testing.T) {
	bad := []struct {
		p      string
		mode   filemode.FileMode
		target string
	}{
		{".git/config", filemode.Regular, ""},
		{"a/.GIT/hooks/x", filemode.Regular, ""},
		{"a/.git./x", filemode.Regular, ""},
		{"git~1", filemode.Dir, ""},
		{"sub", filemode.Submodule, ""},
		{"l", filemode.Symlink, "/etc/passwd"},
		{"l", filemode.Symlink, "../x"},
		{"a/b/l", filemode.Symlink, "../../../x"},
		{"a/l", filemode.Symlink, "x/../../y"},
		{"l", filemode.Symlink, ".git/config"},
		{"l", filemode.Symlink, ""},
		{"a//b", filemode.Regular, ""},
		{"a/../b", filemode.Regular, ""},
		{"x", filemode.FileMode(0o100600), ""},
	}
	for _, c := range bad {
		if err := CheckTreeEntry(c.p, c.mode, c.target); err == nil {
			t.Errorf("%s (%o -> %q) accepted", c.p, uint32(c.mode), c.target)
		}
	}
	good := []struct {
		p      string
		mode   filemode.FileMode
		target string
	}{
		{"a/b.md", filemode.Regular, ""}, {"run.sh", filemode.Executable, ""}, {".gitignore", filemode.Regular, ""},
		{"a/l", filemode.Symlink, "../b.md"}, {"l", filemode.Symlink, "a/b.md"}, {".github", filemode.Dir, ""},
	}
	for _, c := range good {
		if err := CheckTreeEntry(c.p, c.mode, c.target); err != nil {
			t.Errorf("%s refused: %v", c.p, err)
		}
	}
}

// Trees reused at another depth are checked again: a symlink fine two levels down
// escapes at the top.
func TestTreeCheckerDepth(t *testing.T) {
	s := newStore(t)
	g, err := git.PlainInit(t.TempDir(), true)
	if err != nil {
		t.Fatal(err)
	}
	_ = s
	blob := storeObj(t, g, plumbing.BlobObject, []byte("../../x"))
	sub := storeTree(t, g, object.TreeEntry{Name: "l", Mode: filemode.Symlink, Hash: blob})
	mid := storeTree(t, g, object.TreeEntry{Name: "d", Mode: filemode.Dir, Hash: sub})
	top := storeTree(t, g, object.TreeEntry{Name: "m", Mode: filemode.Dir, Hash: mid})
	if err := newTreeChecker(g.Storer).checkTree(top, ""); err != nil {
		t.Fatalf("m/d/l -> ../../x refused: %v", err)
	}
	both := storeTree(t, g, object.TreeEntry{Name: "m", Mode: filemode.Dir, Hash: mid}, object.TreeEntry{Name: "z", Mode: filemode.Dir, Hash: sub})
	if err := newTreeChecker(g.Storer).checkTree(both, ""); err == nil || !strings.Contains(err.Error(), "z/l") {
		t.Fatalf("z/l -> ../../x accepted: %v", err)
	}
}

func storeObj(t *testing.T, g *git.Repository, typ plumbing.ObjectType, data []byte) plumbing.Hash {
	t.Helper()
	o := g.Storer.NewEncodedObject()
	o.SetType(typ)
	w, _ := o.Writer()
	_, _ = w.Write(data)
	h, err := g.Storer.SetEncodedObject(o)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func storeTree(t *testing.T, g *git.Repository, es ...object.TreeEntry) plumbing.Hash {
	t.Helper()
	sortTreeEntries(es)
	o := g.Storer.NewEncodedObject()
	if err := (&object.Tree{Entries: es}).Encode(o); err != nil {
		t.Fatal(err)
	}
	h, err := g.Storer.SetEncodedObject(o)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
