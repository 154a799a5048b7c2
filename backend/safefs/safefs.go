// Package safefs is the one confined file-system layer for host-side work in trees a
// loop (the untrusted sandbox) can write: a loop's workdir and context clones, the main
// context clones after a promote, kanban boards.
//
// Every operation goes through Go's *os.Root: no path or symlink resolves out of the tree
// (absolute links, "..", links swapped in between two calls are all refused by the
// kernel-level openat walk). On top of that: writes are atomic through an O_EXCL temp file
// (a planted "x.tmp" symlink is never written through), reads open only regular files
// without blocking (a FIFO or device node cannot hang or leak the host), Walk and
// LchownAll never follow a symlink, and CheckGitDir refuses a .git that redirects git to
// another repository.
package safefs

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"syscall"
)

// ErrOutside is returned for a path (or a symlink on it) that leaves the tree.
var ErrOutside = errors.New("path is outside the tree")

// ErrTooLarge is returned by ReadFile for a file above its size cap.
var ErrTooLarge = errors.New("file is larger than the limit")

// ErrNotRegular is returned when a regular file was expected (a folder, FIFO, socket or
// device node is never opened for reading).
var ErrNotRegular = errors.New("not a regular file")

// ErrUnsafeGitDir is returned by CheckGitDir for a .git that is not a plain repository
// of the tree's owner.
var ErrUnsafeGitDir = errors.New("unsafe .git")

// ErrChanged is returned when an entry was swapped (e.g. a folder for a symlink) between
// the check of it and its use.
var ErrChanged = errors.New("entry changed while in use")

// Tree is an open directory whose paths are resolved beneath it and never out of it.
type Tree struct {
	root *os.Root
	dir  string
}

// Open opens dir as a confined tree. dir itself is chosen by the host (not by a loop), but
// its last component must still be a real directory, not a symlink.
func Open(dir string) (*Tree, error) {
	fi, err := os.Lstat(dir)
	if err != nil {
		return nil, fmt.Errorf("open tree: %w", err)
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("open tree %s: %w: not a directory (mode %s)", dir, ErrOutside, fi.Mode().Type())
	}
	r, err := os.OpenRoot(dir)
	if err != nil {
		return nil, fmt.Errorf("open tree: %w", err)
	}
	t := &Tree{root: r, dir: dir}
	// The root must be the directory we just checked, not one swapped in since.
	got, err := t.Stat(".")
	if err != nil || !os.SameFile(fi, got) {
		r.Close()
		return nil, fmt.Errorf("open tree %s: %w", dir, ErrChanged)
	}
	return t, nil
}

// Close releases the tree's directory handle.
func (t *Tree) Close() error { return t.root.Close() }

// Root is the underlying *os.Root, for adapters (go-billy) that need it.
func (t *Tree) Root() *os.Root { return t.root }

// Dir is the host path the tree was opened at (for messages, never for opening files).
func (t *Tree) Dir() string { return t.dir }

// Clean checks a tree-relative, slash-separated path lexically and returns it cleaned
// ("" and "/" mean the tree itself, "."). Absolute paths and ".." leading out are refused.
func Clean(rel string) (string, error) {
	rel = filepath.ToSlash(strings.TrimSpace(rel))
	if rel == "" || rel == "/" {
		return ".", nil
	}
	if strings.HasPrefix(rel, "/") || filepath.IsAbs(rel) || filepath.VolumeName(rel) != "" {
		return "", fmt.Errorf("%w: %q is absolute", ErrOutside, rel)
	}
	c := path.Clean(rel)
	if c == ".." || strings.HasPrefix(c, "../") {
		return "", fmt.Errorf("%w: %q leads above the tree", ErrOutside, rel)
	}
	if strings.IndexByte(c, 0) >= 0 {
		return "", fmt.Errorf("invalid path %q", rel)
	}
	return c, nil
}

// wrap turns os.Root's escape error into ErrOutside and adds the operation and path.
func wrap(op, rel string, err error) error {
	if err == nil {
		return nil
	}
	if isEscape(err) {
		return fmt.Errorf("%s %s: %w", op, rel, ErrOutside)
	}
	return fmt.Errorf("%s %s: %w", op, rel, err)
}

// isEscape recognises os.Root's "path escapes from parent" (not exported by package os;
// TestEscapeIsRecognised pins the text).
func isEscape(err error) bool {
	var pe *os.PathError
	if errors.As(err, &pe) {
		err = pe.Err
	}
	var le *os.LinkError
	if errors.As(err, &le) {
		err = le.Err
	}
	return err != nil && err.Error() == "path escapes from parent"
}

