// Package logging sets up log/slog: JSON lines to LOOPAT_HOME/logs/loopat-<date>.log
// (rotated by size, see RotatingFile), and human-readable warnings (or everything,
// when verbose) to stderr.
package logging

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"time"
)

// Options controls Setup.
type Options struct {
	Dir     string    // log folder; empty = stderr only
	Stderr  io.Writer // nil = os.Stderr
	Verbose bool      // info to stderr as well
	// Wrap lets callers decorate the final handler (e.g. a secret scrubber).
	Wrap func(slog.Handler) slog.Handler
}

// Setup returns a logger and a closer for its file.
func Setup(o Options) (*slog.Logger, io.Closer, error) {
	stderr := o.Stderr
	if stderr == nil {
		stderr = os.Stderr
	}
	level := slog.LevelWarn
	if o.Verbose {
		level = slog.LevelInfo
	}
	handlers := []slog.Handler{slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level})}
	var closer io.Closer = nopCloser{}
	if o.Dir != "" {
		if err := os.MkdirAll(o.Dir, 0o700); err != nil {
			return nil, nil, fmt.Errorf("create log dir: %w", err)
		}
		path := filepath.Join(o.Dir, "loopat-"+time.Now().Format("2006-01-02")+".log")
		// A busy day (or a loop flooding warnings) rotates instead of filling the disk.
		f := NewRotatingFile(path, DefaultMaxBytes, DefaultKeep)
		if _, err := f.Write(nil); err != nil {
			return nil, nil, fmt.Errorf("open log file: %w", err)
		}
		closer = f
		handlers = append(handlers, slog.NewJSONHandler(f, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	var h slog.Handler = fanout(handlers)
	if o.Wrap != nil {
		h = o.Wrap(h)
	}
	return slog.New(h), closer, nil
}

type nopCloser struct{}

func (nopCloser) Close() error { return nil }

// fanout sends each record to every handler that accepts its level.
type fanout []slog.Handler

func (f fanout) Enabled(ctx context.Context, l slog.Level) bool {
	for _, h := range f {
		if h.Enabled(ctx, l) {
			return true
		}
	}
	return false
}

func (f fanout) Handle(ctx context.Context, r slog.Record) error {
	var first error
	for _, h := range f {
		if h.Enabled(ctx, r.Level) {
			if err := h.Handle(ctx, r.Clone()); err != nil && first == nil {
				first = err
			}
		}
	}
	return first
}

func (f fanout) WithAttrs(attrs []slog.Attr) slog.Handler {
	out := make(fanout, len(f))
	for i, h := range f {
		out[i] = h.WithAttrs(attrs)
	}
	return out
}

func (f fanout) WithGroup(name string) slog.Handler {
	out := make(fanout, len(f))
	for i, h := range f {
		out[i] = h.WithGroup(name)
	}
	return out
}
