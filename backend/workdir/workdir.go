// Package workdir lets the UI browse, read, diff and commit a loop's workdir. The workdir
// is written by the loop's container, so it is hostile input: every file operation goes
// through a safefs.Tree (os.Root; ".." and symlinks that lead outside are refused), git
// runs in-process (go-git over the same confined tree, never the git CLI), and a .git
// that redirects to another repository is refused.
package workdir

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/loopat/desktop/backend/safefs"
)

// MaxReadBytes caps what Read returns of one file.
const MaxReadBytes = 1 << 20

// ErrOutside is returned for a path that leaves the workdir (by "..", an absolute path
// or a symlink anywhere on it).
var ErrOutside = safefs.ErrOutside

// open confines the workdir at root for one operation. The workdir is mounted into the
// loop's container, so every path in it is resolved through the safefs tree.
func open(root string) (*safefs.Tree, error) {
	t, err := safefs.Open(root)
	if err != nil {
		return nil, fmt.Errorf("workdir: %w", err)
	}
	return t, nil
}

// Entry is one item of a folder listing.
type Entry struct {
	Name    string `json:"name"`
	Path    string `json:"path"` // relative to the workdir, slash-separated
	Dir     bool   `json:"dir"`
	Symlink bool   `json:"symlink"`
	Size    int64  `json:"size"`
}

// Tree lists one folder of the workdir (folders first, then by name). .git is hidden.
// Symlinks are listed as such, never followed.
func Tree(root, rel string) ([]Entry, error) {
	base, err := safefs.Clean(rel)
	if err != nil {
		return nil, err
	}
	t, err := open(root)
	if err != nil {
		return nil, err
	}
	defer t.Close()
	items, err := t.ReadDir(base)
	if err != nil {
		return nil, err
	}
	if base == "." {
		base = ""
	}
	out := []Entry{}
	for _, it := range items {
		if it.Name() == ".git" {
			continue
		}
		e := Entry{Name: it.Name(), Path: strings.TrimPrefix(base+"/"+it.Name(), "/"), Dir: it.IsDir(), Symlink: it.Type()&os.ModeSymlink != 0}
		if info, err := it.Info(); err == nil {
			e.Size = info.Size()
		}
		out = append(out, e)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Dir != out[j].Dir {
			return out[i].Dir
		}
		return out[i].Name < out[j].Name
	})
	return out, nil
}

// File is a file's content for the viewer.
type File struct {
	Path      string `json:"path"`
	Size      int64  `json:"size"`
	Binary    bool   `json:"binary"`
	Truncated bool   `json:"truncated"`
	Content   string `json:"content"` // empty for binary files
}

// Read returns up to MaxReadBytes of a regular file (a symlink is followed only while it
// stays in the workdir); binary files come back without content.
func Read(root, rel string) (File, error) {
	t, err := open(root)
	if err != nil {
		return File{}, err
	}
	defer t.Close()
	f, st, err := t.OpenRegular(rel)
	if errors.Is(err, safefs.ErrNotRegular) && st != nil && st.IsDir() {
		return File{}, fmt.Errorf("read %s: is a folder", rel)
	}
	if err != nil {
		return File{}, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxReadBytes))
	if err != nil {
		return File{}, fmt.Errorf("read %s: %w", rel, err)
	}
	out := File{Path: rel, Size: st.Size(), Truncated: st.Size() > int64(len(data))}
	if IsBinary(data) {
		out.Binary = true
		return out, nil
	}
	out.Content = string(data)
	return out, nil
}

// IsBinary guesses like git: a NUL byte in the first 8000 bytes, or invalid UTF-8 there.
func IsBinary(data []byte) bool {
	head, cut := data, false
	if len(head) > 8000 {
		head, cut = head[:8000], true
	}
	if bytes.IndexByte(head, 0) >= 0 {
		return true
	}
	if utf8.Valid(head) {
		return false
	}
	// The sniff window may split a multi-byte rune.
	for i := 1; cut && i <= 3; i++ {
		if utf8.Valid(head[:len(head)-i]) {
			return false
		}
	}
	return true
}
