package contextrepo

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/storer"
	"github.com/go-git/go-git/v5/plumbing/transport"

	"github.com/loopat/desktop/backend/sandboxuser"
)

// LoopBranch is the branch a loop works on in each context repository.
func LoopBranch(loopID string) string { return "loop/" + loopID }

// ProposalBranch is the origin branch holding a loop's knowledge proposal.
func ProposalBranch(loopID string) string { return "proposal/" + loopID }

func checkLoopID(id string) error {
	if id == "" || len(id) > 128 || path.Clean(id) != id || id == "." || id == ".." {
		return fmt.Errorf("invalid loop id %q", id)
	}
	for _, c := range id {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return fmt.Errorf("invalid loop id %q", id)
		}
	}
	return nil
}

// PrepareLoop gives a loop its own clone of each context repository, on branch
// loop/<id> from the latest default branch (fetched first; a failed fetch is logged and
// what is local is used), and returns the sandbox mounts: /loopat/context/<name>, with
// knowledge read-only unless distill. A clone that already exists is kept as is, so
// calling it again (container recreation) is cheap and loses nothing.
//
// Loop clones are self-contained repositories without remotes: nothing in them points
// at a host path, and promote runs on the host (Promote).
func (s *Store) PrepareLoop(ctx context.Context, loopID string, distill bool) ([]Mount, error) {
	ms, _, err := s.PrepareLoopWarnings(ctx, loopID, distill)
	return ms, err
}

// PrepareLoopWarnings is PrepareLoop that also returns what the loop should be told,
// e.g. "notes: fetch failed (…); the loop starts from the local state" (spec: contextWarnings).
func (s *Store) PrepareLoopWarnings(ctx context.Context, loopID string, distill bool) ([]Mount, []string, error) {
	if err := checkLoopID(loopID); err != nil {
		return nil, nil, err
	}
	var mounts []Mount
	var warnings []string
	for _, repo := range Repos {
		dir := s.LoopDir(loopID, repo)
		warn, err := s.prepareOne(ctx, loopID, repo)
		if err != nil {
			return nil, warnings, fmt.Errorf("context %s for loop %s: %w", repo, loopID, err)
		}
		if warn != "" {
			warnings = append(warnings, repo+": "+warn)
		}
		mounts = append(mounts, Mount{Source: dir, Target: ContainerRoot + "/" + repo, ReadOnly: repo == Knowledge && !distill})
	}
	return mounts, warnings, nil
}

func (s *Store) prepareOne(ctx context.Context, loopID, repo string) (warning string, err error) {
	dir := s.LoopDir(loopID, repo)
	if hasLoopGit(dir) {
		return "", nil
	}
	defer s.lock(repo)()
	if hasLoopGit(dir) {
		return "", nil // prepared meanwhile by a concurrent call
	}
	if des, err := os.ReadDir(dir); err == nil && len(des) > 0 {
		// Never delete what a loop wrote: its .git is gone or was replaced.
		s.log.Warn("loop clone without a .git folder kept as is", "repo", repo, "loop", loopID)
		return "the clone has no .git folder (removed or replaced); it was kept as is and cannot be promoted", nil
	}
	main, err := s.ensure(ctx, repo)
	if err != nil {
		return "", err
	}
	defer main.Close()
	br, err := defaultBranch(main.Repository)
	if err != nil {
		return "", err
	}
	if err := s.fetchMain(ctx, repo, main.Repository, br); err != nil {
		s.log.Warn("fetch before loop creation failed; using the local state", "repo", repo, "loop", loopID, "err", err)
		warning = fmt.Sprintf("fetch failed (%v); the loop starts from the local state", err)
	}
	start, err := refHash(main.Repository, "refs/remotes/origin/"+br)
	if err != nil {
		// Nothing fetched yet (e.g. an unpushed seed): start from the local branch.
		if start, err = refHash(main.Repository, "refs/heads/"+br); err != nil {
			return "", fmt.Errorf("no %s branch to start from: %w", br, err)
		}
	}
	_ = os.RemoveAll(dir) // absent or empty
	if err := s.createLoopClone(main, dir, loopID, br, start); err != nil {
		_ = os.RemoveAll(dir)
		return "", err
	}
	return warning, sandboxuser.Give(dir)
}

