package contextrepo

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/go-git/go-git/v5"
	gitconfig "github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
)

// Proposal is a loop's knowledge change waiting for review: branch proposal/<loop-id>
// in the knowledge origin.
type Proposal struct {
	ID      string    `json:"id"` // the loop id
	Branch  string    `json:"branch"`
	Commit  string    `json:"commit"`
	Message string    `json:"message"`
	When    time.Time `json:"when"`
	Files   []string  `json:"files"`
}

// fetchProposals mirrors the origin's proposal branches into refs/remotes/origin/proposal/*
// of the knowledge main clone (pruning ones that are gone) and fetches the default branch.
func (s *Store) fetchProposals(ctx context.Context, g *git.Repository) (string, error) {
	br, err := defaultBranch(g)
	if err != nil {
		return "", err
	}
	rem, _, err := s.remote(Knowledge)
	if err != nil {
		return "", err
	}
	auth, err := s.auth(rem)
	if err != nil {
		return "", err
	}
	specs := []gitconfig.RefSpec{
		gitconfig.RefSpec(fmt.Sprintf("+refs/heads/%s:refs/remotes/origin/%s", br, br)),
		"+refs/heads/proposal/*:refs/remotes/origin/proposal/*",
	}
	err = anonRemote(g, rem.URL).FetchContext(ctx, &git.FetchOptions{RemoteName: "origin", RefSpecs: specs, Auth: auth, Prune: true})
	if err != nil && !errors.Is(err, git.NoErrAlreadyUpToDate) {
		return br, fmt.Errorf("fetch knowledge proposals: %w", err)
	}
	return br, nil
}

// Proposals lists the knowledge proposals, newest first.
func (s *Store) Proposals(ctx context.Context) ([]Proposal, error) {
	defer s.lock(Knowledge)()
	cg, err := s.open(Knowledge)
	if err != nil {
		return nil, err
	}
	defer cg.Close()
	g := cg.Repository
	br, err := s.fetchProposals(ctx, g)
	if err != nil {
		return nil, err
	}
	up, _ := refHash(g, "refs/remotes/origin/"+br)
	refs, err := g.References()
	if err != nil {
		return nil, err
	}
	out := []Proposal{}
	err = refs.ForEach(func(r *plumbing.Reference) error {
		name := r.Name().String()
		if !strings.HasPrefix(name, "refs/remotes/origin/proposal/") {
			return nil
		}
		p, err := s.proposal(g, strings.TrimPrefix(name, "refs/remotes/origin/proposal/"), r.Hash(), up)
		if err != nil {
			return err
		}
		out = append(out, p)
		return nil
	})
	sort.Slice(out, func(i, j int) bool { return out[i].When.After(out[j].When) })
	return out, err
}

func (s *Store) proposal(g *git.Repository, id string, h, up plumbing.Hash) (Proposal, error) {
	c, err := g.CommitObject(h)
	if err != nil {
		return Proposal{}, fmt.Errorf("proposal %s: %w", id, err)
	}
	base, err := mergeBase(g, up, h)
	if err != nil {
		return Proposal{}, err
	}
	files, err := changedFiles(g, base, h)
	if err != nil {
		return Proposal{}, err
	}
	return Proposal{ID: id, Branch: ProposalBranch(id), Commit: h.String(), Message: strings.TrimSpace(c.Message), When: c.Committer.When, Files: files}, nil
}

func mergeBase(g *git.Repository, a, b plumbing.Hash) (plumbing.Hash, error) {
	if a.IsZero() || b.IsZero() {
		return plumbing.ZeroHash, nil
	}
	ca, err := g.CommitObject(a)
	if err != nil {
		return plumbing.ZeroHash, err
	}
	cb, err := g.CommitObject(b)
	if err != nil {
		return plumbing.ZeroHash, err
	}
	bases, err := ca.MergeBase(cb)
	if err != nil || len(bases) == 0 {
		return plumbing.ZeroHash, err
	}
	return bases[0].Hash, nil
}

