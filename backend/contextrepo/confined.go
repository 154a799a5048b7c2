package contextrepo

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"syscall"

	"github.com/go-git/go-billy/v5/memfs"
	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/cache"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/format/index"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/storage/filesystem"

	"github.com/loopat/desktop/backend/safefs"
	"github.com/loopat/desktop/backend/sandboxuser"
)

// confinedRepo is a go-git repository whose every file operation goes through os.Root
// (safefs.BillyFS): one root for the worktree, one for .git. Nothing it does follows a
// link out of either, and alternates never resolve (an empty file system backs them).
type confinedRepo struct {
	*git.Repository
	dir     string
	root    *os.Root // the worktree
	gitRoot *os.Root // its .git
	wt      *safefs.BillyFS
	dot     *safefs.BillyFS
	storage *filesystem.Storage
}

func (c *confinedRepo) Close() {
	if c == nil {
		return
	}
	c.gitRoot.Close()
	c.root.Close()
}

// errNoRepo means dir holds no .git folder (yet).
var errNoRepo = errors.New("not a git repository")

// openConfined opens the repository at dir through os.Root. .git must be a real folder
// (Lstat: not a symlink, not a "gitdir:" file); readOnly refuses every write.
func openConfined(dir string, readOnly bool) (*confinedRepo, error) {
	root, err := os.OpenRoot(dir)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, errNoRepo
		}
		return nil, err
	}
	fi, err := root.Lstat(".git")
	switch {
	case errors.Is(err, fs.ErrNotExist):
		root.Close()
		return nil, errNoRepo
	case err != nil:
		root.Close()
		return nil, err
	case fi.Mode()&fs.ModeSymlink != 0:
		root.Close()
		return nil, errors.New(".git is a symlink (refused: it could point at any repository on the host)")
	case !fi.IsDir():
		root.Close()
		return nil, errors.New(".git is not a folder (a \"gitdir:\" file or worse; refused)")
	}
	gitRoot, err := root.OpenRoot(".git")
	if err != nil {
		root.Close()
		return nil, fmt.Errorf("open .git: %w", err)
	}
	wt := safefs.NewBilly(root, dir)
	dot := safefs.NewBilly(gitRoot, filepath.Join(dir, ".git"))
	if readOnly {
		wt, dot = wt.ReadOnly(), dot.ReadOnly()
	}
	st := filesystem.NewStorageWithOptions(dot, cache.NewObjectLRUDefault(), storageOptions())
	g, err := git.Open(st, wt)
	if err != nil {
		gitRoot.Close()
		root.Close()
		if errors.Is(err, git.ErrRepositoryNotExists) {
			return nil, errNoRepo
		}
		return nil, err
	}
	return &confinedRepo{Repository: g, dir: dir, root: root, gitRoot: gitRoot, wt: wt, dot: dot, storage: st}, nil
}

// newConfined creates dir (if needed) and an empty dir/.git, and returns the confined
// storage and worktree without a repository in them yet (Init or Clone fills them).
func newConfined(dir string) (*confinedRepo, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, err
	}
	if err := root.Mkdir(".git", 0o755); err != nil {
		root.Close()
		return nil, fmt.Errorf("create .git: %w", err)
	}
	gitRoot, err := root.OpenRoot(".git")
	if err != nil {
		root.Close()
		return nil, err
	}
	wt := safefs.NewBilly(root, dir)
	dot := safefs.NewBilly(gitRoot, filepath.Join(dir, ".git"))
	st := filesystem.NewStorageWithOptions(dot, cache.NewObjectLRUDefault(), storageOptions())
	return &confinedRepo{dir: dir, root: root, gitRoot: gitRoot, wt: wt, dot: dot, storage: st}, nil
}

// initConfined creates a repository in the new or empty folder dir, on branch.
func initConfined(dir, branch string) (*confinedRepo, error) {
	c, err := newConfined(dir)
	if err != nil {
		return nil, err
	}
	if c.Repository, err = git.InitWithOptions(c.storage, c.wt, git.InitOptions{DefaultBranch: plumbing.NewBranchReferenceName(branch)}); err != nil {
		c.Close()
		return nil, err
	}
	// go-git writes no config for a .git in its default place; git wants one.
	cfg, err := c.Config()
	if err == nil {
		cfg.Core.IsBare = false
		err = c.Storer.SetConfig(cfg)
	}
	if err != nil {
		c.Close()
		return nil, fmt.Errorf("write config: %w", err)
	}
	return c, nil
}