// createLoopClone makes dir a self-contained clone on loop/<id> at start: objects are
// copied in-process from the main clone (one pack), files checked out through os.Root.
func (s *Store) createLoopClone(main *confinedRepo, dir, loopID, br string, start plumbing.Hash) error {
	loop, err := initConfined(dir, LoopBranch(loopID))
	if err != nil {
		return fmt.Errorf("init loop clone: %w", err)
	}
	defer loop.Close()
	if err := sendObjects(main.Storer, loop, []plumbing.Hash{start}, nil); err != nil {
		return fmt.Errorf("fill loop clone: %w", err)
	}
	if err := loop.writeRef("refs/remotes/origin/"+br, start); err != nil {
		return err
	}
	if err := loop.writeRef("refs/heads/"+LoopBranch(loopID), start); err != nil {
		return err
	}
	wt, err := loop.Worktree()
	if err != nil {
		return err
	}
	if err := wt.Reset(&git.ResetOptions{Commit: start, Mode: git.HardReset}); err != nil {
		return fmt.Errorf("check out %s: %w", LoopBranch(loopID), err)
	}
	return nil
}

// fetchMain updates the main clone's refs/remotes/origin/<branch>, bounded by FetchTimeout.
func (s *Store) fetchMain(ctx context.Context, repo string, main *git.Repository, br string) error {
	rem, _, err := s.remote(repo)
	if err != nil {
		return err
	}
	auth, err := s.auth(rem)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, s.opt.FetchTimeout)
	defer cancel()
	if err := fetchBranch(ctx, main, rem, auth, br); err != nil {
		return fmt.Errorf("fetch %s from %s: %w", repo, rem.URL, err)
	}
	return nil
}

// Promote outcomes of one repository.
const (
	Unchanged = "unchanged" // nothing the origin does not have
	Promoted  = "promoted"  // merged and pushed to the default branch
	Proposed  = "proposed"  // pushed as proposal/<loop-id> for review (knowledge)
	Conflict  = "conflict"  // the loop's changes clash with the origin; nothing lost
	Failed    = "failed"
)

// RepoPromote is what promote did to one repository.
type RepoPromote struct {
	Repo   string   `json:"repo"`
	Status string   `json:"status"`
	Commit string   `json:"commit,omitempty"` // the loop branch head that was pushed
	Files  []string `json:"files,omitempty"`  // conflicting files, or the files changed
	Error  string   `json:"error,omitempty"`
}

// PromoteResult is what promote did for a loop, per repository.
type PromoteResult struct {
	LoopID string        `json:"loopId"`
	Repos  []RepoPromote `json:"repos"`
}

// Conflicts reports whether any repository conflicted.
func (r PromoteResult) Conflicts() bool {
	for _, x := range r.Repos {
		if x.Status == Conflict {
			return true
		}
	}
	return false
}

// Promote takes a loop's context changes back: for each repository it commits what the
// loop changed on loop/<id>, merges the origin's latest default branch into it, and
// pushes notes and personal to the default branch, knowledge to proposal/<id> for
// review. A conflict changes nothing upstream: the loop branch keeps its commit (and is
// pushed to the origin as loop/<id>, so it survives the loop), the conflicting files are
// reported, the other repositories still promote.
//
// The loop's clone is hostile input (its sandbox writes it). It is only read in-process
// through os.Root after its shape is checked (openLoopClone); every object it holds is
// hash-checked and every new tree validated (no symlink out, no .git, no gitlink); the
// merge runs in the host-private main clone (mergeTrees); the result goes back into the
// loop clone as objects, refs and index written through os.Root (recordInLoop).
func (s *Store) Promote(ctx context.Context, loopID string) (PromoteResult, error) {
	if err := checkLoopID(loopID); err != nil {
		return PromoteResult{}, err
	}
	res := PromoteResult{LoopID: loopID}
	found := false
	for _, repo := range Repos {
		if des, err := os.ReadDir(s.LoopDir(loopID, repo)); err != nil || len(des) == 0 {
			continue
		}
		found = true
		rp, err := s.promoteOne(ctx, loopID, repo)
		if err != nil {
			rp = RepoPromote{Repo: repo, Status: Failed, Error: err.Error()}
			s.log.Warn("promote", "repo", repo, "loop", loopID, "err", err)
		}
		res.Repos = append(res.Repos, rp)
	}
	if !found {
		return res, fmt.Errorf("loop %s has no context clones", loopID)
	}
	return res, nil
}

