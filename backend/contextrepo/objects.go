package contextrepo

import (
	"errors"
	"fmt"
	"io"
	"path"
	"strings"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/format/packfile"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/revlist"
	"github.com/go-git/go-git/v5/plumbing/storer"
	"github.com/go-git/go-git/v5/storage/memory"

	"github.com/loopat/desktop/backend/safefs"
)

// Limits on what a loop can make the host read and hold during a promote.
const (
	// MaxObjectSize caps one file (blob) or object a promote takes from a loop.
	MaxObjectSize = 64 << 20
	// maxStagedBytes caps everything one promote takes from a loop.
	maxStagedBytes = 512 << 20
	// maxTreeVisits caps tree entries visited while checking trees (a crafted tree DAG
	// could otherwise make the walk exponential).
	maxTreeVisits  = 2_000_000
	maxSymlinkSize = 4096
)

// RefusedError names a file (or repository part) a promote or merge refused, and why.
// Nothing was changed when it is returned.
type RefusedError struct {
	Path   string
	Reason string
}

func (e *RefusedError) Error() string {
	if e.Path == "" {
		return "refused: " + e.Reason
	}
	return fmt.Sprintf("refused %q: %s", e.Path, e.Reason)
}

// CheckTreeEntry checks one tree entry (its full slash path, mode and, for a symlink,
// its target) against what may enter a context repository: no ".git" component, no
// gitlink (submodule), no unknown mode, no symlink leading out of the repository or
// into .git, no malformed name.
func CheckTreeEntry(p string, mode filemode.FileMode, linkTarget string) error {
	name := path.Base(p)
	if name == "" || name == "." || name == ".." || strings.ContainsRune(p, 0) || strings.Contains(p, "//") || strings.HasPrefix(p, "/") {
		return &RefusedError{Path: p, Reason: "malformed path"}
	}
	for _, seg := range strings.Split(p, "/") {
		if seg == "." || seg == ".." || seg == "" {
			return &RefusedError{Path: p, Reason: "malformed path"}
		}
		if safefs.IsGitName(seg) {
			return &RefusedError{Path: p, Reason: "a \".git\" path component could plant repository metadata"}
		}
	}
	switch mode {
	case filemode.Dir, filemode.Regular, filemode.Executable, filemode.Deprecated:
		return nil
	case filemode.Symlink:
		if err := safefs.SymlinkTargetInside(p, linkTarget); err != nil {
			return &RefusedError{Path: p, Reason: err.Error()}
		}
		return nil
	case filemode.Submodule:
		return &RefusedError{Path: p, Reason: "gitlinks (submodules) are not allowed in context repositories"}
	}
	return &RefusedError{Path: p, Reason: fmt.Sprintf("unknown file mode %o", uint32(mode))}
}

// objectGetter reads objects from storers tried in order.
type objectGetter []storer.EncodedObjectStorer

func (g objectGetter) get(t plumbing.ObjectType, h plumbing.Hash) (plumbing.EncodedObject, error) {
	for _, s := range g {
		if s == nil {
			continue
		}
		if o, err := s.EncodedObject(t, h); err == nil {
			return o, nil
		}
	}
	return nil, fmt.Errorf("object %s: %w", h, plumbing.ErrObjectNotFound)
}

// treeChecker validates trees (CheckTreeEntry on every entry). A subtree is checked
// once per depth: whether a symlink escapes depends only on how deep it sits.
type treeChecker struct {
	objs   objectGetter
	seen   map[treeAt]bool
	visits int
}

type treeAt struct {
	h     plumbing.Hash
	depth int
}

func newTreeChecker(objs ...storer.EncodedObjectStorer) *treeChecker {
	return &treeChecker{objs: objs, seen: map[treeAt]bool{}}
}

func (tc *treeChecker) checkCommit(h plumbing.Hash) error {
	o, err := tc.objs.get(plumbing.CommitObject, h)
	if err != nil {
		return err
	}
	c, err := object.DecodeCommit(nil, o)
	if err != nil {
		return fmt.Errorf("commit %s: %w", h, err)
	}
	return tc.checkTree(c.TreeHash, "")
}

