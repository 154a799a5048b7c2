// Package gitcommit is the one go-git commit of a whole worktree, shared by the loop
// workdir (backend/workdir) and the context repositories (backend/contextrepo). The
// repository must already be opened through a confined filesystem (safefs.BillyFS): this
// package only stages and commits, in-process, and never runs git or reads hooks or config
// a loop could have written.
package gitcommit

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
)

// Author signs a commit (as author and committer).
type Author struct {
	Name  string `json:"name"`
	Email string `json:"email"`
}

// ErrNothing is returned when the worktree holds no change to commit.
var ErrNothing = errors.New("nothing to commit")

// All stages every change of r's worktree (additions, edits, deletions) and commits it
// with msg as author a; ErrNothing when there was none. An empty message is refused.
func All(r *git.Repository, msg string, a Author) (plumbing.Hash, error) {
	if strings.TrimSpace(msg) == "" {
		return plumbing.ZeroHash, errors.New("commit message is empty")
	}
	if a.Name == "" || a.Email == "" {
		return plumbing.ZeroHash, errors.New("commit author needs a name and an email")
	}
	wt, err := r.Worktree()
	if err != nil {
		return plumbing.ZeroHash, fmt.Errorf("open worktree: %w", err)
	}
	if err := wt.AddWithOptions(&git.AddOptions{All: true}); err != nil {
		return plumbing.ZeroHash, fmt.Errorf("stage changes: %w", err)
	}
	st, err := wt.Status()
	if err != nil {
		return plumbing.ZeroHash, fmt.Errorf("git status: %w", err)
	}
	if st.IsClean() {
		return plumbing.ZeroHash, ErrNothing
	}
	sig := &object.Signature{Name: a.Name, Email: a.Email, When: time.Now()}
	h, err := wt.Commit(msg, &git.CommitOptions{Author: sig, Committer: sig})
	if err != nil {
		return plumbing.ZeroHash, fmt.Errorf("commit: %w", err)
	}
	return h, nil
}