// openLoopClone opens a loop's clone (a tree the sandbox writes) after checking its
// shape: .git a real folder of the expected owner, no commondir (a linked worktree
// reaching another repository) and no objects/info/alternates (objects read from
// elsewhere). Anything else is refused with a message saying what was found.
func openLoopClone(dir string, readOnly bool) (*confinedRepo, error) {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, fmt.Errorf("open loop clone: %w", err)
	}
	defer root.Close()
	fi, err := root.Lstat(".git")
	if err != nil {
		return nil, fmt.Errorf("loop clone has no .git folder: %w", err)
	}
	if fi.Mode()&fs.ModeSymlink != 0 {
		return nil, errors.New("refused: .git is a symlink (it could point at any repository on the host)")
	}
	if !fi.IsDir() {
		return nil, errors.New("refused: .git is not a folder (a \"gitdir:\" file pointing elsewhere?)")
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok && int(st.Uid) != sandboxuser.HostOwner() {
		return nil, fmt.Errorf("refused: .git is owned by uid %d, not %d (replaced from outside the loop?)", st.Uid, sandboxuser.HostOwner())
	}
	for _, p := range []string{".git/commondir", ".git/objects/info/alternates", ".git/objects/info/http-alternates"} {
		if _, err := root.Lstat(p); err == nil {
			return nil, fmt.Errorf("refused: %s exists (it would make git read another repository); remove it and promote again", p)
		} else if !errors.Is(err, fs.ErrNotExist) && !errors.Is(err, syscall.ENOTDIR) {
			return nil, fmt.Errorf("refused: %s: %w", p, err)
		}
	}
	c, err := openConfined(dir, readOnly)
	if errors.Is(err, errNoRepo) {
		return nil, errors.New("loop clone is not a git repository")
	}
	if err != nil {
		return nil, fmt.Errorf("refused loop clone: %w", err)
	}
	return c, nil
}

// hasLoopGit reports whether dir looks like a loop clone: a real .git folder.
func hasLoopGit(dir string) bool {
	fi, err := os.Lstat(filepath.Join(dir, ".git"))
	return err == nil && fi.IsDir()
}

// writeRef points ref (e.g. refs/heads/loop/x) at h in the repository's .git.
func (c *confinedRepo) writeRef(ref string, h plumbing.Hash) error {
	return c.dot.WriteFileAtomic(ref, []byte(h.String()+"\n"), 0o644)
}

// writeIndex makes .git/index list tree t (from the objects of src), with the stat data
// of the files as they are now so git sees them unchanged.
func (c *confinedRepo) writeIndex(t *object.Tree) error {
	idx := &index.Index{Version: 2}
	err := walkTree(t, "", func(p string, e object.TreeEntry) error {
		ent := &index.Entry{Hash: e.Hash, Name: p, Mode: e.Mode}
		if fi, err := c.root.Lstat(filepath.FromSlash(p)); err == nil && sameType(fi, e.Mode) {
			ent.Size = uint32(fi.Size())
			ent.ModifiedAt, ent.CreatedAt = fi.ModTime(), fi.ModTime()
			if st, ok := fi.Sys().(*syscall.Stat_t); ok {
				ent.Dev, ent.Inode, ent.UID, ent.GID = uint32(st.Dev), uint32(st.Ino), st.Uid, st.Gid
			}
		}
		idx.Entries = append(idx.Entries, ent)
		return nil
	})
	if err != nil {
		return err
	}
	sort.Slice(idx.Entries, func(i, j int) bool { return idx.Entries[i].Name < idx.Entries[j].Name })
	var buf bytes.Buffer
	if err := index.NewEncoder(&buf).Encode(idx); err != nil {
		return fmt.Errorf("encode index: %w", err)
	}
	return c.dot.WriteFileAtomic("index", buf.Bytes(), 0o644)
}

func sameType(fi os.FileInfo, m filemode.FileMode) bool {
	if m == filemode.Symlink {
		return fi.Mode()&fs.ModeSymlink != 0
	}
	return fi.Mode().IsRegular()
}

// walkTree calls fn for every non-tree entry under t with its slash path.
func walkTree(t *object.Tree, prefix string, fn func(string, object.TreeEntry) error) error {
	for _, e := range t.Entries {
		p := path.Join(prefix, e.Name)
		if e.Mode == filemode.Dir {
			sub, err := t.Tree(e.Name)
			if err != nil {
				return fmt.Errorf("read tree %s: %w", p, err)
			}
			if err := walkTree(sub, p, fn); err != nil {
				return err
			}
			continue
		}
		if err := fn(p, e); err != nil {
			return err
		}
	}
	return nil
}

// readSmall reads a small regular file inside root ("" when absent).
func readSmall(root *os.Root, name string, max int64) ([]byte, error) {
	f, err := root.OpenFile(name, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is not a regular file", name)
	}
	if fi.Size() > max {
		return nil, fmt.Errorf("%s is too large (%d bytes)", name, fi.Size())
	}
	b, err := io.ReadAll(io.LimitReader(f, max+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > max {
		return nil, fmt.Errorf("%s is too large", name)
	}
	return b, nil
}

// trimHash parses a file holding one object name (MERGE_HEAD).
func trimHash(b []byte) (plumbing.Hash, bool) {
	line, _, _ := strings.Cut(string(b), "\n")
	line = strings.TrimSpace(line)
	if !plumbing.IsHash(line) {
		return plumbing.ZeroHash, false
	}
	return plumbing.NewHash(line), true
}

// storageOptions: alternates never resolve (an empty file system backs them), and
// objects above MaxObjectSize are read lazily, so a size a loop's pack claims is checked
// (importer.copy) before anything is inflated.
func storageOptions() filesystem.Options {
	return filesystem.Options{AlternatesFS: memfs.New(), LargeObjectThreshold: MaxObjectSize}
}
