package contextrepo

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"

	"github.com/loopat/desktop/backend/config"
)

func newStore(t *testing.T) *Store {
	t.Helper()
	ws, err := config.NewWorkspace(filepath.Join(t.TempDir(), ".loopat"))
	if err != nil {
		t.Fatal(err)
	}
	return New(Options{Workspace: ws})
}

func writeFile(t *testing.T, p, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func readFile(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// fileAt reads path at ref of the bare repository dir.
func fileAt(t *testing.T, dir, ref, path string) string {
	t.Helper()
	g, err := git.PlainOpen(dir)
	if err != nil {
		t.Fatal(err)
	}
	r, err := g.Reference(plumbing.ReferenceName(ref), true)
	if err != nil {
		t.Fatalf("%s in %s: %v", ref, dir, err)
	}
	c, err := g.CommitObject(r.Hash())
	if err != nil {
		t.Fatal(err)
	}
	f, err := c.File(path)
	if err != nil {
		t.Fatalf("%s at %s: %v", path, ref, err)
	}
	s, err := f.Contents()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func status(t *testing.T, res PromoteResult, repo string) RepoPromote {
	t.Helper()
	for _, r := range res.Repos {
		if r.Repo == repo {
			return r
		}
	}
	t.Fatalf("no %s in %+v", repo, res)
	return RepoPromote{}
}

func TestPrepareLoopMountsAndSeeds(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()
	ms, err := s.PrepareLoop(ctx, "l1", false)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{"/loopat/context/knowledge": true, "/loopat/context/notes": false, "/loopat/context/personal": false}
	if len(ms) != 3 {
		t.Fatalf("mounts %+v", ms)
	}
	for _, m := range ms {
		ro, ok := want[m.Target]
		if !ok || ro != m.ReadOnly {
			t.Errorf("mount %+v unexpected", m)
		}
		if _, err := os.Stat(m.Source); err != nil {
			t.Errorf("mount source: %v", err)
		}
	}
	if got := readFile(t, filepath.Join(s.LoopDir("l1", Personal), "memory", "MEMORY.md")); !strings.Contains(got, "memory") {
		t.Errorf("personal seed: %q", got)
	}
	if _, err := os.Stat(filepath.Join(s.LoopDir("l1", Knowledge), "README.md")); err != nil {
		t.Errorf("knowledge seed: %v", err)
	}
	// No host path in the loop clone's git config (it is mounted elsewhere in the sandbox).
	cfg := readFile(t, filepath.Join(s.LoopDir("l1", Notes), ".git", "config"))
	if strings.Contains(cfg, s.opt.Workspace.Home) {
		t.Errorf("loop clone config holds a host path:\n%s", cfg)
	}
	g, _ := git.PlainOpen(s.LoopDir("l1", Notes))
	head, _ := g.Head()
	if head.Name().Short() != "loop/l1" {
		t.Errorf("branch %s", head.Name())
	}
	ms, err = s.PrepareLoop(ctx, "l2", true)
	if err != nil {
		t.Fatal(err)
	}
	if ms[0].Target != "/loopat/context/knowledge" || ms[0].ReadOnly {
		t.Errorf("distill loop knowledge mount %+v", ms[0])
	}
	if _, err := s.PrepareLoop(ctx, "../x", false); err == nil {
		t.Error("bad loop id accepted")
	}
}

func TestPromoteNotesReachesNextLoop(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()
	if _, err := s.PrepareLoop(ctx, "a", false); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(s.LoopDir("a", Notes), "memory", "build.md"), "use make\n")
	res, err := s.Promote(ctx, "a")
	if err != nil {
		t.Fatal(err)
	}
	if r := status(t, res, Notes); r.Status != Promoted || len(r.Files) != 1 || r.Files[0] != "memory/build.md" {
		t.Fatalf("notes: %+v", r)
	}
	if r := status(t, res, Knowledge); r.Status != Unchanged {
		t.Fatalf("knowledge: %+v", r)
	}
	if got := fileAt(t, s.OriginDir(Notes), "refs/heads/main", "memory/build.md"); got != "use make\n" {
		t.Errorf("origin: %q", got)
	}
	if got := readFile(t, filepath.Join(s.Dir(Notes), "memory", "build.md")); got != "use make\n" {
		t.Errorf("main clone not fast-forwarded: %q", got)
	}
	if _, err := s.PrepareLoop(ctx, "b", false); err != nil {
		t.Fatal(err)
	}
	if got := readFile(t, filepath.Join(s.LoopDir("b", Notes), "memory", "build.md")); got != "use make\n" {
		t.Errorf("second loop: %q", got)
	}
	// Promoting again with no change is a no-op.
	res, err = s.Promote(ctx, "a")
	if err != nil || status(t, res, Notes).Status != Unchanged {
		t.Errorf("re-promote: %+v %v", res, err)
	}
}

func TestPromoteMergesOtherLoopsWork(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()
	for _, id := range []string{"a", "b"} {
		if _, err := s.PrepareLoop(ctx, id, false); err != nil {
			t.Fatal(err)
		}
	}
	writeFile(t, filepath.Join(s.LoopDir("a", Personal), "memory", "a.md"), "from a\n")
	writeFile(t, filepath.Join(s.LoopDir("b", Personal), "memory", "b.md"), "from b\n")
	for _, id := range []string{"a", "b"} {
		res, err := s.Promote(ctx, id)
		if err != nil || status(t, res, Personal).Status != Promoted {
			t.Fatalf("promote %s: %+v %v", id, res, err)
		}
	}
	for _, f := range []string{"memory/a.md", "memory/b.md"} {
		fileAt(t, s.OriginDir(Personal), "refs/heads/main", f)
	}
	// b's clone now has a's file too: the merge happened in the loop branch.
	if _, err := os.Stat(filepath.Join(s.LoopDir("b", Personal), "memory", "a.md")); err != nil {
		t.Errorf("merge result missing in loop b: %v", err)
	}
}

func TestPromoteConflictKeepsBothVersions(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()
	for _, id := range []string{"a", "b"} {
		if _, err := s.PrepareLoop(ctx, id, false); err != nil {
			t.Fatal(err)
		}
	}
	writeFile(t, filepath.Join(s.LoopDir("a", Notes), "memory", "MEMORY.md"), "version A\n")
	writeFile(t, filepath.Join(s.LoopDir("b", Notes), "memory", "MEMORY.md"), "version B\n")
	if res, err := s.Promote(ctx, "a"); err != nil || status(t, res, Notes).Status != Promoted {
		t.Fatalf("promote a: %+v %v", res, err)
	}
	res, err := s.Promote(ctx, "b")
	if err != nil {
		t.Fatal(err)
	}
	r := status(t, res, Notes)
	if r.Status != Conflict || len(r.Files) != 1 || r.Files[0] != "memory/MEMORY.md" || !res.Conflicts() {
		t.Fatalf("want conflict on memory/MEMORY.md, got %+v", r)
	}
	if got := fileAt(t, s.OriginDir(Notes), "refs/heads/main", "memory/MEMORY.md"); got != "version A\n" {
		t.Errorf("origin main: %q", got)
	}
	if got := fileAt(t, s.OriginDir(Notes), "refs/heads/loop/b", "memory/MEMORY.md"); got != "version B\n" {
		t.Errorf("origin loop/b: %q", got)
	}
	if got := readFile(t, filepath.Join(s.LoopDir("b", Notes), "memory", "MEMORY.md")); got != "version B\n" {
		t.Errorf("loop b worktree: %q", got)
	}
	if got := fileAt(t, s.LoopDir("b", Notes), "refs/heads/loop/b", "memory/MEMORY.md"); got != "version B\n" {
		t.Errorf("loop b branch: %q", got)
	}
}

func TestKnowledgeProposalMergeAndDiscard(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()
	for _, id := range []string{"k1", "k2"} {
		if _, err := s.PrepareLoop(ctx, id, true); err != nil {
			t.Fatal(err)
		}
	}
	writeFile(t, filepath.Join(s.LoopDir("k1", Knowledge), "guide.md"), "# Guide\nship on fridays\n")
	writeFile(t, filepath.Join(s.LoopDir("k2", Knowledge), "other.md"), "other\n")
	for _, id := range []string{"k1", "k2"} {
		res, err := s.Promote(ctx, id)
		if err != nil || status(t, res, Knowledge).Status != Proposed {
			t.Fatalf("promote %s: %+v %v", id, res, err)
		}
	}
	// Proposals do not touch the default branch.
	if _, err := os.Stat(filepath.Join(s.Dir(Knowledge), "guide.md")); err == nil {
		t.Fatal("proposal landed without review")
	}
	ps, err := s.Proposals(ctx)
	if err != nil || len(ps) != 2 {
		t.Fatalf("proposals: %+v %v", ps, err)
	}
	diff, err := s.ProposalDiff(ctx, "k1")
	if err != nil || !strings.Contains(diff, "+ship on fridays") || strings.Contains(diff, "other.md") {
		t.Fatalf("diff: %v\n%s", err, diff)
	}
	if err := s.MergeProposal(ctx, "k1"); err != nil {
		t.Fatal(err)
	}
	if got := fileAt(t, s.OriginDir(Knowledge), "refs/heads/main", "guide.md"); !strings.Contains(got, "fridays") {
		t.Errorf("origin after merge: %q", got)
	}
	if got := readFile(t, filepath.Join(s.Dir(Knowledge), "guide.md")); !strings.Contains(got, "fridays") {
		t.Errorf("main clone after merge: %q", got)
	}
	if err := s.DiscardProposal(ctx, "k2"); err != nil {
		t.Fatal(err)
	}
	if ps, err := s.Proposals(ctx); err != nil || len(ps) != 0 {
		t.Fatalf("proposals after merge and discard: %+v %v", ps, err)
	}
	if err := s.MergeProposal(ctx, "k2"); err == nil {
		t.Error("merged a discarded proposal")
	}
	// The discarded work is still in the loop's clone.
	if got := readFile(t, filepath.Join(s.LoopDir("k2", Knowledge), "other.md")); got != "other\n" {
		t.Errorf("discarded loop clone: %q", got)
	}
}

func TestWriteSearchStatusPushPull(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()
	if _, err := s.Write(Knowledge, "x.md", "no"); err == nil {
		t.Error("knowledge write accepted")
	}
	for _, bad := range []string{"../escape.md", ".git/config", "a/.git/x"} {
		if _, err := s.Write(Notes, bad, "x"); err == nil {
			t.Errorf("write %q accepted", bad)
		}
	}
	if _, err := os.Stat(filepath.Join(s.opt.Workspace.Home, "context", "escape.md")); err == nil {
		t.Error("../ escaped the repository")
	}
	c1, err := s.Write(Notes, "ideas/one.md", "# One\nBlue Whale\n")
	if err != nil || len(c1) != 40 {
		t.Fatalf("write: %q %v", c1, err)
	}
	st, err := s.Status(ctx, Notes)
	if err != nil || st.Ahead != 1 || st.Behind != 0 || !st.Solo || st.Dirty {
		t.Fatalf("status after write: %+v %v", st, err)
	}
	hits, err := s.Search(Notes, "blue whale")
	if err != nil || len(hits) != 1 || hits[0].Path != "ideas/one.md" || hits[0].Line != 2 {
		t.Fatalf("search: %+v %v", hits, err)
	}
	f, err := s.Read(Notes, "ideas/one.md")
	if err != nil || f.Content != "# One\nBlue Whale\n" {
		t.Fatalf("read: %+v %v", f, err)
	}
	tree, err := s.Tree(Notes, "")
	if err != nil || len(tree) == 0 || !tree[0].Dir {
		t.Fatalf("tree: %+v %v", tree, err)
	}
	for _, e := range tree {
		if e.Name == ".git" {
			t.Error("tree lists .git")
		}
	}
	if st, err = s.Push(ctx, Notes); err != nil || st.Ahead != 0 {
		t.Fatalf("push: %+v %v", st, err)
	}
	// A loop promotes a change to another file; the main clone (with a new local edit) pulls and merges.
	if _, err := s.PrepareLoop(ctx, "p", false); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(s.LoopDir("p", Notes), "from-loop.md"), "loop\n")
	if _, err := s.Write(Notes, "local.md", "local\n"); err != nil {
		t.Fatal(err)
	}
	if res, err := s.Promote(ctx, "p"); err != nil || status(t, res, Notes).Status != Promoted {
		t.Fatalf("promote: %+v %v", res, err)
	}
	if st, err = s.Status(ctx, Notes); err != nil || st.Ahead != 1 || st.Behind != 1 {
		t.Fatalf("diverged status: %+v %v", st, err)
	}
	if _, err := s.Push(ctx, Notes); err == nil {
		t.Error("push over unmerged origin commits accepted")
	}
	if st, err = s.Pull(ctx, Notes); err != nil || st.Behind != 0 || st.Ahead != 2 {
		t.Fatalf("pull: %+v %v", st, err)
	}
	if _, err := os.Stat(filepath.Join(s.Dir(Notes), "from-loop.md")); err != nil {
		t.Errorf("pulled file missing: %v", err)
	}
	if st, err = s.Push(ctx, Notes); err != nil || st.Ahead != 0 {
		t.Fatalf("push after pull: %+v %v", st, err)
	}
}

func TestPullConflictIsReported(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()
	if _, err := s.PrepareLoop(ctx, "c", false); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(s.LoopDir("c", Personal), "memory", "MEMORY.md"), "loop line\n")
	if res, err := s.Promote(ctx, "c"); err != nil || status(t, res, Personal).Status != Promoted {
		t.Fatalf("promote: %+v %v", res, err)
	}
	// The main clone was fast-forwarded; make it diverge on the same line.
	if _, err := s.Write(Personal, "memory/MEMORY.md", "ui line\n"); err != nil {
		t.Fatal(err)
	}
	// Move the origin on with a second loop editing the same line.
	if _, err := s.PrepareLoop(ctx, "d", false); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(s.LoopDir("d", Personal), "memory", "MEMORY.md"), "other loop line\n")
	if res, err := s.Promote(ctx, "d"); err != nil || status(t, res, Personal).Status != Promoted {
		t.Fatalf("promote d: %+v %v", res, err)
	}
	_, err := s.Pull(ctx, Personal)
	var ce *ConflictError
	if !errors.As(err, &ce) || len(ce.Files) != 1 || ce.Files[0] != "memory/MEMORY.md" {
		t.Fatalf("want conflict, got %v", err)
	}
	if got := readFile(t, filepath.Join(s.Dir(Personal), "memory", "MEMORY.md")); got != "ui line\n" {
		t.Errorf("local edit lost: %q", got)
	}
}