func (t *Tree) clean(op, rel string) (string, error) {
	c, err := Clean(rel)
	if err != nil {
		return "", fmt.Errorf("%s: %w", op, err)
	}
	return c, nil
}

// Lstat describes rel without following a final symlink.
func (t *Tree) Lstat(rel string) (fs.FileInfo, error) {
	c, err := t.clean("lstat", rel)
	if err != nil {
		return nil, err
	}
	fi, err := t.root.Lstat(c)
	return fi, wrap("lstat", rel, err)
}

// Stat describes rel, following symlinks only while they stay in the tree.
func (t *Tree) Stat(rel string) (fs.FileInfo, error) {
	c, err := t.clean("stat", rel)
	if err != nil {
		return nil, err
	}
	fi, err := t.root.Stat(c)
	return fi, wrap("stat", rel, err)
}

// Readlink returns a symlink's target text (never resolved).
func (t *Tree) Readlink(rel string) (string, error) {
	c, err := t.clean("readlink", rel)
	if err != nil {
		return "", err
	}
	s, err := t.root.Readlink(c)
	return s, wrap("readlink", rel, err)
}

// ReadDir lists a folder of the tree. Entries are not followed: a symlink is reported as
// a symlink.
func (t *Tree) ReadDir(rel string) ([]fs.DirEntry, error) {
	c, err := t.clean("list", rel)
	if err != nil {
		return nil, err
	}
	f, err := t.root.OpenFile(c, os.O_RDONLY|syscall.O_DIRECTORY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, wrap("list", rel, err)
	}
	defer f.Close()
	des, err := f.ReadDir(-1)
	return des, wrap("list", rel, err)
}

// OpenRegular opens rel for reading when it is a regular file (an in-tree symlink to one
// is followed). The file is opened non-blocking and checked to be the one stat'ed, so a
// FIFO or device node swapped in cannot hang or feed the host. The caller closes it.
func (t *Tree) OpenRegular(rel string) (*os.File, fs.FileInfo, error) {
	c, err := t.clean("open", rel)
	if err != nil {
		return nil, nil, err
	}
	want, err := t.root.Stat(c)
	if err != nil {
		return nil, nil, wrap("open", rel, err)
	}
	if !want.Mode().IsRegular() {
		return nil, want, fmt.Errorf("open %s: %w (mode %s)", rel, ErrNotRegular, want.Mode().Type())
	}
	f, err := t.root.OpenFile(c, os.O_RDONLY|syscall.O_NONBLOCK|syscall.O_NOCTTY, 0)
	if err != nil {
		return nil, nil, wrap("open", rel, err)
	}
	got, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, nil, wrap("open", rel, err)
	}
	if !got.Mode().IsRegular() || !os.SameFile(want, got) {
		f.Close()
		return nil, nil, fmt.Errorf("open %s: %w", rel, ErrChanged)
	}
	return f, got, nil
}

// ReadFile reads a regular file of at most limit bytes; a larger one is ErrTooLarge.
func (t *Tree) ReadFile(rel string, limit int64) ([]byte, error) {
	f, fi, err := t.OpenRegular(rel)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if fi.Size() > limit {
		return nil, fmt.Errorf("read %s: %w (%d > %d bytes)", rel, ErrTooLarge, fi.Size(), limit)
	}
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, wrap("read", rel, err)
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("read %s: %w (grew past %d bytes)", rel, ErrTooLarge, limit)
	}
	return data, nil
}

// WriteFileAtomic replaces rel with data: a fresh temp file is created with O_EXCL next to
// it (so nothing planted under a temp name is written through), synced, and renamed over
// rel. A symlink at rel is replaced, never followed.
func (t *Tree) WriteFileAtomic(rel string, data []byte, perm fs.FileMode) error {
	c, err := t.clean("write", rel)
	if err != nil {
		return err
	}
	return writeAtomic(t.root, c, rel, data, perm)
}

// WriteFileAtomic replaces the host file at path (in a folder the host chose, e.g. the
// workspace) with data so that a crash leaves the old or the new file, never a torn
// one: Tree.WriteFileAtomic inside path's folder. The one atomic write for every file.
func WriteFileAtomic(path string, data []byte, perm fs.FileMode) error {
	r, err := os.OpenRoot(filepath.Dir(path))
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	defer r.Close()
	if err := writeAtomic(r, filepath.Base(path), path, data, perm); err != nil {
		return err
	}
	return nil
}

