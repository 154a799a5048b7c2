package contextrepo

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"sort"
	"strings"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/storer"
)

// mergeTrees three-way merges the trees of commits ours and theirs with
// `git merge-tree --write-tree` in gitDir, the .git of a HOST-PRIVATE main clone (never
// mounted into a loop). No worktree or index is touched and nothing of the loop runs:
// system, global and user config are off (GIT_CONFIG_NOSYSTEM, GIT_CONFIG_GLOBAL,
// an empty HOME), the repository is treated as bare, fsmonitor and hooks are off. It
// returns the merged tree, or the conflicting paths.
func mergeTrees(ctx context.Context, gitDir string, ours, theirs plumbing.Hash) (plumbing.Hash, []string, error) {
	home, err := os.MkdirTemp("", "loopat-git-")
	if err != nil {
		return plumbing.ZeroHash, nil, err
	}
	defer os.RemoveAll(home)
	args := []string{"--git-dir=" + gitDir,
		"-c", "core.bare=true", "-c", "core.fsmonitor=false", "-c", "core.hooksPath=/dev/null",
		"-c", "core.attributesFile=/dev/null", "-c", "core.excludesFile=/dev/null",
		"merge-tree", "--write-tree", "--name-only", "-z", "--no-messages", ours.String(), theirs.String()}
	cmd := exec.CommandContext(ctx, "git", args...)
	cmd.Dir = home
	cmd.Env = isolatedGitEnv(home)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err = cmd.Run()
	var ee *exec.ExitError
	clean := err == nil
	if err != nil && !(errors.As(err, &ee) && ee.ExitCode() == 1) {
		return plumbing.ZeroHash, nil, fmt.Errorf("git merge-tree: %w: %s", err, strings.TrimSpace(errb.String()))
	}
	fields := strings.Split(out.String(), "\x00")
	if len(fields) == 0 || !plumbing.IsHash(fields[0]) {
		return plumbing.ZeroHash, nil, fmt.Errorf("git merge-tree: unexpected output %q", out.String())
	}
	tree := plumbing.NewHash(fields[0])
	if clean {
		return tree, nil, nil
	}
	seen := map[string]bool{}
	var files []string
	for _, f := range fields[1:] {
		if f == "" {
			break
		}
		if !seen[f] {
			seen[f] = true
			files = append(files, f)
		}
	}
	sort.Strings(files)
	if len(files) == 0 {
		files = []string{"(unknown)"}
	}
	return plumbing.ZeroHash, files, nil
}

// isolatedGitEnv is the whole environment of a host git command: nothing inherited
// (no GIT_DIR, GIT_CONFIG_PARAMETERS, ...), no config beyond the repository's own.
func isolatedGitEnv(home string) []string {
	return []string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + home,
		"XDG_CONFIG_HOME=" + home,
		"LC_ALL=C",
		"GIT_CONFIG_NOSYSTEM=1",
		"GIT_CONFIG_GLOBAL=/dev/null",
		"GIT_ATTR_NOSYSTEM=1",
		"GIT_TERMINAL_PROMPT=0",
		"GIT_NO_REPLACE_OBJECTS=1",
		"GIT_OPTIONAL_LOCKS=0",
	}
}

// mergeCommit three-way merges theirs into ours in the main clone (object store only)
// and stores the merge commit; a conflict returns *ConflictError and stores nothing.
func (s *Store) mergeCommit(ctx context.Context, main *confinedRepo, ours, theirs plumbing.Hash, msg string) (plumbing.Hash, error) {
	tree, files, err := mergeTrees(ctx, main.dot.Root(), ours, theirs)
	if err != nil {
		return plumbing.ZeroHash, err
	}
	if files != nil {
		return plumbing.ZeroHash, &ConflictError{Files: files}
	}
	return s.storeCommit(main.Storer, tree, msg, ours, theirs)
}

func (s *Store) storeCommit(st storer.EncodedObjectStorer, tree plumbing.Hash, msg string, parents ...plumbing.Hash) (plumbing.Hash, error) {
	sig := s.signature()
	c := &object.Commit{Author: *sig, Committer: *sig, Message: msg, TreeHash: tree, ParentHashes: parents}
	o := st.NewEncodedObject()
	if err := c.Encode(o); err != nil {
		return plumbing.ZeroHash, err
	}
	return st.SetEncodedObject(o)
}

// checkNewCommits validates the trees of the commits reachable from tip that base
// does not reach (what a merge of tip into base would bring), in the main clone.
func checkNewCommits(st storer.EncodedObjectStorer, base, tip plumbing.Hash) error {
	old := map[plumbing.Hash]bool{}
	if !base.IsZero() {
		stack := []plumbing.Hash{base}
		for len(stack) > 0 {
			h := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			if old[h] {
				continue
			}
			old[h] = true
			c, err := object.GetCommit(st, h)
			if err != nil {
				return fmt.Errorf("read commit %s: %w", h, err)
			}
			stack = append(stack, c.ParentHashes...)
		}
	}
	tc := newTreeChecker(st)
	seen := map[plumbing.Hash]bool{}
	stack := []plumbing.Hash{tip}
	for len(stack) > 0 {
		h := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if old[h] || seen[h] {
			continue
		}
		seen[h] = true
		c, err := object.GetCommit(st, h)
		if err != nil {
			return fmt.Errorf("read commit %s: %w", h, err)
		}
		if err := tc.checkTree(c.TreeHash, ""); err != nil {
			return fmt.Errorf("commit %s: %w", h.String()[:10], err)
		}
		stack = append(stack, c.ParentHashes...)
	}
	return nil
}