func (s *Store) promoteOne(ctx context.Context, loopID, repo string) (rp RepoPromote, err error) {
	defer recoverAs(&err, "promote "+repo)
	rp = RepoPromote{Repo: repo}
	defer s.lock(repo)()
	dir := s.LoopDir(loopID, repo)
	main, err := s.ensure(ctx, repo)
	if err != nil {
		return rp, err
	}
	defer main.Close()
	loop, err := openLoopClone(dir, false)
	if err != nil {
		return rp, err
	}
	defer loop.Close()
	defer func() {
		if err := sandboxuser.Give(dir); err != nil {
			s.log.Warn("chown loop clone", "dir", dir, "err", err)
		}
	}()
	snap, err := s.snapshotLoop(loop, main, loopID, repo)
	if err != nil {
		return rp, err
	}
	br, err := defaultBranch(main.Repository)
	if err != nil {
		return rp, err
	}
	rem, _, err := s.remote(repo)
	if err != nil {
		return rp, err
	}
	auth, err := s.auth(rem)
	if err != nil {
		return rp, err
	}
	if snap.head != snap.old || !snap.mergeHead.IsZero() {
		// The loop's work is committed on loop/<id> in its own clone before anything moves.
		if err := s.recordInLoop(loop, main, loopID, []plumbing.Hash{snap.old}, snap.head, "", plumbing.ZeroHash, !snap.mergeHead.IsZero()); err != nil {
			return rp, fmt.Errorf("commit the loop's changes in its clone: %w", err)
		}
	}
	if err := fetchBranch(ctx, main.Repository, rem, auth, br); err != nil {
		return rp, fmt.Errorf("fetch %s: %w", br, err)
	}
	up, err := refHash(main.Repository, "refs/remotes/origin/"+br)
	if err != nil {
		return rp, fmt.Errorf("origin has no %s branch: %w", br, err)
	}
	head := snap.head
	if done, err := isAncestor(main.Repository, head, up); err != nil {
		return rp, err
	} else if done {
		rp.Status, rp.Commit = Unchanged, head.String()
		return rp, nil
	}
	result := head
	if merged, err := isAncestor(main.Repository, up, head); err != nil {
		return rp, err
	} else if !merged {
		m, err := s.mergeCommit(ctx, main, head, up, fmt.Sprintf("loop %s: merge %s", loopID, br))
		var ce *ConflictError
		if errors.As(err, &ce) {
			rp.Status, rp.Files, rp.Commit = Conflict, ce.Files, head.String()
			// Keep the loop's work at the origin too: the clone may be deleted with the loop.
			if perr := s.pushCommit(ctx, main, rem, auth, head, LoopBranch(loopID), true); perr != nil {
				rp.Error = "loop branch kept locally only: " + perr.Error()
			}
			// Give the loop origin/<branch> to merge and resolve in its clone.
			if werr := s.recordInLoop(loop, main, loopID, []plumbing.Hash{snap.old}, head, br, up, false); werr != nil {
				s.log.Warn("give the loop the origin branch after a conflict", "repo", repo, "loop", loopID, "err", werr)
			}
			return rp, nil
		}
		if err != nil {
			return rp, err
		}
		result = m
	}
	rp.Commit = result.String()
	if rp.Files, err = changedFiles(main.Repository, up, result); err != nil {
		return rp, err
	}
	origin := result
	if repo == Knowledge {
		if err := s.pushCommit(ctx, main, rem, auth, result, ProposalBranch(loopID), true); err != nil {
			return rp, fmt.Errorf("push proposal: %w", err)
		}
		rp.Status, origin = Proposed, up
	} else {
		if err := s.pushCommit(ctx, main, rem, auth, result, br, false); err != nil {
			return rp, fmt.Errorf("push %s (the origin moved on? promote again): %w", br, err)
		}
		rp.Status = Promoted
	}
	if result != head {
		// Bring the merge into the loop's clone when the files it changes are untouched
		// since the snapshot; otherwise the loop keeps its commit and gets origin/<branch>.
		loopHead := head
		if ok, err := s.checkoutInLoop(loop, main, head, result); err != nil {
			s.log.Warn("update the loop clone after promote", "repo", repo, "loop", loopID, "err", err)
		} else if ok {
			loopHead = result
		}
		if err := s.recordInLoop(loop, main, loopID, []plumbing.Hash{snap.old, head}, loopHead, br, origin, false); err != nil {
			s.log.Warn("record the merge in the loop clone", "repo", repo, "loop", loopID, "err", err)
		}
	}
	if repo != Knowledge {
		if err := s.syncMain(ctx, repo, main, br); err != nil {
			s.log.Info("main clone not fast-forwarded after promote", "repo", repo, "err", err)
		}
	}
	return rp, nil
}