// writeAtomic writes c (cleaned, inside root; display names it in errors): O_EXCL temp
// file, exactly perm (not masked by umask; 0 leaves the creation mode), fsync, rename,
// fsync of the folder.
func writeAtomic(root *os.Root, c, display string, data []byte, perm fs.FileMode) error {
	if c == "." || c == "" {
		return fmt.Errorf("write %s: is the tree itself", display)
	}
	dir, base := path.Split(filepath.ToSlash(c))
	var f *os.File
	var tmp string
	var err error
	mode := perm & 0o777
	if mode == 0 {
		mode = 0o600
	}
	for range 8 {
		tmp = dir + "." + base + ".tmp-" + randHex(6)
		f, err = root.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
		if !errors.Is(err, fs.ErrExist) {
			break
		}
	}
	if err != nil {
		return wrap("write", display, err)
	}
	fail := func(err error) error {
		f.Close()
		_ = root.Remove(tmp)
		return wrap("write", display, err)
	}
	if perm != 0 {
		if err := f.Chmod(perm & fs.ModePerm); err != nil {
			return fail(err)
		}
	}
	if _, err := f.Write(data); err != nil {
		return fail(err)
	}
	if err := f.Sync(); err != nil {
		return fail(err)
	}
	if err := f.Close(); err != nil {
		_ = root.Remove(tmp)
		return wrap("write", display, err)
	}
	if err := root.Rename(tmp, c); err != nil {
		_ = root.Remove(tmp)
		return wrap("write", display, err)
	}
	// Best effort: make the rename durable (not every filesystem syncs a folder).
	if d, err := root.OpenFile(dirOrDot(dir), os.O_RDONLY|syscall.O_DIRECTORY, 0); err == nil {
		_ = d.Sync()
		d.Close()
	}
	return nil
}

func dirOrDot(dir string) string {
	if dir = strings.TrimSuffix(dir, "/"); dir == "" {
		return "."
	}
	return dir
}

func randHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// MkdirAll creates rel and missing parents inside the tree.
func (t *Tree) MkdirAll(rel string, perm fs.FileMode) error {
	c, err := t.clean("mkdir", rel)
	if err != nil {
		return err
	}
	return wrap("mkdir", rel, t.root.MkdirAll(c, perm))
}

// Remove deletes a file, symlink (not its target) or empty folder.
func (t *Tree) Remove(rel string) error {
	c, err := t.clean("remove", rel)
	if err != nil {
		return err
	}
	return wrap("remove", rel, t.root.Remove(c))
}

// WalkFunc is called for every entry of a Walk with its tree-relative slash path and its
// Lstat info (a symlink is reported, never followed). Returning fs.SkipDir on a folder
// skips it; any other error stops the walk.
type WalkFunc func(rel string, info fs.FileInfo, err error) error

// Walk visits rel and everything beneath it without following symlinks. Each folder is
// opened relative to its parent's handle and checked to be the folder that was Lstat'ed,
// so a folder swapped for a symlink mid-walk stops the walk with ErrChanged.
func (t *Tree) Walk(rel string, fn WalkFunc) error {
	return t.walk(rel, func(_ *os.Root, _ string, p string, fi fs.FileInfo, err error) error {
		return fn(p, fi, err)
	})
}

// visit gets the parent folder's handle and the entry's single-component name, so an
// operation on the entry resolves no intermediate path at all.
type visit func(parent *os.Root, name, rel string, fi fs.FileInfo, err error) error

func (t *Tree) walk(rel string, fn visit) error {
	c, err := t.clean("walk", rel)
	if err != nil {
		return err
	}
	fi, err := t.root.Lstat(c)
	if err != nil {
		return fn(nil, "", c, nil, wrap("walk", rel, err))
	}
	var parent *os.Root
	name := c
	if c != "." {
		d, b := path.Split(c)
		if parent, err = t.root.OpenRoot(dirOrDot(d)); err != nil {
			return fn(nil, "", c, nil, wrap("walk", rel, err))
		}
		defer parent.Close()
		name = b
	} else {
		parent = t.root
	}
	if err := fn(parent, name, c, fi, nil); err != nil || !fi.IsDir() {
		if errors.Is(err, fs.SkipDir) {
			return nil
		}
		return err
	}
	return walkDir(parent, name, c, fi, fn)
}

