package workdir

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"sort"
	"strings"

	"github.com/go-git/go-billy/v5/memfs"
	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/cache"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/storage/filesystem"
	"github.com/go-git/go-git/v5/utils/diff"
	"github.com/sergi/go-diff/diffmatchpatch"

	"github.com/loopat/desktop/backend/gitcommit"
	"github.com/loopat/desktop/backend/safefs"
)

// MaxDiffBytes caps the size of a workdir file GitDiff reads; larger files diff as
// "File too large".
const MaxDiffBytes = 4 << 20

// errNoRepo: the workdir has no .git (a plain folder, not an error for Status).
var errNoRepo = errors.New("the workdir is not a git repository")

// repoOwner is the uid/gid .git must belong to: the workdir's own owner (the sandbox
// user when running as root; the app's user with rootless keep-id).
func repoOwner(t *safefs.Tree) (int, int) {
	if uid, gid, ok := t.Owner(); ok {
		return uid, gid
	}
	return os.Geteuid(), os.Getegid()
}

// openRepo opens the workdir's repository in-process over the confined tree. .git is
// checked first (a real folder of the workdir's owner: no symlink, no "gitdir:" file, no
// commondir, no alternates), and go-git reads and writes only through the tree's
// os.Root, so neither a link planted in .git or the worktree nor a race after the check
// lets it touch another repository. Alternates resolve in an empty filesystem.
func openRepo(t *safefs.Tree) (*git.Repository, error) {
	uid, _ := repoOwner(t)
	if err := safefs.CheckGitDir(t, uid); errors.Is(err, fs.ErrNotExist) {
		return nil, errNoRepo
	} else if err != nil {
		return nil, fmt.Errorf("refusing the workdir repository: %w", err)
	}
	st, wt, err := storage(t)
	if err != nil {
		return nil, err
	}
	r, err := git.Open(st, wt)
	if errors.Is(err, git.ErrRepositoryNotExists) {
		return nil, errNoRepo
	}
	if err != nil {
		return nil, fmt.Errorf("open workdir repository: %w", err)
	}
	return r, nil
}

func storage(t *safefs.Tree) (*filesystem.Storage, *safefs.BillyFS, error) {
	wt := safefs.NewBilly(t.Root(), t.Dir())
	dot, err := wt.Chroot(".git")
	if err != nil {
		return nil, nil, fmt.Errorf("open workdir .git: %w", err)
	}
	st := filesystem.NewStorageWithOptions(dot, cache.NewObjectLRUDefault(), filesystem.Options{AlternatesFS: memfs.New()})
	return st, wt, nil
}

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
	t, err := open(root)
	if err != nil {
		return Status{}, err
	}
	defer t.Close()
	return gitStatus(t)
}

func gitStatus(t *safefs.Tree) (Status, error) {
	r, err := openRepo(t)
	if errors.Is(err, errNoRepo) {
		return Status{Files: []FileStatus{}, Clean: true}, nil
	}
	if err != nil {
		return Status{}, err
	}
	return repoStatus(r)
}

func repoStatus(r *git.Repository) (Status, error) {
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
// A symlink diffs as its target text (as git does); its target is never read.
func GitDiff(root, rel string) (string, error) {
	if rel != "" {
		c, err := safefs.Clean(rel)
		if err != nil {
			return "", err
		}
		rel = c
	}
	t, err := open(root)
	if err != nil {
		return "", err
	}
	defer t.Close()
	r, err := openRepo(t)
	if err != nil {
		return "", err
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
	st, err := repoStatus(r)
	if err != nil {
		return "", err
	}
	var b strings.Builder
	for _, f := range st.Files {
		if rel != "" && f.Path != rel {
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
		cur, curOK, note := current(t, f.Path)
		if note != "" {
			fmt.Fprintf(&b, "diff --git a/%s b/%s\n%s\n", f.Path, f.Path, note)
			continue
		}
		b.WriteString(unified(f.Path, old, cur, oldOK, curOK))
	}
	return b.String(), nil
}

// current is the worktree side of a diff: a file's text, a symlink's target text, or
// nothing (deleted, or not something git would diff). note replaces the hunk for binary
// and oversized files.
func current(t *safefs.Tree, p string) (text string, ok bool, note string) {
	fi, err := t.Lstat(p)
	if err != nil {
		return "", false, ""
	}
	if fi.Mode()&fs.ModeSymlink != 0 {
		target, err := t.Readlink(p)
		return target, err == nil, ""
	}
	if !fi.Mode().IsRegular() {
		return "", false, ""
	}
	data, err := t.ReadFile(p, MaxDiffBytes)
	switch {
	case errors.Is(err, safefs.ErrTooLarge):
		return "", false, "File too large to diff"
	case err != nil:
		return "", false, ""
	case IsBinary(data):
		return "", false, "Binary files differ"
	}
	return string(data), true, ""
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
	t, err := open(root)
	if err != nil {
		return "", err
	}
	defer t.Close()
	r, err := openRepo(t)
	if errors.Is(err, errNoRepo) {
		r, err = initRepo(t)
	}
	if err != nil {
		return "", err
	}
	h, err := gitcommit.All(r, message, gitcommit.Author(author))
	if err != nil {
		return "", err
	}
	if err := keepOwner(t); err != nil {
		return h.String(), err
	}
	return h.String(), nil
}

// initRepo makes the workdir a repository (in-process, through the confined tree) and
// checks the result like any other .git.
func initRepo(t *safefs.Tree) (*git.Repository, error) {
	st, wt, err := storage(t)
	if err != nil {
		return nil, err
	}
	if _, err := git.Init(st, wt); err != nil {
		return nil, fmt.Errorf("init workdir repository: %w", err)
	}
	if err := keepOwner(t); err != nil {
		return nil, err
	}
	return openRepo(t)
}

// keepOwner gives new files under .git the workdir's owner: when the app runs as root the
// sandbox user (who owns the workdir) must still be able to commit from inside. The
// chown walks the confined tree and never follows a symlink.
func keepOwner(t *safefs.Tree) error {
	if os.Geteuid() != 0 {
		return nil
	}
	uid, gid := repoOwner(t)
	if err := t.LchownAll(".git", uid, gid); err != nil {
		return fmt.Errorf("give .git to the workdir's owner: %w", err)
	}
	return nil
}
