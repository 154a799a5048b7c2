package contextrepo

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path"

	"github.com/go-git/go-git/v5"
	gitconfig "github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
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
	if _, err := git.PlainOpen(dir); err == nil {
		return "", nil
	}
	defer s.lock(repo)()
	if _, err := git.PlainOpen(dir); err == nil {
		return "", nil // prepared meanwhile by a concurrent call
	}
	main, err := s.ensure(ctx, repo)
	if err != nil {
		return "", err
	}
	br, err := defaultBranch(main)
	if err != nil {
		return "", err
	}
	if err := s.fetchMain(ctx, repo, main, br); err != nil {
		s.log.Warn("fetch before loop creation failed; using the local state", "repo", repo, "loop", loopID, "err", err)
		warning = fmt.Sprintf("fetch failed (%v); the loop starts from the local state", err)
	}
	startRef := "refs/remotes/origin/" + br
	start, err := refHash(main, startRef)
	if err != nil {
		// Nothing fetched yet (e.g. an unpushed seed): start from the local branch.
		startRef = "refs/heads/" + br
		if start, err = refHash(main, startRef); err != nil {
			return "", fmt.Errorf("no %s branch to start from: %w", br, err)
		}
	}
	_ = os.RemoveAll(dir)
	loop, err := git.PlainInitWithOptions(dir, &git.PlainInitOptions{
		InitOptions: git.InitOptions{DefaultBranch: plumbing.NewBranchReferenceName(LoopBranch(loopID))},
	})
	if err != nil {
		return "", fmt.Errorf("init loop clone: %w", err)
	}
	// Fetch straight from the main clone (same host, fast) without recording its path.
	if err := fetchRefs(ctx, loop, s.Dir(repo), "+"+startRef+":refs/remotes/origin/"+br); err != nil {
		_ = os.RemoveAll(dir)
		return "", fmt.Errorf("fill loop clone: %w", err)
	}
	wt, err := loop.Worktree()
	if err != nil {
		return "", err
	}
	if err := wt.Checkout(&git.CheckoutOptions{Hash: start, Branch: plumbing.NewBranchReferenceName(LoopBranch(loopID)), Create: true, Force: true}); err != nil {
		_ = os.RemoveAll(dir)
		return "", fmt.Errorf("check out %s: %w", LoopBranch(loopID), err)
	}
	return warning, chownForSandbox(dir)
}

func fetchRefs(ctx context.Context, g *git.Repository, url string, specs ...string) error {
	var rs []gitconfig.RefSpec
	for _, sp := range specs {
		rs = append(rs, gitconfig.RefSpec(sp))
	}
	err := anonRemote(g, url).FetchContext(ctx, &git.FetchOptions{RemoteName: "origin", RefSpecs: rs})
	if err != nil && !errors.Is(err, git.NoErrAlreadyUpToDate) {
		return err
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
// review. A conflict aborts that merge: the loop branch keeps its commit (and is pushed
// to the origin as loop/<id>, so it survives the loop), the conflicting files are
// reported, the other repositories still promote.
func (s *Store) Promote(ctx context.Context, loopID string) (PromoteResult, error) {
	if err := checkLoopID(loopID); err != nil {
		return PromoteResult{}, err
	}
	res := PromoteResult{LoopID: loopID}
	found := false
	for _, repo := range Repos {
		if _, err := git.PlainOpen(s.LoopDir(loopID, repo)); err != nil {
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

func (s *Store) promoteOne(ctx context.Context, loopID, repo string) (RepoPromote, error) {
	defer s.lock(repo)()
	dir := s.LoopDir(loopID, repo)
	defer func() {
		if err := chownForSandbox(dir); err != nil {
			s.log.Warn("chown loop clone", "dir", dir, "err", err)
		}
	}()
	rp := RepoPromote{Repo: repo}
	loop, err := git.PlainOpen(dir)
	if err != nil {
		return rp, fmt.Errorf("open loop clone: %w", err)
	}
	if ref, err := loop.Head(); err != nil || ref.Name().Short() != LoopBranch(loopID) {
		return rp, fmt.Errorf("loop clone is not on %s", LoopBranch(loopID))
	}
	if _, err := s.commitAll(loop, fmt.Sprintf("loop %s: %s changes", loopID, repo)); err != nil {
		return rp, err
	}
	main, err := s.ensure(ctx, repo)
	if err != nil {
		return rp, err
	}
	br, err := defaultBranch(main)
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
	if err := fetchBranch(ctx, loop, rem, auth, br); err != nil {
		return rp, fmt.Errorf("fetch %s: %w", br, err)
	}
	up, err := refHash(loop, "refs/remotes/origin/"+br)
	if err != nil {
		return rp, fmt.Errorf("origin has no %s branch: %w", br, err)
	}
	head, err := refHash(loop, "HEAD")
	if err != nil {
		return rp, err
	}
	if done, err := isAncestor(loop, head, up); err != nil {
		return rp, err
	} else if done {
		rp.Status, rp.Commit = Unchanged, head.String()
		return rp, nil
	}
	if merged, err := isAncestor(loop, up, head); err != nil {
		return rp, err
	} else if !merged {
		err := s.mergeCLI(ctx, dir, "refs/remotes/origin/"+br, fmt.Sprintf("loop %s: merge %s", loopID, br))
		var ce *ConflictError
		if errors.As(err, &ce) {
			rp.Status, rp.Files, rp.Commit = Conflict, ce.Files, head.String()
			// Keep the loop's work at the origin too: the clone may be deleted with the loop.
			if perr := s.push(ctx, loop, rem, auth, LoopBranch(loopID), LoopBranch(loopID), true); perr != nil {
				rp.Error = "loop branch kept locally only: " + perr.Error()
			}
			return rp, nil
		}
		if err != nil {
			return rp, err
		}
		if head, err = refHash(loop, "HEAD"); err != nil {
			return rp, err
		}
	}
	rp.Commit = head.String()
	if rp.Files, err = changedFiles(loop, up, head); err != nil {
		return rp, err
	}
	if repo == Knowledge {
		if err := s.push(ctx, loop, rem, auth, LoopBranch(loopID), ProposalBranch(loopID), true); err != nil {
			return rp, fmt.Errorf("push proposal: %w", err)
		}
		rp.Status = Proposed
		return rp, nil
	}
	if err := s.push(ctx, loop, rem, auth, LoopBranch(loopID), br, false); err != nil {
		return rp, fmt.Errorf("push %s (the origin moved on? promote again): %w", br, err)
	}
	rp.Status = Promoted
	if err := s.syncMain(ctx, repo, main, br); err != nil {
		s.log.Info("main clone not fast-forwarded after promote", "repo", repo, "err", err)
	}
	return rp, nil
}