func walkDir(parent *os.Root, name, rel string, want fs.FileInfo, fn visit) error {
	dir, err := parent.OpenRoot(name)
	if err != nil {
		return fn(parent, name, rel, want, wrap("walk", rel, err))
	}
	defer dir.Close()
	f, err := dir.OpenFile(".", os.O_RDONLY|syscall.O_DIRECTORY, 0)
	if err != nil {
		return fn(parent, name, rel, want, wrap("walk", rel, err))
	}
	got, err := f.Stat()
	if err == nil && !os.SameFile(want, got) {
		err = fmt.Errorf("walk %s: %w", rel, ErrChanged)
	}
	var des []fs.DirEntry
	if err == nil {
		des, err = f.ReadDir(-1)
	}
	f.Close()
	if err != nil {
		return fn(parent, name, rel, want, wrap("walk", rel, err))
	}
	for _, de := range des {
		p := path.Join(rel, de.Name())
		fi, err := dir.Lstat(de.Name())
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				continue // removed since the listing
			}
			if err := fn(dir, de.Name(), p, nil, wrap("walk", p, err)); err != nil {
				return err
			}
			continue
		}
		if err := fn(dir, de.Name(), p, fi, nil); err != nil {
			if errors.Is(err, fs.SkipDir) && fi.IsDir() {
				continue
			}
			return err
		}
		if fi.IsDir() {
			if err := walkDir(dir, de.Name(), p, fi, fn); err != nil {
				return err
			}
		}
	}
	return nil
}

// LchownAll gives rel and everything beneath it to uid:gid. Symlinks are chowned
// themselves, never their targets, and each entry is changed through its parent's handle.
func (t *Tree) LchownAll(rel string, uid, gid int) error {
	return t.walk(rel, func(parent *os.Root, name, p string, _ fs.FileInfo, err error) error {
		if err != nil {
			return err
		}
		return wrap("chown", p, parent.Lchown(name, uid, gid))
	})
}

// Owner is the uid and gid owning the tree's own directory (ok false where the platform
// has no numeric owners).
func (t *Tree) Owner() (uid, gid int, ok bool) {
	fi, err := t.root.Stat(".")
	if err != nil {
		return 0, 0, false
	}
	return owner(fi)
}

// CheckGitDir requires the tree's .git to be a plain repository directory owned by uid: a
// real folder (not a symlink, not a "gitdir:" file), with no symlink directly in it or in
// objects/, no commondir (a worktree of another repository) and no
// objects/info/alternates (objects borrowed from elsewhere). A missing .git returns an
// error satisfying errors.Is(err, fs.ErrNotExist).
func CheckGitDir(t *Tree, uid int) error {
	fi, err := t.root.Lstat(".git")
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("no .git in %s: %w", t.dir, fs.ErrNotExist)
	}
	if err != nil {
		return wrap("check", ".git", err)
	}
	switch {
	case fi.Mode()&fs.ModeSymlink != 0:
		return fmt.Errorf("%w: .git is a symlink", ErrUnsafeGitDir)
	case fi.Mode().IsRegular():
		return fmt.Errorf("%w: .git is a file (a \"gitdir:\" link to another repository)", ErrUnsafeGitDir)
	case !fi.IsDir():
		return fmt.Errorf("%w: .git is not a directory (mode %s)", ErrUnsafeGitDir, fi.Mode().Type())
	}
	if u, _, ok := owner(fi); ok && u != uid {
		return fmt.Errorf("%w: .git is owned by uid %d, want %d", ErrUnsafeGitDir, u, uid)
	}
	for _, dir := range []string{".git", ".git/objects"} {
		des, err := t.ReadDir(dir)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return fmt.Errorf("%w: %v", ErrUnsafeGitDir, err)
		}
		for _, de := range des {
			if de.Type()&fs.ModeSymlink != 0 {
				return fmt.Errorf("%w: %s/%s is a symlink", ErrUnsafeGitDir, dir, de.Name())
			}
		}
	}
	for _, p := range []string{".git/commondir", ".git/objects/info/alternates", ".git/objects/info/http-alternates"} {
		if _, err := t.root.Lstat(p); err == nil {
			return fmt.Errorf("%w: %s points git at another repository", ErrUnsafeGitDir, p)
		} else if !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("%w: %s: %v", ErrUnsafeGitDir, p, err)
		}
	}
	return nil
}
