// Command mock-anthropic serves the mock Anthropic Messages API (package mockapi) for
// Playwright tests and demos. It prints its base URL as the first line of stdout, then
// serves until killed.
//
//	go run ./internal/testkit/cmd/mock-anthropic --addr 127.0.0.1:0
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/loopat/desktop/internal/testkit/mockapi"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:0", "listen address (host:port; port 0 picks a free one)")
	chunkDelay := flag.Duration("chunk-delay", 0, "pause between streamed deltas, e.g. 50ms, to watch a UI stream")
	verbose := flag.Bool("v", false, "log every request to stderr")
	record := flag.String("record", "", "on exit, write every recorded request as JSON lines to this file")
	flag.Parse()

	level := slog.LevelInfo
	if *verbose {
		level = slog.LevelDebug
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	srv := mockapi.New(mockapi.Options{ChunkDelay: *chunkDelay, Logger: logger})
	if err := srv.Listen(*addr); err != nil {
		fmt.Fprintln(os.Stderr, "mock-anthropic:", err)
		os.Exit(1)
	}
	fmt.Println(srv.URL())

	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	<-sig
	if *record != "" {
		if err := writeRecord(*record, srv.Requests()); err != nil {
			fmt.Fprintln(os.Stderr, "mock-anthropic:", err)
		}
	}
	done := make(chan struct{})
	go func() { _ = srv.Close(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
	}
}

func writeRecord(path string, reqs []mockapi.Request) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("write record: %w", err)
	}
	enc := json.NewEncoder(f)
	for _, r := range reqs {
		line := map[string]any{"method": r.Method, "path": r.Path, "query": r.Query, "header": r.Header, "time": r.Time}
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