func (tc *treeChecker) checkTree(h plumbing.Hash, dir string) (err error) {
	defer recoverAs(&err, "tree "+h.String())
	depth := 0
	if dir != "" {
		depth = strings.Count(dir, "/") + 1
	}
	key := treeAt{h, depth}
	if tc.seen[key] {
		return nil
	}
	o, err := tc.objs.get(plumbing.TreeObject, h)
	if err != nil {
		return err
	}
	t, err := object.DecodeTree(nil, o)
	if err != nil {
		return fmt.Errorf("tree %s at %q: %w", h, dir, err)
	}
	names := make(map[string]bool, len(t.Entries))
	for _, e := range t.Entries {
		if tc.visits++; tc.visits > maxTreeVisits {
			return &RefusedError{Reason: "the trees are too large to check"}
		}
		p := path.Join(dir, e.Name)
		if strings.Contains(e.Name, "/") || e.Name == "" {
			return &RefusedError{Path: p, Reason: "malformed tree entry name"}
		}
		if names[e.Name] {
			return &RefusedError{Path: p, Reason: "duplicate tree entry"}
		}
		names[e.Name] = true
		target := ""
		if e.Mode == filemode.Symlink {
			if target, err = tc.symlinkTarget(e.Hash); err != nil {
				return &RefusedError{Path: p, Reason: err.Error()}
			}
		}
		if err := CheckTreeEntry(p, e.Mode, target); err != nil {
			return err
		}
		if e.Mode == filemode.Dir {
			if err := tc.checkTree(e.Hash, p); err != nil {
				return err
			}
		}
	}
	tc.seen[key] = true
	return nil
}

func (tc *treeChecker) symlinkTarget(h plumbing.Hash) (string, error) {
	o, err := tc.objs.get(plumbing.BlobObject, h)
	if err != nil {
		return "", err
	}
	if o.Size() > maxSymlinkSize {
		return "", errors.New("symlink target too long")
	}
	r, err := o.Reader()
	if err != nil {
		return "", err
	}
	defer r.Close()
	b, err := io.ReadAll(io.LimitReader(r, maxSymlinkSize+1))
	if err != nil {
		return "", err
	}
	return string(b), nil
}

// importer copies objects a loop made out of its clone (read-only, confined) into a
// host-private staging store, verifying each object's hash and size; objects the main
// clone already has are not read.
type importer struct {
	src   storer.EncodedObjectStorer // the loop clone's
	have  storer.EncodedObjectStorer // the main clone's
	stage *memory.Storage
	bytes int64
}

func newImporter(src, have storer.EncodedObjectStorer) *importer {
	return &importer{src: src, have: have, stage: memory.NewStorage()}
}

func (im *importer) has(h plumbing.Hash) bool {
	if im.stage.HasEncodedObject(h) == nil {
		return true
	}
	return im.have.HasEncodedObject(h) == nil
}

// importCommits stages the commits reachable from tips that the main clone lacks, with
// their trees and blobs.
func (im *importer) importCommits(tips ...plumbing.Hash) (err error) {
	defer recoverAs(&err, "read loop objects")
	stack := append([]plumbing.Hash(nil), tips...)
	for len(stack) > 0 {
		h := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if h.IsZero() || im.has(h) {
			continue
		}
		o, err := im.copy(plumbing.CommitObject, h)
		if err != nil {
			return err
		}
		c, err := object.DecodeCommit(nil, o)
		if err != nil {
			return fmt.Errorf("commit %s: %w", h, err)
		}
		if err := im.importTree(c.TreeHash); err != nil {
			return err
		}
		stack = append(stack, c.ParentHashes...)
	}
	return nil
}

