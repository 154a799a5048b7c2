// Package workdir lets the UI browse, read, diff and commit a loop's workdir. Every path
// is confined to the workdir: ".." and symlinks that lead outside are refused.
package workdir

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"unicode/utf8"
)

// MaxReadBytes caps what Read returns of one file.
const MaxReadBytes = 1 << 20

// ErrOutside is returned for a path that leaves the workdir.
var ErrOutside = errors.New("path is outside the loop's workdir")

// Resolve maps a workdir-relative path to an absolute host path inside root. It refuses
// absolute paths, ".." segments and symlinks (anywhere on the path) that resolve outside.
func Resolve(root, rel string) (string, error) {
	rel = filepath.ToSlash(strings.TrimSpace(rel))
	if rel == "" || rel == "." || rel == "/" {
		rel = "."
	}
	if filepath.IsAbs(rel) || strings.HasPrefix(rel, "/") {
		return "", fmt.Errorf("%w: %q is absolute", ErrOutside, rel)
	}
	for _, seg := range strings.Split(rel, "/") {
		if seg == ".." {
			return "", fmt.Errorf("%w: %q contains ..", ErrOutside, rel)
		}
	}
	realRoot, err := filepath.EvalSymlinks(root)
	if err != nil {
		return "", fmt.Errorf("workdir: %w", err)
	}
	p := filepath.Join(realRoot, filepath.FromSlash(rel))
	real, err := filepath.EvalSymlinks(p)
	if errors.Is(err, os.ErrNotExist) {
		// A missing path cannot escape by itself; its existing parent must not either.
		parent, perr := filepath.EvalSymlinks(filepath.Dir(p))
		if perr != nil {
			return "", fmt.Errorf("%s: %w", rel, err)
		}
		if !within(realRoot, parent) {
			return "", fmt.Errorf("%w: %q", ErrOutside, rel)
		}
		return p, nil
	}
	if err != nil {
		return "", fmt.Errorf("%s: %w", rel, err)
	}
	if !within(realRoot, real) {
		return "", fmt.Errorf("%w: %q leads to %s", ErrOutside, rel, real)
	}
	return real, nil
}

func within(root, p string) bool {
	return p == root || strings.HasPrefix(p, root+string(filepath.Separator))
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
func Tree(root, rel string) ([]Entry, error) {
	dir, err := Resolve(root, rel)
	if err != nil {
		return nil, err
	}
	items, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", rel, err)
	}
	base := strings.Trim(filepath.ToSlash(filepath.Clean(filepath.FromSlash(rel))), "/")
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

// Read returns up to MaxReadBytes of a file; binary files come back without content.
func Read(root, rel string) (File, error) {
	p, err := Resolve(root, rel)
	if err != nil {
		return File{}, err
	}
	f, err := os.Open(p)
	if err != nil {
		return File{}, fmt.Errorf("read %s: %w", rel, err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return File{}, fmt.Errorf("read %s: %w", rel, err)
	}
	if st.IsDir() {
		return File{}, fmt.Errorf("read %s: is a folder", rel)
	}
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