func TestHostKeyAlgorithmsFromKnownHosts(t *testing.T) {
	lines := "[127.0.0.1]:2222 ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl\n" +
		"example.com ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAAAgQDUNxmXHs9kE0dH+dhUs4kjtq/tkVyA6XrCjXlHKmKtdT5OAsNV8ZtxDtu0+6ihEsUkeCiEGyfOlv7+7+2O2J6Zki8VYfmiu0Le1VwSXL7I7XuJ2vlEnLmESHVeBeENbtgoGxmxSzjSSfTd+J1JfXrS6kw3+aQLsX+GvYrZxjn+GQ==\n"
	got := hostKeyAlgorithms(lines)
	want := []string{"ssh-ed25519", "rsa-sha2-512", "rsa-sha2-256", "ssh-rsa"}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("algorithms %v, want %v", got, want)
	}
}

func TestPromoteSummary(t *testing.T) {
	r := PromoteResult{LoopID: "x1", Repos: []RepoPromote{
		{Repo: Knowledge, Status: Proposed, Files: []string{"a.md"}},
		{Repo: Notes, Status: Conflict, Files: []string{"memory/MEMORY.md", "b.md"}},
		{Repo: Personal, Status: Failed, Error: "boom"},
	}}
	want := "knowledge: proposed for review as proposal/x1 (1 file(s))\n" +
		"notes: CONFLICT in memory/MEMORY.md, b.md; your version is kept on loop/x1, nothing was pushed to the shared branch\n" +
		"personal: failed: boom\n"
	if got := r.Summary(); got != want {
		t.Errorf("summary:\n%s\nwant:\n%s", got, want)
	}
}

