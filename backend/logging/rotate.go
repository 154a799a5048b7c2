package logging

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync"
)

// Size-based rotation defaults: a log a loop can make grow (host-exec audit, relay
// stderr) or the app writes all day keeps at most (1+DefaultKeep)*DefaultMaxBytes.
const (
	DefaultMaxBytes = 10 << 20
	DefaultKeep     = 3
)

// RotatingFile is an append-only log file that rotates by size: when a write would
// take it past MaxBytes it becomes Path.1 (Path.1 becomes Path.2, ... up to Keep;
// the oldest is removed). Safe for concurrent use. A single write larger than
// MaxBytes still goes whole into a fresh file: rotation never splits a record.
// The file is opened with O_NOFOLLOW: a symlink planted at Path is refused, not
// followed.
type RotatingFile struct {
	Path     string
	MaxBytes int64
	Keep     int

	mu   sync.Mutex
	f    *os.File
	size int64
}

// NewRotatingFile returns a writer for path (created 0600 on first write); maxBytes
// or keep <= 0 take the defaults.
func NewRotatingFile(path string, maxBytes int64, keep int) *RotatingFile {
	if maxBytes <= 0 {
		maxBytes = DefaultMaxBytes
	}
	if keep <= 0 {
		keep = DefaultKeep
	}
	return &RotatingFile{Path: path, MaxBytes: maxBytes, Keep: keep}
}

// Write appends p, rotating first if p would not fit.
func (r *RotatingFile) Write(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.f == nil {
		if err := r.open(); err != nil {
			return 0, err
		}
	}
	if r.size > 0 && r.size+int64(len(p)) > r.MaxBytes {
		if err := r.rotate(); err != nil {
			return 0, err
		}
	}
	n, err := r.f.Write(p)
	r.size += int64(n)
	if err != nil {
		return n, fmt.Errorf("write %s: %w", filepath.Base(r.Path), err)
	}
	return n, nil
}

// Close closes the current file; a later Write opens it again.
func (r *RotatingFile) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.f == nil {
		return nil
	}
	err := r.f.Close()
	r.f = nil
	return err
}

// Files lists the existing files, oldest first (Path.Keep ... Path.1, Path).
func (r *RotatingFile) Files() []string {
	var out []string
	for i := r.Keep; i >= 1; i-- {
		if _, err := os.Lstat(r.rotated(i)); err == nil {
			out = append(out, r.rotated(i))
		}
	}
	if _, err := os.Lstat(r.Path); err == nil {
		out = append(out, r.Path)
	}
	return out
}

func (r *RotatingFile) rotated(i int) string { return r.Path + "." + strconv.Itoa(i) }

func (r *RotatingFile) open() error {
	if err := os.MkdirAll(filepath.Dir(r.Path), 0o700); err != nil {
		return fmt.Errorf("create log folder: %w", err)
	}
	f, err := os.OpenFile(r.Path, os.O_CREATE|os.O_WRONLY|os.O_APPEND|noFollow, 0o600)
	if err != nil {
		return fmt.Errorf("open log %s: %w", filepath.Base(r.Path), err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return fmt.Errorf("stat log %s: %w", filepath.Base(r.Path), err)
	}
	if !st.Mode().IsRegular() {
		f.Close()
		return fmt.Errorf("open log %s: not a regular file", filepath.Base(r.Path))
	}
	r.f, r.size = f, st.Size()
	return nil
}

// rotate shifts Path -> Path.1 -> ... -> Path.Keep (dropped) and opens a fresh Path.
// Renames act on the names themselves, never on what a symlink points to.
func (r *RotatingFile) rotate() error {
	if err := r.f.Close(); err != nil {
		r.f = nil
		return fmt.Errorf("close log before rotation: %w", err)
	}
	r.f = nil
	if err := os.Remove(r.rotated(r.Keep)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("rotate log: %w", err)
	}
	for i := r.Keep - 1; i >= 1; i-- {
		if err := os.Rename(r.rotated(i), r.rotated(i+1)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("rotate log: %w", err)
		}
	}
	if err := os.Rename(r.Path, r.rotated(1)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("rotate log: %w", err)
	}
	return r.open()
}
