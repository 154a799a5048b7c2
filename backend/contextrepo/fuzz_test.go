package contextrepo

import (
	"path"
	"strings"
	"testing"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/storage/memory"
)

// FuzzCheckTreeEntry: for any path, mode and symlink target a loop can put in a tree,
// the check never panics, and what it accepts cannot reach outside the repository or
// into .git: no ".git" component, no gitlink, and a symlink whose target, resolved
// lexically from the link's folder, stays inside with ".." only as a leading run.
func FuzzCheckTreeEntry(f *testing.F) {
	f.Add("evil", uint32(filemode.Symlink), "/etc/passwd")
	f.Add("a/b/l", uint32(filemode.Symlink), "../../../x")
	f.Add("a/l", uint32(filemode.Symlink), "../b.md")
	f.Add("a/.git/config", uint32(filemode.Regular), "")
	f.Add("sub", uint32(filemode.Submodule), "")
	f.Add("l", uint32(filemode.Symlink), "x/../../y")
	f.Add("l", uint32(filemode.Symlink), "a/.GIT./hooks")
	f.Fuzz(func(t *testing.T, p string, mode uint32, target string) {
		err := CheckTreeEntry(p, filemode.FileMode(mode), target)
		if err != nil {
			return
		}
		for _, seg := range strings.Split(p, "/") {
			if strings.EqualFold(strings.TrimRight(seg, ". "), ".git") || seg == ".." || seg == "" {
				t.Fatalf("accepted path %q", p)
			}
		}
		switch filemode.FileMode(mode) {
		case filemode.Submodule:
			t.Fatalf("accepted a gitlink %q", p)
		case filemode.Symlink:
			if strings.HasPrefix(target, "/") {
				t.Fatalf("accepted absolute target %q", target)
			}
			resolved := path.Clean(path.Join(path.Dir(p), target))
			if resolved == ".." || strings.HasPrefix(resolved, "../") || strings.HasPrefix(resolved, "/") {
				t.Fatalf("accepted %q -> %q resolving to %q", p, target, resolved)
			}
			for _, seg := range strings.Split(resolved, "/") {
				if strings.EqualFold(strings.TrimRight(seg, ". "), ".git") {
					t.Fatalf("accepted %q -> %q into .git", p, target)
				}
			}
		}
	})
}

// FuzzTreeCheck feeds arbitrary bytes as a loop's tree object (and as the blob of any
// symlink in it): validation never panics, and an accepted tree passes CheckTreeEntry
// entry by entry.
func FuzzTreeCheck(f *testing.F) {
	f.Add(rawTree(object.TreeEntry{Name: "evil", Mode: filemode.Symlink, Hash: plumbing.ZeroHash}), []byte("/etc/passwd"))
	f.Add(rawTree(object.TreeEntry{Name: ".git", Mode: filemode.Dir, Hash: plumbing.ZeroHash}), []byte(""))
	f.Add(rawTree(object.TreeEntry{Name: "a.md", Mode: filemode.Regular, Hash: plumbing.ZeroHash}), []byte("x"))
	f.Add(rawTree(object.TreeEntry{Name: "m", Mode: filemode.Submodule, Hash: plumbing.ZeroHash}), []byte(""))
	f.Add([]byte("100644 a\x00short"), []byte(""))
	f.Fuzz(func(t *testing.T, tree, blob []byte) {
		st := memory.NewStorage()
		b := st.NewEncodedObject()
		b.SetType(plumbing.BlobObject)
		w, _ := b.Writer()
		_, _ = w.Write(blob)
		bh, _ := st.SetEncodedObject(b)
		// Point every 20-byte hash slot the fuzzer wrote at the blob: symlinks get a target.
		o := st.NewEncodedObject()
		o.SetType(plumbing.TreeObject)
		w, _ = o.Writer()
		_, _ = w.Write(retarget(tree, bh))
		th, _ := st.SetEncodedObject(o)
		err := newTreeChecker(st).checkTree(th, "")
		if err != nil {
			return
		}
		t2, derr := object.DecodeTree(st, o)
		if derr != nil {
			t.Fatalf("accepted a tree that does not decode: %v", derr)
		}
		for _, e := range t2.Entries {
			target := ""
			if e.Mode == filemode.Symlink {
				target = string(blob)
			}
			if e.Mode != filemode.Dir {
				if cerr := CheckTreeEntry(e.Name, e.Mode, target); cerr != nil {
					t.Fatalf("accepted entry %q: %v", e.Name, cerr)
				}
			}
		}
	})
}

func rawTree(es ...object.TreeEntry) []byte {
	o := &plumbing.MemoryObject{}
	_ = (&object.Tree{Entries: es}).Encode(o)
	r, _ := o.Reader()
	defer r.Close()
	b := make([]byte, o.Size())
	_, _ = r.Read(b)
	return b
}

// retarget rewrites the hash after each NUL of a raw tree to h.
func retarget(tree []byte, h plumbing.Hash) []byte {
	out := append([]byte(nil), tree...)
	for i := 0; i < len(out); i++ {
		if out[i] == 0 && i+1+20 <= len(out) {
			copy(out[i+1:i+21], h[:])
			i += 20
		}
	}
	return out
}
