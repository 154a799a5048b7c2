package images

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/loopat/desktop/backend/config"
)

// Workspace is the workspace this builder serves.
func (b *Builder) Workspace() config.Workspace { return b.ws }

// errTooMany stops a walk of a tree with more entries than maxDirEntries.
var errTooMany = errors.New("too many entries")

const maxDirEntries = 2_000_000

// DirSize is the bytes of regular files under root. The tree is loop-written: symlinks are
// counted as links and never followed (a root that is a symlink counts nothing), and the
// walk stops at ctx's deadline or maxDirEntries, returning what it counted and partial=true.
func DirSize(ctx context.Context, root string) (size int64, partial bool, err error) {
	fi, err := os.Lstat(root)
	if err != nil {
		return 0, false, err
	}
	if !fi.IsDir() {
		return 0, false, nil
	}
	n := 0
	err = filepath.WalkDir(root, func(_ string, d fs.DirEntry, err error) error {
		if err != nil {
			partial = true
			return nil // unreadable entry: skip it, keep counting the rest
		}
		if n++; n > maxDirEntries {
			return errTooMany
		}
		if n%4096 == 0 && ctx.Err() != nil {
			return ctx.Err()
		}
		if d.Type().IsRegular() {
			if info, err := d.Info(); err == nil {
				size += info.Size()
			}
		}
		return nil
	})
	if err != nil {
		return size, true, nil
	}
	return size, partial, nil
}

// DirSizeUnder is DirSize of root/rel where every component of rel must be a real folder,
// not a symlink: rel lies inside a loop-written tree.
func DirSizeUnder(ctx context.Context, root, rel string) (int64, bool, error) {
	p := root
	for _, c := range strings.Split(filepath.ToSlash(filepath.Clean(rel)), "/") {
		if c == "" || c == "." || c == ".." {
			return 0, false, errors.New("bad relative path " + rel)
		}
		p = filepath.Join(p, c)
		fi, err := os.Lstat(p)
		if err != nil {
			return 0, false, err
		}
		if !fi.IsDir() {
			return 0, false, errors.New(p + " is not a folder")
		}
	}
	return DirSize(ctx, p)
}
