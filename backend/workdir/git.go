package workdir

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/utils/diff"
	"github.com/sergi/go-diff/diffmatchpatch"
)

// DefaultAuthor signs commits made from the UI unless configured otherwise.
var DefaultAuthor = Author{Name: "loopat", Email: "loop@loopat.local"}

// Author of a commit.
type Author struct {
	Name  string `json:"name"`
	Email string `json:"email"`
}

// FileStatus is one changed path.
type FileStatus struct {
	Path     string `json:"path"`
	Status   string `json:"status"`   // porcelain XY, e.g. " M", "A ", "??"
	Staging  string `json:"staging"`  // git porcelain letter: ' ', M, A, D, R, C, U, ?
	Worktree string `json:"worktree"` // same letters
}

// Status is the git state of the workdir.
type Status struct {
	IsRepo bool         `json:"isRepo"`
	Branch string       `json:"branch"`
	Head   string       `json:"head"`
	Clean  bool         `json:"clean"`
	Files  []FileStatus `json:"files"`
}

// GitStatus reports branch, head and changed files; a workdir without .git is not an error.
func GitStatus(root string) (Status, error) {
	r, err := git.PlainOpen(root)
	if errors.Is(err, git.ErrRepositoryNotExists) {
		return Status{Files: []FileStatus{}, Clean: true}, nil
	}
	if err != nil {
		return Status{}, fmt.Errorf("open workdir repository: %w", err)
	}
	out := Status{IsRepo: true, Files: []FileStatus{}}
	if head, err := r.Head(); err == nil {
		out.Head = head.Hash().String()
		if head.Name().IsBranch() {
			out.Branch = head.Name().Short()
		}
	} else if ref, err := r.Storer.Reference(plumbing.HEAD); err == nil && ref.Type() == plumbing.SymbolicReference {
		out.Branch = ref.Target().Short() // unborn branch
	}
	wt, err := r.Worktree()
	if err != nil {
		return Status{}, fmt.Errorf("open worktree: %w", err)
	}
	st, err := wt.Status()
	if err != nil {
		return Status{}, fmt.Errorf("git status: %w", err)
	}
	for p, s := range st {
		if s.Staging == git.Unmodified && s.Worktree == git.Unmodified {
			continue
		}
		out.Files = append(out.Files, FileStatus{Path: p, Status: string(s.Staging) + string(s.Worktree), Staging: string(s.Staging), Worktree: string(s.Worktree)})
	}
	sort.Slice(out.Files, func(i, j int) bool { return out.Files[i].Path < out.Files[j].Path })
	out.Clean = len(out.Files) == 0
	return out, nil
}

// GitDiff is a unified diff of the workdir against HEAD, for one path or ("" ) all changes.
func GitDiff(root, rel string) (string, error) {
	if rel != "" {
		if _, err := Resolve(root, rel); err != nil && !errors.Is(err, os.ErrNotExist) {
			return "", err
		}
	}
	r, err := git.PlainOpen(root)
	if err != nil {
		return "", fmt.Errorf("open workdir repository: %w", err)
	}
	var tree *object.Tree
	if head, err := r.Head(); err == nil {
		c, err := r.CommitObject(head.Hash())
		if err != nil {
			return "", fmt.Errorf("read HEAD commit: %w", err)
		}
		if tree, err = c.Tree(); err != nil {
			return "", fmt.Errorf("read HEAD tree: %w", err)
		}
	}
	st, err := GitStatus(root)
	if err != nil {
		return "", err
	}
	var b strings.Builder
	for _, f := range st.Files {
		if rel != "" && f.Path != filepath.ToSlash(filepath.Clean(rel)) {
			continue
		}
		old, oldOK := "", false
		if tree != nil {
			if tf, err := tree.File(f.Path); err == nil {
				if bin, _ := tf.IsBinary(); bin {
					fmt.Fprintf(&b, "diff --git a/%s b/%s\nBinary files differ\n", f.Path, f.Path)
					continue
				}
				if old, err = tf.Contents(); err == nil {
					oldOK = true
				}
			}
		}
		cur, curOK := "", false
		if p, err := Resolve(root, f.Path); err == nil {
			if data, err := os.ReadFile(p); err == nil {
				if IsBinary(data) {
					fmt.Fprintf(&b, "diff --git a/%s b/%s\nBinary files differ\n", f.Path, f.Path)
					continue
				}
				cur, curOK = string(data), true
			}
		}
		b.WriteString(unified(f.Path, old, cur, oldOK, curOK))
	}
	return b.String(), nil
}