// loopSnapshot is what a promote took from a loop clone: its branch head before (old),
// the commit holding its worktree (head; old when nothing changed) and a MERGE_HEAD the
// agent left (a merge resolved without committing becomes head's second parent).
type loopSnapshot struct {
	old, head, mergeHead plumbing.Hash
}

// snapshotLoop copies the loop's new commits and its worktree into the main clone's
// object store, all checked, and returns the commit to promote. Nothing in the loop
// clone is changed.
func (s *Store) snapshotLoop(loop, main *confinedRepo, loopID, repo string) (loopSnapshot, error) {
	var snap loopSnapshot
	ref, err := loop.Storer.Reference(plumbing.HEAD)
	want := plumbing.NewBranchReferenceName(LoopBranch(loopID))
	if err != nil || ref.Type() != plumbing.SymbolicReference || ref.Target() != want {
		return snap, fmt.Errorf("loop clone is not on %s", LoopBranch(loopID))
	}
	bref, err := loop.Storer.Reference(want)
	if err != nil || bref.Type() != plumbing.HashReference {
		return snap, fmt.Errorf("loop clone has no %s branch", LoopBranch(loopID))
	}
	snap.old = bref.Hash()
	if b, err := readSmall(loop.gitRoot, "MERGE_HEAD", 4096); err != nil {
		return snap, fmt.Errorf("read MERGE_HEAD: %w", err)
	} else if h, ok := trimHash(b); ok {
		snap.mergeHead = h
	}
	im := newImporter(loop.Storer, main.Storer)
	if err := im.importCommits(snap.old, snap.mergeHead); err != nil {
		return snap, err
	}
	objs := layeredStorer{EncodedObjectStorer: main.Storer, stage: im.stage}
	oldCommit, err := object.GetCommit(objs, snap.old)
	if err != nil {
		return snap, fmt.Errorf("read %s: %w", LoopBranch(loopID), err)
	}
	oldTree, err := oldCommit.Tree()
	if err != nil {
		return snap, err
	}
	sn, err := newSnapshotter(loop.root, im.stage, oldTree, &im.bytes)
	if err != nil {
		return snap, err
	}
	excl, err := readSmall(loop.gitRoot, filepath.Join("info", "exclude"), 1<<20)
	if err != nil {
		excl = nil // an unreadable exclude file only means fewer files are left out
	}
	tree, err := sn.tree(parseIgnore(excl, nil))
	if err != nil {
		return snap, err
	}
	snap.head = snap.old
	if tree != oldTree.Hash || !snap.mergeHead.IsZero() {
		msg := fmt.Sprintf("loop %s: %s changes", loopID, repo)
		parents := []plumbing.Hash{snap.old}
		if !snap.mergeHead.IsZero() {
			parents, msg = append(parents, snap.mergeHead), "merge: "+msg
		}
		if snap.head, err = s.storeCommit(im.stage, tree, msg, parents...); err != nil {
			return snap, err
		}
	}
	if err := im.checkStaged(); err != nil {
		return snap, err
	}
	if err := im.flush(main.Storer); err != nil {
		return snap, err
	}
	return snap, nil
}

// layeredStorer reads objects from a staging store first, then the main clone.
type layeredStorer struct {
	storer.EncodedObjectStorer
	stage storer.EncodedObjectStorer
}

func (l layeredStorer) EncodedObject(t plumbing.ObjectType, h plumbing.Hash) (plumbing.EncodedObject, error) {
	if o, err := l.stage.EncodedObject(t, h); err == nil {
		return o, nil
	}
	return l.EncodedObjectStorer.EncodedObject(t, h)
}

