package safefs

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"syscall"

	"github.com/go-git/go-billy/v5"
)

// BillyFS is a go-billy filesystem confined to an *os.Root, so go-git can read and
// write a tree the sandbox may have changed without ever leaving it: every path is
// resolved by os.Root (a symlink pointing out of the root is an error, "..", absolute
// paths and escapes are cut off), temporary files are created O_EXCL, symlinks it is
// asked to create must stay inside, and a read-only view refuses every change. Reads
// open with O_NONBLOCK and only regular files and folders are returned, so a FIFO or
// device planted in the tree cannot stall or feed the host.
type BillyFS struct {
	root     *os.Root
	base     string // slash path inside root ("" = the root itself)
	display  string // host path, for Root() and messages
	readOnly bool
}

var _ billy.Filesystem = (*BillyFS)(nil)

// NewBilly returns a read-write BillyFS over root. display is the host path of root
// (used for messages only; nothing is opened by it).
func NewBilly(root *os.Root, display string) *BillyFS {
	return &BillyFS{root: root, display: display}
}

// NewReadOnlyBilly is NewBilly refusing every change (billy.ErrReadOnly).
func NewReadOnlyBilly(root *os.Root, display string) *BillyFS {
	return &BillyFS{root: root, display: display, readOnly: true}
}

// ReadOnly returns a read-only view of the same tree.
func (b *BillyFS) ReadOnly() *BillyFS {
	c := *b
	c.readOnly = true
	return &c
}

// OSRoot is the underlying root (shared, not to be closed by the caller).
func (b *BillyFS) OSRoot() *os.Root { return b.root }

// rel maps a billy path (relative or "absolute" to this filesystem) onto a path
// inside the root; ".." can never climb above the filesystem's base.
func (b *BillyFS) rel(name string) string {
	clean := strings.TrimPrefix(path.Clean("/"+filepath.ToSlash(name)), "/")
	p := path.Join(b.base, clean)
	if p == "" {
		return "."
	}
	return filepath.FromSlash(p)
}

func (b *BillyFS) Create(name string) (billy.File, error) {
	return b.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o666)
}

func (b *BillyFS) Open(name string) (billy.File, error) {
	return b.OpenFile(name, os.O_RDONLY, 0)
}

const writeFlags = os.O_WRONLY | os.O_RDWR | os.O_CREATE | os.O_TRUNC | os.O_APPEND

func (b *BillyFS) OpenFile(name string, flag int, perm os.FileMode) (billy.File, error) {
	if flag&writeFlags != 0 {
		if b.readOnly {
			return nil, &os.PathError{Op: "open", Path: name, Err: billy.ErrReadOnly}
		}
		if flag&os.O_CREATE != 0 {
			if err := b.mkParent(name); err != nil {
				return nil, err
			}
		}
	}
	f, err := b.root.OpenFile(b.rel(name), flag|syscall.O_NONBLOCK|syscall.O_CLOEXEC, perm.Perm())
	if err != nil {
		return nil, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	if !fi.Mode().IsRegular() && !fi.IsDir() {
		f.Close()
		return nil, &os.PathError{Op: "open", Path: name, Err: fmt.Errorf("not a regular file (%s)", fi.Mode().Type())}
	}
	return &billyFile{File: f, name: name}, nil
}

func (b *BillyFS) mkParent(name string) error {
	dir := path.Dir(strings.TrimPrefix(path.Clean("/"+filepath.ToSlash(name)), "/"))
	if dir == "." || dir == "" {
		return nil
	}
	return b.MkdirAll(dir, 0o755)
}

func (b *BillyFS) Stat(name string) (os.FileInfo, error) { return b.root.Stat(b.rel(name)) }

func (b *BillyFS) Lstat(name string) (os.FileInfo, error) { return b.root.Lstat(b.rel(name)) }

func (b *BillyFS) Rename(from, to string) error {
	if b.readOnly {
		return &os.LinkError{Op: "rename", Old: from, New: to, Err: billy.ErrReadOnly}
	}
	if err := b.mkParent(to); err != nil {
		return err
	}
	return b.root.Rename(b.rel(from), b.rel(to))
}

// WriteFileAtomic replaces name with data as Tree.WriteFileAtomic does (O_EXCL temp
// file, fsync, rename over a planted symlink instead of following it), creating its
// folder if needed.
func (b *BillyFS) WriteFileAtomic(name string, data []byte, perm os.FileMode) error {
	if b.readOnly {
		return &os.PathError{Op: "write", Path: name, Err: billy.ErrReadOnly}
	}
	if err := b.mkParent(name); err != nil {
		return err
	}
	return writeAtomic(b.root, filepath.ToSlash(b.rel(name)), name, data, perm)
}

func (b *BillyFS) Remove(name string) error {
	if b.readOnly {
		return &os.PathError{Op: "remove", Path: name, Err: billy.ErrReadOnly}
	}
	return b.root.Remove(b.rel(name))
}

func (b *BillyFS) Join(elem ...string) string { return filepath.Join(elem...) }

// TempFile creates a new file O_EXCL (never opening one planted in its place).
func (b *BillyFS) TempFile(dir, prefix string) (billy.File, error) {
	if b.readOnly {
		return nil, &os.PathError{Op: "tempfile", Path: dir, Err: billy.ErrReadOnly}
	}
	if dir != "" {
		if err := b.MkdirAll(dir, 0o755); err != nil {
			return nil, err
		}
	}
	for range 100 {
		var rnd [8]byte
		_, _ = rand.Read(rnd[:])
		name := path.Join(filepath.ToSlash(dir), prefix+hex.EncodeToString(rnd[:]))
		f, err := b.root.OpenFile(b.rel(name), os.O_RDWR|os.O_CREATE|os.O_EXCL|syscall.O_CLOEXEC, 0o600)
		if errors.Is(err, fs.ErrExist) {
			continue
		}
		if err != nil {
			return nil, err
		}
		return &billyFile{File: f, name: filepath.FromSlash(name)}, nil
	}
	return nil, &os.PathError{Op: "tempfile", Path: dir, Err: fs.ErrExist}
}

// ReadDir lists a folder without following the entries' symlinks (like os.ReadDir).
func (b *BillyFS) ReadDir(name string) ([]os.FileInfo, error) {
	f, err := b.root.Open(b.rel(name))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	des, err := f.ReadDir(-1)
	if err != nil {
		return nil, err
	}
	out := make([]os.FileInfo, 0, len(des))
	for _, de := range des {
		fi, err := de.Info()
		if err != nil {
			continue // removed meanwhile
		}
		out = append(out, fi)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name() < out[j].Name() })
	return out, nil
}

