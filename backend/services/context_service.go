package services

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/loopat/desktop/backend/contextrepo"
	"github.com/loopat/desktop/backend/events"
	"github.com/loopat/desktop/backend/rpc"
)

// ContextService is the Context view: browse, search, read and edit the knowledge, notes
// and personal repositories, sync them, promote a loop's context and review knowledge
// proposals. Changes publish "context:changed" {repo}.
type ContextService struct {
	appCtx context.Context
	st     *contextrepo.Store
	pub    events.Publisher
}

// NewContextService exposes st; pub may be nil.
func NewContextService(appCtx context.Context, st *contextrepo.Store, pub events.Publisher) *ContextService {
	return &ContextService{appCtx: appCtx, st: st, pub: pub}
}

// syncTimeout bounds one network operation started from the UI.
const syncTimeout = 2 * time.Minute

func (s *ContextService) ctx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(s.appCtx, syncTimeout)
}

func (s *ContextService) changed(repo string) {
	if s.pub != nil {
		s.pub.Publish(events.TopicContextChanged, events.ContextChanged{Repo: repo})
	}
}

// Repos lists the repository names.
func (s *ContextService) Repos() ([]string, error) { return contextrepo.Repos, nil }

// Tree lists one folder of repo ("" = the root).
func (s *ContextService) Tree(repo, path string) ([]contextrepo.Entry, error) {
	if err := checkRepo(repo); err != nil {
		return nil, err
	}
	return s.st.Tree(repo, path)
}

// Read returns a file (markdown is rendered by the frontend).
func (s *ContextService) Read(repo, path string) (contextrepo.File, error) {
	if err := checkRepo(repo); err != nil {
		return contextrepo.File{}, err
	}
	return s.st.Read(repo, path)
}

// Write saves a notes or personal file as one commit and returns its hash; knowledge is refused.
func (s *ContextService) Write(repo, path, content string) (string, error) {
	if err := checkRepo(repo); err != nil {
		return "", err
	}
	switch {
	case repo == contextrepo.Knowledge:
		return "", rpc.Invalid("Knowledge is read-only here.", "Change it in a loop and promote it: it becomes a proposal to review.", nil)
	case strings.Trim(path, "/. ") == "":
		return "", rpc.Invalid("No file name was given.", "Name the file, e.g. ideas.md.", nil)
	case len(content) > contextrepo.MaxReadSize:
		return "", rpc.Invalid(fmt.Sprintf("The file is too large (%d bytes; at most %d).", len(content), contextrepo.MaxReadSize),
			"Split it into smaller files.", nil)
	}
	h, err := s.st.Write(repo, path, content)
	if err == nil {
		s.changed(repo)
	}
	return h, err
}

// Search finds text in file names and contents.
func (s *ContextService) Search(repo, query string) ([]contextrepo.Hit, error) {
	if err := checkRepo(repo); err != nil {
		return nil, err
	}
	if strings.TrimSpace(query) == "" {
		return nil, rpc.Invalid("The search is empty.", "Type a word to look for.", nil)
	}
	return s.st.Search(repo, query)
}

// Status fetches and reports ahead/behind against the origin.
func (s *ContextService) Status(repo string) (contextrepo.SyncStatus, error) {
	if err := checkRepo(repo); err != nil {
		return contextrepo.SyncStatus{}, err
	}
	ctx, cancel := s.ctx()
	defer cancel()
	return s.st.Status(ctx, repo)
}

// Pull merges the origin into the local repository (a conflict names its files and changes nothing).
func (s *ContextService) Pull(repo string) (contextrepo.SyncStatus, error) {
	if err := checkRepo(repo); err != nil {
		return contextrepo.SyncStatus{}, err
	}
	ctx, cancel := s.ctx()
	defer cancel()
	st, err := s.st.Pull(ctx, repo)
	s.changed(repo)
	if errors.Is(err, contextrepo.ErrConflict) {
		return st, rpc.Conflict(err.Error(), "Nothing was changed. Resolve the conflicting files on the origin, then pull again.", err)
	}
	return st, err
}

// Push sends local commits to the origin (refused while the origin has unpulled commits).
func (s *ContextService) Push(repo string) (contextrepo.SyncStatus, error) {
	if err := checkRepo(repo); err != nil {
		return contextrepo.SyncStatus{}, err
	}
	ctx, cancel := s.ctx()
	defer cancel()
	st, err := s.st.Push(ctx, repo)
	if err != nil && st.Behind > 0 && st.FetchError == "" {
		return st, rpc.Conflict(fmt.Sprintf("The origin has %d new commit(s).", st.Behind), "Pull first, then push.", err)
	}
	return st, err
}

// Promote commits a loop's context changes, merges the origin and pushes: notes and
// personal directly, knowledge as a proposal. Conflicts come back per repository.
func (s *ContextService) Promote(loopID string) (contextrepo.PromoteResult, error) {
	ctx, cancel := s.ctx()
	defer cancel()
	res, err := s.st.Promote(ctx, loopID)
	for _, r := range res.Repos {
		s.changed(r.Repo)
	}
	return res, err
}

// Proposals lists knowledge proposals waiting for review.
func (s *ContextService) Proposals() ([]contextrepo.Proposal, error) {
	ctx, cancel := s.ctx()
	defer cancel()
	return s.st.Proposals(ctx)
}

// ProposalDiff is a proposal's unified diff.
func (s *ContextService) ProposalDiff(id string) (string, error) {
	ctx, cancel := s.ctx()
	defer cancel()
	return s.st.ProposalDiff(ctx, id)
}

// MergeProposal merges a proposal into knowledge and pushes.
func (s *ContextService) MergeProposal(id string) error {
	ctx, cancel := s.ctx()
	defer cancel()
	err := s.st.MergeProposal(ctx, id)
	s.changed(contextrepo.Knowledge)
	return err
}

// DiscardProposal deletes a proposal branch (the loop's clone keeps its work).
func (s *ContextService) DiscardProposal(id string) error {
	ctx, cancel := s.ctx()
	defer cancel()
	err := s.st.DiscardProposal(ctx, id)
	s.changed(contextrepo.Knowledge)
	return err
}

// Remotes returns the configured remotes (repositories without one use a solo origin).
func (s *ContextService) Remotes() (map[string]contextrepo.Remote, error) { return s.st.Remotes() }

// SetRemote sets or (empty URL) clears a repository's remote.
func (s *ContextService) SetRemote(repo string, r contextrepo.Remote) error {
	if err := checkRepo(repo); err != nil {
		return err
	}
	return s.st.SetRemote(repo, r)
}

// checkRepo types an unknown repository name as the caller's mistake (400 with a hint).
func checkRepo(repo string) error {
	if slices.Contains(contextrepo.Repos, repo) {
		return nil
	}
	return rpc.Invalid(fmt.Sprintf("There is no context repository named %q.", repo),
		"Use one of: "+strings.Join(contextrepo.Repos, ", ")+".", nil)
}