// After a conflict the agent merges in its clone with git, resolves without committing,
// and promotes again: the resolution lands, with both histories.
func TestConflictResolvedInLoopThenPromoted(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()
	for _, id := range []string{"a", "b"} {
		if _, err := s.PrepareLoop(ctx, id, false); err != nil {
			t.Fatal(err)
		}
	}
	writeFile(t, filepath.Join(s.LoopDir("a", Notes), "memory", "MEMORY.md"), "A\n")
	writeFile(t, filepath.Join(s.LoopDir("b", Notes), "memory", "MEMORY.md"), "B\n")
	if _, err := s.Promote(ctx, "a"); err != nil {
		t.Fatal(err)
	}
	if res, _ := s.Promote(ctx, "b"); status(t, res, Notes).Status != Conflict {
		t.Fatalf("want conflict: %+v", res)
	}
	dir := s.LoopDir("b", Notes)
	if out, err := agentGit(t, dir, "merge", "origin/main"); err == nil {
		t.Fatalf("agent's merge did not conflict: %s", out)
	}
	writeFile(t, filepath.Join(dir, "memory", "MEMORY.md"), "A and B\n")
	res, err := s.Promote(ctx, "b")
	if err != nil || status(t, res, Notes).Status != Promoted {
		t.Fatalf("promote after resolving: %+v %v", res, err)
	}
	if got := fileAt(t, s.OriginDir(Notes), "refs/heads/main", "memory/MEMORY.md"); got != "A and B\n" {
		t.Errorf("origin: %q", got)
	}
	g, _ := git.PlainOpen(s.OriginDir(Notes))
	ref, _ := g.Reference("refs/heads/main", true)
	c, _ := g.CommitObject(ref.Hash())
	if c.NumParents() != 2 {
		t.Errorf("resolution commit has %d parents, want 2 (a's work must stay in history)", c.NumParents())
	}
}