func (b *BillyFS) MkdirAll(name string, perm os.FileMode) error {
	if b.readOnly {
		return &os.PathError{Op: "mkdir", Path: name, Err: billy.ErrReadOnly}
	}
	return b.root.MkdirAll(b.rel(name), perm.Perm())
}

// Symlink creates link -> target only when target is relative and, resolved from the
// link's folder, stays inside this filesystem.
func (b *BillyFS) Symlink(target, link string) error {
	if b.readOnly {
		return &os.LinkError{Op: "symlink", Old: target, New: link, Err: billy.ErrReadOnly}
	}
	lp := strings.TrimPrefix(path.Clean("/"+filepath.ToSlash(link)), "/")
	if err := SymlinkTargetInside(lp, target); err != nil {
		return &os.LinkError{Op: "symlink", Old: target, New: link, Err: err}
	}
	if err := b.mkParent(link); err != nil {
		return err
	}
	return b.root.Symlink(target, b.rel(link))
}

func (b *BillyFS) Readlink(name string) (string, error) { return b.root.Readlink(b.rel(name)) }

// Chroot narrows the filesystem to a folder inside it (still the same os.Root).
func (b *BillyFS) Chroot(p string) (billy.Filesystem, error) {
	c := *b
	c.base = filepath.ToSlash(b.rel(p))
	if c.base == "." {
		c.base = ""
	}
	c.display = filepath.Join(b.display, filepath.FromSlash(strings.TrimPrefix(path.Clean("/"+filepath.ToSlash(p)), "/")))
	return &c, nil
}

func (b *BillyFS) Root() string { return b.display }

// Chmod changes a mode inside the root (billy.Chmod; go-git uses it on checkout).
func (b *BillyFS) Chmod(name string, mode os.FileMode) error {
	if b.readOnly {
		return &os.PathError{Op: "chmod", Path: name, Err: billy.ErrReadOnly}
	}
	return b.root.Chmod(b.rel(name), mode.Perm())
}

// Lchown changes an owner inside the root without following a final symlink.
func (b *BillyFS) Lchown(name string, uid, gid int) error {
	if b.readOnly {
		return &os.PathError{Op: "lchown", Path: name, Err: billy.ErrReadOnly}
	}
	return b.root.Lchown(b.rel(name), uid, gid)
}

// SymlinkTargetInside checks that a symlink at linkPath (slash path relative to the
// tree's top) pointing at target cannot lead out of the tree or into a .git folder,
// whatever other symlinks the tree holds: the target must be relative, and ".." may
// only open it (climbing real folders of the link's own path, never above the top);
// after that it only descends, so every symlink it meets obeys the same rule.
func SymlinkTargetInside(linkPath, target string) error {
	if target == "" {
		return errors.New("empty symlink target")
	}
	if len(target) > 4096 || strings.IndexByte(target, 0) >= 0 {
		return errors.New("malformed symlink target")
	}
	if strings.HasPrefix(target, "/") || strings.HasPrefix(target, `\`) || filepath.IsAbs(target) {
		return fmt.Errorf("symlink target %q is absolute (points outside the repository)", target)
	}
	depth := strings.Count(strings.Trim(path.Clean("/"+linkPath), "/"), "/") // folders above the link
	up, climbing := 0, true
	for _, seg := range strings.Split(target, "/") {
		switch {
		case seg == "..":
			if !climbing {
				return fmt.Errorf("symlink target %q uses \"..\" after a name (only a leading \"../\" run is allowed)", target)
			}
			up++
			if up > depth {
				return fmt.Errorf("symlink target %q points outside the repository", target)
			}
		case seg == "" || seg == ".":
		default:
			climbing = false
			if IsGitName(seg) {
				return fmt.Errorf("symlink target %q points into .git", target)
			}
		}
	}
	return nil
}

// IsGitName reports names git (and case-insensitive or 8.3 file systems) treat as
// ".git": a tree entry with such a name could plant repository metadata on checkout.
func IsGitName(name string) bool {
	n := strings.TrimRight(name, ". ")
	return strings.EqualFold(n, ".git") || strings.EqualFold(n, "git~1")
}

// billyFile is an *os.File carrying the name go-git opened it by (go-git renames temp
// files by Name()) plus flock-based Lock/Unlock.
type billyFile struct {
	*os.File
	name string
}

func (f *billyFile) Name() string { return f.name }

func (f *billyFile) Lock() error { return syscall.Flock(int(f.File.Fd()), syscall.LOCK_EX) }

func (f *billyFile) Unlock() error { return syscall.Flock(int(f.File.Fd()), syscall.LOCK_UN) }