// ProposalDiff is the unified diff of a proposal against where it left the default branch.
func (s *Store) ProposalDiff(ctx context.Context, id string) (string, error) {
	if err := checkLoopID(id); err != nil {
		return "", err
	}
	defer s.lock(Knowledge)()
	cg, err := s.open(Knowledge)
	if err != nil {
		return "", err
	}
	defer cg.Close()
	g := cg.Repository
	br, err := s.fetchProposals(ctx, g)
	if err != nil {
		return "", err
	}
	h, err := refHash(g, "refs/remotes/origin/"+ProposalBranch(id))
	if err != nil {
		return "", fmt.Errorf("no proposal %s", id)
	}
	up, _ := refHash(g, "refs/remotes/origin/"+br)
	base, err := mergeBase(g, up, h)
	if err != nil {
		return "", err
	}
	from, err := treeOf(g, base)
	if err != nil {
		return "", err
	}
	to, err := treeOf(g, h)
	if err != nil {
		return "", err
	}
	patch, err := from.Patch(to)
	if err != nil {
		return "", fmt.Errorf("diff proposal %s: %w", id, err)
	}
	return patch.String(), nil
}

// MergeProposal merges a proposal into the knowledge default branch (a merge commit,
// or a fast-forward when the proposal already contains it), pushes, and deletes the
// proposal branch. A conflict is reported and changes nothing. The proposal's trees are
// checked first: a symlink leading out of the repository or into .git, a .git path
// component or a gitlink is refused (RefusedError names the file) and changes nothing.
func (s *Store) MergeProposal(ctx context.Context, id string) error {
	if err := checkLoopID(id); err != nil {
		return err
	}
	defer s.lock(Knowledge)()
	g, err := s.open(Knowledge)
	if err != nil {
		return err
	}
	defer g.Close()
	br, err := s.fetchProposals(ctx, g.Repository)
	if err != nil {
		return err
	}
	prop := "refs/remotes/origin/" + ProposalBranch(id)
	h, err := refHash(g.Repository, prop)
	if err != nil {
		return fmt.Errorf("no proposal %s", id)
	}
	if err := s.integrate(ctx, g, br); err != nil {
		return fmt.Errorf("update knowledge before merging: %w", err)
	}
	local, err := headHash(g.Repository)
	if err != nil {
		return err
	}
	if err := s.mergeInto(ctx, g, local, h, "knowledge: merge proposal "+id); err != nil {
		return fmt.Errorf("proposal %s: %w", id, err)
	}
	rem, _, err := s.remote(Knowledge)
	if err != nil {
		return err
	}
	auth, err := s.auth(rem)
	if err != nil {
		return err
	}
	if err := s.push(ctx, g.Repository, rem, auth, br, br, false); err != nil {
		return fmt.Errorf("push merged knowledge: %w", err)
	}
	if err := s.push(ctx, g.Repository, rem, auth, "", ProposalBranch(id), false); err != nil {
		return fmt.Errorf("delete proposal branch: %w", err)
	}
	_ = g.Storer.RemoveReference(plumbing.ReferenceName(prop))
	return nil
}

// DiscardProposal deletes a proposal branch from the origin. The loop's own clone keeps
// its commits.
func (s *Store) DiscardProposal(ctx context.Context, id string) error {
	if err := checkLoopID(id); err != nil {
		return err
	}
	defer s.lock(Knowledge)()
	cg, err := s.open(Knowledge)
	if err != nil {
		return err
	}
	defer cg.Close()
	g := cg.Repository
	if _, err := s.fetchProposals(ctx, g); err != nil {
		return err
	}
	prop := "refs/remotes/origin/" + ProposalBranch(id)
	if _, err := refHash(g, prop); err != nil {
		return fmt.Errorf("no proposal %s", id)
	}
	rem, _, err := s.remote(Knowledge)
	if err != nil {
		return err
	}
	auth, err := s.auth(rem)
	if err != nil {
		return err
	}
	if err := s.push(ctx, g, rem, auth, "", ProposalBranch(id), false); err != nil {
		return fmt.Errorf("delete proposal branch: %w", err)
	}
	_ = g.Storer.RemoveReference(plumbing.ReferenceName(prop))
	return nil
}
