package contextrepo

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"syscall"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/format/gitignore"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/storage/memory"

	"github.com/loopat/desktop/backend/safefs"
)

// maxSnapshotEntries caps the files and folders a snapshot of a loop's worktree reads.
const maxSnapshotEntries = 200_000

// snapshotter builds the tree of a loop's worktree as it is now, read through os.Root:
// .git is skipped, .gitignore (and .git/info/exclude) honoured for untracked paths, no
// symlink is followed (a symlink becomes a symlink entry if its target stays inside,
// else the snapshot is refused), FIFOs, devices and sockets are left out.
type snapshotter struct {
	root    *os.Root
	stage   *memory.Storage
	tracked map[string]bool // files of HEAD, and "dir/" for folders holding some
	entries int
	bytes   *int64
}

func newSnapshotter(root *os.Root, stage *memory.Storage, head *object.Tree, bytes *int64) (*snapshotter, error) {
	sn := &snapshotter{root: root, stage: stage, tracked: map[string]bool{}, bytes: bytes}
	if head != nil {
		err := walkTree(head, "", func(p string, _ object.TreeEntry) error {
			sn.tracked[p] = true
			for d := path.Dir(p); d != "."; d = path.Dir(d) {
				sn.tracked[d+"/"] = true
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	return sn, nil
}

// tree snapshots the whole worktree; excludes are the patterns of .git/info/exclude.
func (sn *snapshotter) tree(excludes []gitignore.Pattern) (plumbing.Hash, error) {
	h, _, err := sn.dir("", excludes)
	if err != nil {
		return plumbing.ZeroHash, err
	}
	if h.IsZero() {
		return sn.store(&object.Tree{})
	}
	return h, nil
}

func (sn *snapshotter) dir(rel string, inherited []gitignore.Pattern) (plumbing.Hash, bool, error) {
	osRel := "."
	var domain []string
	if rel != "" {
		osRel = filepath.FromSlash(rel)
		domain = strings.Split(rel, "/")
	}
	patterns := inherited
	if b, err := readSmall(sn.root, filepath.Join(osRel, ".gitignore"), 1<<20); err == nil && len(b) > 0 {
		patterns = append(append([]gitignore.Pattern(nil), inherited...), parseIgnore(b, domain)...)
	}
	ignore := gitignore.NewMatcher(patterns)
	f, err := sn.root.Open(osRel)
	if err != nil {
		return plumbing.ZeroHash, false, fmt.Errorf("read folder %q: %w", rel, err)
	}
	names, err := f.Readdirnames(-1)
	f.Close()
	if err != nil {
		return plumbing.ZeroHash, false, fmt.Errorf("read folder %q: %w", rel, err)
	}
	var entries []object.TreeEntry
	for _, name := range names {
		p := path.Join(rel, name)
		if rel == "" && name == ".git" {
			continue
		}
		if sn.entries++; sn.entries > maxSnapshotEntries {
			return plumbing.ZeroHash, false, &RefusedError{Reason: fmt.Sprintf("the worktree has more than %d entries", maxSnapshotEntries)}
		}
		if safefs.IsGitName(name) {
			return plumbing.ZeroHash, false, &RefusedError{Path: p, Reason: "a nested .git (a repository inside the repository) cannot be promoted; remove it"}
		}
		fi, err := sn.root.Lstat(filepath.FromSlash(p))
		if err != nil {
			continue // removed meanwhile
		}
		segs := strings.Split(p, "/")
		switch {
		case fi.IsDir():
			if ignore.Match(segs, true) && !sn.tracked[p+"/"] {
				continue
			}
			h, nonEmpty, err := sn.dir(p, patterns)
			if err != nil {
				return plumbing.ZeroHash, false, err
			}
			if nonEmpty {
				entries = append(entries, object.TreeEntry{Name: name, Mode: filemode.Dir, Hash: h})
			}
		case fi.Mode()&os.ModeSymlink != 0:
			if ignore.Match(segs, false) && !sn.tracked[p] {
				continue
			}
			target, err := sn.root.Readlink(filepath.FromSlash(p))
			if err != nil {
				return plumbing.ZeroHash, false, fmt.Errorf("read symlink %q: %w", p, err)
			}
			if err := CheckTreeEntry(p, filemode.Symlink, target); err != nil {
				return plumbing.ZeroHash, false, err
			}
			h, err := sn.blob([]byte(target))
			if err != nil {
				return plumbing.ZeroHash, false, err
			}
			entries = append(entries, object.TreeEntry{Name: name, Mode: filemode.Symlink, Hash: h})
		case fi.Mode().IsRegular():
			if ignore.Match(segs, false) && !sn.tracked[p] {
				continue
			}
			if err := CheckTreeEntry(p, filemode.Regular, ""); err != nil {
				return plumbing.ZeroHash, false, err
			}
			data, mode, err := sn.readFile(p)
			if err != nil {
				return plumbing.ZeroHash, false, err
			}
			h, err := sn.blob(data)
			if err != nil {
				return plumbing.ZeroHash, false, err
			}
			entries = append(entries, object.TreeEntry{Name: name, Mode: mode, Hash: h})
		}
		// FIFOs, sockets, devices: git does not track them either.
	}
	if len(entries) == 0 {
		return plumbing.ZeroHash, false, nil
	}
	sortTreeEntries(entries)
	h, err := sn.store(&object.Tree{Entries: entries})
	return h, true, err
}

// readFile reads a regular file without following a final symlink swapped in meanwhile
// out of the tree (os.Root) and without blocking on a FIFO (O_NONBLOCK + fstat).
func (sn *snapshotter) readFile(p string) ([]byte, filemode.FileMode, error) {
	f, err := sn.root.OpenFile(filepath.FromSlash(p), os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, 0, fmt.Errorf("read %q: %w", p, err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, 0, err
	}
	if !fi.Mode().IsRegular() {
		return nil, 0, &RefusedError{Path: p, Reason: "changed into a non-regular file while reading"}
	}
	if fi.Size() > MaxObjectSize {
		return nil, 0, &RefusedError{Path: p, Reason: fmt.Sprintf("larger than %d MiB", MaxObjectSize>>20)}
	}
	if *sn.bytes += fi.Size(); *sn.bytes > maxStagedBytes {
		return nil, 0, &RefusedError{Reason: fmt.Sprintf("the loop's changes exceed %d MiB", maxStagedBytes>>20)}
	}
	data, err := io.ReadAll(io.LimitReader(f, MaxObjectSize+1))
	if err != nil {
		return nil, 0, fmt.Errorf("read %q: %w", p, err)
	}
	mode := filemode.Regular
	if fi.Mode()&0o100 != 0 {
		mode = filemode.Executable
	}
	return data, mode, nil
}

func (sn *snapshotter) blob(data []byte) (plumbing.Hash, error) {
	o := sn.stage.NewEncodedObject()
	o.SetType(plumbing.BlobObject)
	w, err := o.Writer()
	if err != nil {
		return plumbing.ZeroHash, err
	}
	if _, err := w.Write(data); err != nil {
		return plumbing.ZeroHash, err
	}
	return sn.stage.SetEncodedObject(o)
}

func (sn *snapshotter) store(t *object.Tree) (plumbing.Hash, error) {
	o := sn.stage.NewEncodedObject()
	if err := t.Encode(o); err != nil {
		return plumbing.ZeroHash, err
	}
	return sn.stage.SetEncodedObject(o)
}

// sortTreeEntries orders entries as git does: by name, folders compared as "name/".
func sortTreeEntries(es []object.TreeEntry) {
	key := func(e object.TreeEntry) string {
		if e.Mode == filemode.Dir {
			return e.Name + "/"
		}
		return e.Name
	}
	sort.Slice(es, func(i, j int) bool { return key(es[i]) < key(es[j]) })
}

func parseIgnore(b []byte, domain []string) []gitignore.Pattern {
	var ps []gitignore.Pattern
	for _, line := range bytes.Split(b, []byte("\n")) {
		s := strings.TrimRight(string(line), "\r")
		if strings.HasPrefix(s, "#") || strings.TrimSpace(s) == "" {
			continue
		}
		ps = append(ps, gitignore.ParsePattern(s, domain))
	}
	return ps
}
