package images

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
)

// entry is one file or folder of a build context, exactly as it is written to disk and
// therefore exactly as the bindings tar it for the build.
type entry struct {
	Path string      // slash-separated, relative to the context root
	Mode fs.FileMode // permission bits; fs.ModeDir for folders
	Data []byte
}

// buildContext is the complete set of files an image build sees. Its hash is the image tag,
// so the tag changes whenever any copied byte, name or mode changes, and never otherwise.
type buildContext struct {
	entries []entry
}

func (c *buildContext) addFile(p string, mode fs.FileMode, data []byte) {
	c.entries = append(c.entries, entry{Path: p, Mode: mode.Perm(), Data: data})
}

func (c *buildContext) addDir(p string) {
	c.entries = append(c.entries, entry{Path: p, Mode: fs.ModeDir | 0o755})
}

func (c *buildContext) sorted() []entry {
	out := append([]entry(nil), c.entries...)
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out
}

// hash is the first 16 hex digits of a sha256 over every entry's path, mode and content
// (length-prefixed so no two different contexts serialise the same way).
func (c *buildContext) hash() string {
	h := sha256.New()
	var n [8]byte
	field := func(b []byte) {
		binary.BigEndian.PutUint64(n[:], uint64(len(b)))
		h.Write(n[:])
		h.Write(b)
	}
	h.Write([]byte("loopat-context-v1\n"))
	for _, e := range c.sorted() {
		field([]byte(e.Path))
		field([]byte(e.Mode.String()))
		field(e.Data)
	}
	return hex.EncodeToString(h.Sum(nil))[:16]
}

// writeTo materialises the context under dir (which must exist and be empty) with the
// recorded modes, so what the bindings tar is byte-for-byte what was hashed.
func (c *buildContext) writeTo(dir string) error {
	for _, e := range c.sorted() {
		if !fs.ValidPath(e.Path) || strings.Contains(e.Path, "\\") {
			return fmt.Errorf("build context: invalid path %q", e.Path)
		}
		dst := filepath.Join(dir, filepath.FromSlash(e.Path))
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return fmt.Errorf("build context: %w", err)
		}
		if e.Mode.IsDir() {
			if err := os.MkdirAll(dst, 0o755); err != nil {
				return fmt.Errorf("build context: %w", err)
			}
			continue
		}
		if err := os.WriteFile(dst, e.Data, e.Mode.Perm()); err != nil {
			return fmt.Errorf("build context: %w", err)
		}
		// WriteFile's mode is filtered by the umask; set it exactly.
		if err := os.Chmod(dst, e.Mode.Perm()); err != nil {
			return fmt.Errorf("build context: %w", err)
		}
	}
	return nil
}

func (c *buildContext) file(p string) ([]byte, bool) {
	for _, e := range c.entries {
		if e.Path == path.Clean(p) && !e.Mode.IsDir() {
			return e.Data, true
		}
	}
	return nil, false
}