func (im *importer) importTree(h plumbing.Hash) error {
	if im.has(h) {
		return nil
	}
	o, err := im.copy(plumbing.TreeObject, h)
	if err != nil {
		return err
	}
	t, err := object.DecodeTree(nil, o)
	if err != nil {
		return fmt.Errorf("tree %s: %w", h, err)
	}
	for _, e := range t.Entries {
		switch e.Mode {
		case filemode.Dir:
			if err := im.importTree(e.Hash); err != nil {
				return err
			}
		case filemode.Submodule:
			// Not an object of this repository; the tree check refuses it by name.
		default:
			if !im.has(e.Hash) {
				if _, err := im.copy(plumbing.BlobObject, e.Hash); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// copy reads object h of type t from the loop and stages it if its content hashes to h.
func (im *importer) copy(t plumbing.ObjectType, h plumbing.Hash) (plumbing.EncodedObject, error) {
	o, err := im.src.EncodedObject(t, h)
	if err != nil {
		return nil, fmt.Errorf("read %s %s from the loop clone: %w", t, h, err)
	}
	if o.Size() > MaxObjectSize {
		return nil, &RefusedError{Reason: fmt.Sprintf("%s %s is larger than %d MiB", t, h, MaxObjectSize>>20)}
	}
	if im.bytes += o.Size(); im.bytes > maxStagedBytes {
		return nil, &RefusedError{Reason: fmt.Sprintf("the loop's changes exceed %d MiB", maxStagedBytes>>20)}
	}
	r, err := o.Reader()
	if err != nil {
		return nil, fmt.Errorf("read %s %s: %w", t, h, err)
	}
	defer r.Close()
	mo := &plumbing.MemoryObject{}
	mo.SetType(t)
	w, _ := mo.Writer()
	if _, err := io.Copy(w, io.LimitReader(r, MaxObjectSize+1)); err != nil {
		return nil, fmt.Errorf("read %s %s: %w", t, h, err)
	}
	if mo.Hash() != h {
		return nil, fmt.Errorf("object %s in the loop clone is corrupt (its content hashes to %s)", h, mo.Hash())
	}
	if _, err := im.stage.SetEncodedObject(mo); err != nil {
		return nil, err
	}
	return mo, nil
}

// checkStaged validates the tree of every staged commit (reading trees from the stage,
// then the main clone).
func (im *importer) checkStaged() error {
	tc := newTreeChecker(im.stage, im.have)
	iter, err := im.stage.IterEncodedObjects(plumbing.CommitObject)
	if err != nil {
		return err
	}
	return iter.ForEach(func(o plumbing.EncodedObject) error {
		if err := tc.checkCommit(o.Hash()); err != nil {
			var re *RefusedError
			if errors.As(err, &re) {
				return fmt.Errorf("commit %s: %w", o.Hash().String()[:10], err)
			}
			return err
		}
		return nil
	})
}

// flush writes the staged objects into dst (the main clone).
func (im *importer) flush(dst storer.EncodedObjectStorer) error {
	iter, err := im.stage.IterEncodedObjects(plumbing.AnyObject)
	if err != nil {
		return err
	}
	return iter.ForEach(func(o plumbing.EncodedObject) error {
		if dst.HasEncodedObject(o.Hash()) == nil {
			return nil
		}
		if _, err := dst.SetEncodedObject(o); err != nil {
			return fmt.Errorf("store object %s: %w", o.Hash(), err)
		}
		return nil
	})
}

// sendObjects writes into dst (a loop clone, through its confined storage) one pack of
// the objects reachable from wants that are neither reachable from haves (which must
// exist in from) nor already in dst.
func sendObjects(from storer.EncodedObjectStorer, dst *confinedRepo, wants, haves []plumbing.Hash) error {
	var known []plumbing.Hash
	for _, h := range haves {
		if !h.IsZero() && from.HasEncodedObject(h) == nil {
			known = append(known, h)
		}
	}
	hs, err := revlist.Objects(from, wants, known)
	if err != nil {
		return fmt.Errorf("list objects: %w", err)
	}
	missing := hs[:0]
	for _, h := range hs {
		if dst.storage.HasEncodedObject(h) != nil {
			missing = append(missing, h)
		}
	}
	if len(missing) == 0 {
		return nil
	}
	pw, err := dst.storage.PackfileWriter()
	if err != nil {
		return err
	}
	if _, err := packfile.NewEncoder(pw, from, false).Encode(missing, 10); err != nil {
		pw.Close()
		return fmt.Errorf("write pack: %w", err)
	}
	return pw.Close()
}

// recoverAs turns a panic in go-git's parsing of hostile bytes into an error.
func recoverAs(err *error, what string) {
	if r := recover(); r != nil {
		*err = fmt.Errorf("%s: malformed data (%v)", what, r)
	}
}