func TestFailedFetchWarnsAndUsesLocalState(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()
	if _, err := s.Write(Notes, "local.md", "here\n"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Push(ctx, Notes); err != nil {
		t.Fatal(err)
	}
	gone := filepath.Join(t.TempDir(), "gone.git")
	if err := s.SetRemote(Notes, Remote{URL: gone}); err != nil {
		t.Fatal(err)
	}
	ms, warnings, err := s.PrepareLoopWarnings(ctx, "w", false)
	if err != nil || len(ms) != 3 {
		t.Fatalf("prepare: %v %+v", err, ms)
	}
	if len(warnings) != 1 || !strings.HasPrefix(warnings[0], "notes: fetch failed") {
		t.Fatalf("warnings %q", warnings)
	}
	if got := readFile(t, filepath.Join(s.LoopDir("w", Notes), "local.md")); got != "here\n" {
		t.Errorf("loop clone from local state: %q", got)
	}
	st, err := s.Status(ctx, Notes)
	if err != nil || st.FetchError == "" || st.Solo {
		t.Errorf("status with an unreachable remote: %+v %v", st, err)
	}
}

// agentGit runs git in a loop clone as the agent would inside its sandbox (the host
// itself never runs git there).
func agentGit(t *testing.T, dir string, args ...string) (string, error) {
	t.Helper()
	// safe.directory: the test runs as root here while the clone belongs to the sandbox user.
	cmd := exec.Command("git", append([]string{"-c", "safe.directory=*", "-c", "user.name=agent", "-c", "user.email=agent@loop", "-C", dir}, args...)...)
	cmd.Env = append(os.Environ(), "GIT_MERGE_AUTOEDIT=no")
	out, err := cmd.CombinedOutput()
	return string(out), err
}
