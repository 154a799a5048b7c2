// Command mock-anthropic serves the mock Anthropic Messages API (package mockapi) for
// Playwright tests and demos. It prints its base URL as the first line of stdout, then
// serves until killed (SIGINT/SIGTERM) or until its parent process exits.
//
//	go run ./internal/testkit/cmd/mock-anthropic --addr 127.0.0.1:0
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/loopat/desktop/internal/testkit/mockapi"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	ctx = untilOrphaned(ctx)
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "mock-anthropic:", err)
		os.Exit(1)
	}
}

// untilOrphaned ends ctx when the parent process goes away. `go run` does not pass SIGTERM
// on to the program it built, so killing `go run` would otherwise leave the mock running.
func untilOrphaned(parent context.Context) context.Context {
	ctx, cancel := context.WithCancel(parent)
	ppid := os.Getppid()
	go func() {
		defer cancel()
		t := time.NewTicker(250 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				if os.Getppid() != ppid {
					return
				}
			}
		}
	}()
	return ctx
}

// run serves until ctx ends.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("mock-anthropic", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", "127.0.0.1:0", "listen address (host:port; port 0 picks a free one)")
	chunkDelay := fs.Duration("chunk-delay", 0, "pause between streamed deltas, e.g. 50ms, to watch a UI stream")
	verbose := fs.Bool("v", false, "log every request to stderr")
	record := fs.String("record", "", "on exit, write every recorded request as JSON lines to this file")
	if err := fs.Parse(args); err != nil {
		return err
	}
	level := slog.LevelInfo
	if *verbose {
		level = slog.LevelDebug
	}
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	srv := mockapi.New(mockapi.Options{ChunkDelay: *chunkDelay, Logger: logger})
	if err := srv.Listen(*addr); err != nil {
		return err
	}
	defer srv.Close()
	if _, err := fmt.Fprintln(stdout, srv.URL()); err != nil {
		return fmt.Errorf("print URL: %w", err)
	}
	<-ctx.Done()
	if *record != "" {
		return writeRecord(*record, srv.Requests())
	}
	return nil
}

func writeRecord(path string, reqs []mockapi.Request) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("write record: %w", err)
	}
	enc := json.NewEncoder(f)
	for _, r := range reqs {
		line := map[string]any{"method": r.Method, "path": r.Path, "query": r.Query, "header": r.Header,
			"remote_addr": r.RemoteAddr, "time": r.Time}
		if json.Valid(r.Body) {
			line["body"] = json.RawMessage(r.Body)
		} else {
			line["body"] = string(r.Body)
		}
		if err := enc.Encode(line); err != nil {
			f.Close()
			return fmt.Errorf("write record: %w", err)
		}
	}
	return f.Close()
}