// unified renders a line diff with 3 lines of context.
func unified(path, old, cur string, oldOK, curOK bool) string {
	if old == cur && oldOK == curOK {
		return ""
	}
	from, to := "a/"+path, "b/"+path
	if !oldOK {
		from = "/dev/null"
	}
	if !curOK {
		to = "/dev/null"
	}
	type ln struct {
		op   diffmatchpatch.Operation
		text string
	}
	var lines []ln
	for _, d := range diff.Do(old, cur) {
		parts := strings.SplitAfter(d.Text, "\n")
		for _, p := range parts {
			if p != "" {
				lines = append(lines, ln{d.Type, p})
			}
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "diff --git a/%s b/%s\n--- %s\n+++ %s\n", path, path, from, to)
	const ctx = 3
	for i := 0; i < len(lines); {
		if lines[i].op == diffmatchpatch.DiffEqual {
			i++
			continue
		}
		// Hunk from i-ctx to the end of the change run plus context, merging close runs.
		start := max(0, i-ctx)
		end := i
		for end < len(lines) {
			if lines[end].op != diffmatchpatch.DiffEqual {
				end++
				continue
			}
			run := end
			for run < len(lines) && lines[run].op == diffmatchpatch.DiffEqual {
				run++
			}
			if run == len(lines) || run-end > 2*ctx {
				end = min(len(lines), end+ctx)
				break
			}
			end = run
		}
		oldStart, newStart := 1, 1
		for _, l := range lines[:start] {
			if l.op != diffmatchpatch.DiffInsert {
				oldStart++
			}
			if l.op != diffmatchpatch.DiffDelete {
				newStart++
			}
		}
		oldN, newN := 0, 0
		var body strings.Builder
		for _, l := range lines[start:end] {
			prefix := " "
			switch l.op {
			case diffmatchpatch.DiffDelete:
				prefix = "-"
				oldN++
			case diffmatchpatch.DiffInsert:
				prefix = "+"
				newN++
			default:
				oldN++
				newN++
			}
			body.WriteString(prefix + l.text)
			if !strings.HasSuffix(l.text, "\n") {
				body.WriteString("\n\\ No newline at end of file\n")
			}
		}
		if oldN == 0 {
			oldStart--
		}
		if newN == 0 {
			newStart--
		}
		fmt.Fprintf(&b, "@@ -%d,%d +%d,%d @@\n%s", oldStart, oldN, newStart, newN, body.String())
		i = end
	}
	return b.String()
}

// Commit stages every change (additions, edits, deletions) and commits it. A workdir
// that is not a repository yet is initialised first. It returns the new commit hash.
func Commit(root, message string, author Author) (string, error) {
	message = strings.TrimSpace(message)
	if message == "" {
		return "", errors.New("commit message is empty")
	}
	if author.Name == "" || author.Email == "" {
		author = DefaultAuthor
	}
	r, err := git.PlainOpen(root)
	if errors.Is(err, git.ErrRepositoryNotExists) {
		r, err = git.PlainInit(root, false)
	}
	if err != nil {
		return "", fmt.Errorf("open workdir repository: %w", err)
	}
	wt, err := r.Worktree()
	if err != nil {
		return "", fmt.Errorf("open worktree: %w", err)
	}
	if err := wt.AddWithOptions(&git.AddOptions{All: true}); err != nil {
		return "", fmt.Errorf("stage changes: %w", err)
	}
	st, err := wt.Status()
	if err != nil {
		return "", fmt.Errorf("git status: %w", err)
	}
	if st.IsClean() {
		return "", errors.New("nothing to commit")
	}
	sig := &object.Signature{Name: author.Name, Email: author.Email, When: time.Now()}
	h, err := wt.Commit(message, &git.CommitOptions{Author: sig, Committer: sig})
	if err != nil {
		return "", fmt.Errorf("commit: %w", err)
	}
	if err := keepOwner(root); err != nil {
		return h.String(), err
	}
	return h.String(), nil
}

// keepOwner gives new files under .git the workdir's owner: when the app runs as root the
// sandbox user (who owns the workdir) must still be able to commit from inside.
func keepOwner(root string) error {
	if os.Geteuid() != 0 {
		return nil
	}
	st, err := os.Stat(root)
	if err != nil {
		return fmt.Errorf("stat workdir: %w", err)
	}
	uid, gid, ok := owner(st)
	if !ok {
		return nil
	}
	return filepath.WalkDir(filepath.Join(root, ".git"), func(p string, _ fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(p, uid, gid)
	})
}