// recordInLoop writes head (and origin, as refs/remotes/origin/<br>) into the loop
// clone: objects as one pack, the loop branch, an index listing head's tree; with
// clearMerge the MERGE_HEAD the snapshot consumed is removed. Everything goes through
// os.Root (temp files O_EXCL, renamed into place).
func (s *Store) recordInLoop(loop, main *confinedRepo, loopID string, haves []plumbing.Hash, head plumbing.Hash, br string, origin plumbing.Hash, clearMerge bool) error {
	wants := []plumbing.Hash{head}
	if !origin.IsZero() {
		wants = append(wants, origin)
	}
	if err := sendObjects(main.Storer, loop, wants, haves); err != nil {
		return err
	}
	c, err := object.GetCommit(main.Storer, head)
	if err != nil {
		return err
	}
	t, err := c.Tree()
	if err != nil {
		return err
	}
	if err := loop.writeRef("refs/heads/"+LoopBranch(loopID), head); err != nil {
		return err
	}
	if !origin.IsZero() {
		if err := loop.writeRef("refs/remotes/origin/"+br, origin); err != nil {
			return err
		}
	}
	if err := loop.writeIndex(t); err != nil {
		return err
	}
	if clearMerge {
		for _, f := range []string{"MERGE_HEAD", "MERGE_MSG", "MERGE_MODE"} {
			_ = loop.dot.Remove(f)
		}
	}
	return nil
}

// checkoutInLoop updates the loop's worktree from commit from to commit to (both in
// the main clone) when every file that differs still holds from's version; it returns
// false, changing nothing, when the agent changed one of them meanwhile.
func (s *Store) checkoutInLoop(loop, main *confinedRepo, from, to plumbing.Hash) (bool, error) {
	a, err := treeOf(main.Repository, from)
	if err != nil {
		return false, err
	}
	b, err := treeOf(main.Repository, to)
	if err != nil {
		return false, err
	}
	changes, err := object.DiffTree(a, b)
	if err != nil {
		return false, err
	}
	for _, c := range changes {
		if c.From.Name == "" {
			if _, err := loop.root.Lstat(filepath.FromSlash(c.To.Name)); err == nil {
				return false, nil // the agent created it meanwhile
			}
			continue
		}
		same, err := worktreeHolds(loop.root, c.From.Name, c.From.TreeEntry)
		if err != nil || !same {
			return false, err
		}
	}
	for _, c := range changes {
		if c.To.Name == "" {
			if err := loop.wt.Remove(c.From.Name); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return false, err
			}
			continue
		}
		blob, err := main.BlobObject(c.To.TreeEntry.Hash)
		if err != nil {
			return false, err
		}
		data, err := blobBytes(blob)
		if err != nil {
			return false, err
		}
		if c.To.TreeEntry.Mode == filemode.Symlink {
			_ = loop.wt.Remove(c.To.Name)
			if err := loop.wt.Symlink(string(data), c.To.Name); err != nil {
				return false, err
			}
			continue
		}
		perm := os.FileMode(0o644)
		if c.To.TreeEntry.Mode == filemode.Executable {
			perm = 0o755
		}
		if err := loop.wt.WriteFileAtomic(c.To.Name, data, perm); err != nil {
			return false, err
		}
	}
	return true, nil
}

// worktreeHolds reports whether the worktree file p still is the tree entry e.
func worktreeHolds(root *os.Root, p string, e object.TreeEntry) (bool, error) {
	fi, err := root.Lstat(filepath.FromSlash(p))
	if err != nil {
		return false, nil
	}
	var data []byte
	switch {
	case e.Mode == filemode.Symlink && fi.Mode()&os.ModeSymlink != 0:
		t, err := root.Readlink(filepath.FromSlash(p))
		if err != nil {
			return false, nil
		}
		data = []byte(t)
	case e.Mode != filemode.Symlink && fi.Mode().IsRegular():
		if data, err = readSmall(root, filepath.FromSlash(p), MaxObjectSize); err != nil {
			return false, nil
		}
	default:
		return false, nil
	}
	return plumbing.ComputeHash(plumbing.BlobObject, data) == e.Hash, nil
}

func blobBytes(b *object.Blob) ([]byte, error) {
	r, err := b.Reader()
	if err != nil {
		return nil, err
	}
	defer r.Close()
	return io.ReadAll(io.LimitReader(r, MaxObjectSize+1))
}

// pushCommit pushes commit h of the main clone to dst at the origin (through a
// temporary ref, removed afterwards).
func (s *Store) pushCommit(ctx context.Context, main *confinedRepo, r Remote, auth transport.AuthMethod, h plumbing.Hash, dst string, force bool) error {
	tmp := plumbing.ReferenceName("refs/loopat/push")
	if err := main.Storer.SetReference(plumbing.NewHashReference(tmp, h)); err != nil {
		return err
	}
	defer main.Storer.RemoveReference(tmp)
	return s.push(ctx, main.Repository, r, auth, tmp.String(), dst, force)
}
