//go:build bench

// Command transcript measures long loop transcripts in the browser, through `loopat serve`
// as a user opens them (Playwright with Debian Chromium, tests/e2e/transcript.bench.mjs):
// time until the last reply is visible, DOM nodes, and the main-thread cost of one streamed
// line, for 100, 1,000 and 10,000-line loops synthesised in a throwaway workspace; and the
// loop list (the sidebar) with 10 and 500 loops, until every loop's row is shown:
//
//	go run -tags bench,remote,exclude_graphdriver_btrfs,containers_image_openpgp ./bench/transcript
//
// It needs a built binary (LOOPAT_BIN, default build/bin/loopat: `make build`) and the
// e2e node modules (tests/e2e: npm ci). Rows go into artifacts/bench.json.
//
// The baseline beside it is the same app built with the chat before the virtualised list
// (whole transcript fetched, every line in the DOM), given as -baseline-bin or
// LOOPAT_BASELINE_BIN; without one the open time is compared with the app shell only:
//
//	git worktree add /tmp/old 7f0fbbd && ln -s $PWD/frontend/node_modules /tmp/old/frontend/
//	(cd /tmp/old/frontend && npx vite build) && (cd /tmp/old && go build -tags remote,exclude_graphdriver_btrfs,containers_image_openpgp -o /tmp/loopat-old .)
package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/loopat/desktop/bench/report/benchkit"
	"github.com/loopat/desktop/bench/transcript/transcriptbench"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "bench transcript:", err)
		os.Exit(1)
	}
}

func run() error {
	sizesFlag := flag.String("lines", "100,1000,10000", "transcript lengths")
	listsFlag := flag.String("loops", "10,500", "loop counts for the loop list's render (empty: not measured)")
	baseline := flag.String("baseline-bin", os.Getenv("LOOPAT_BASELINE_BIN"), "a loopat binary built with the previous chat UI, measured beside (optional)")
	flag.Parse()
	root, err := benchkit.RepoRoot()
	if err != nil {
		return err
	}
	bin := os.Getenv("LOOPAT_BIN")
	if bin == "" {
		bin = filepath.Join(root, "build", "bin", "loopat")
	}
	if _, err := os.Stat(bin); err != nil {
		return fmt.Errorf("no loopat binary at %s (run make build, or set LOOPAT_BIN): %w", bin, err)
	}
	tmp, err := os.MkdirTemp("", "loopat-bench-transcript-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)

	type size struct {
		Lines  int    `json:"lines"`
		Home   string `json:"home"`
		Loop   string `json:"loop"`
		Marker string `json:"marker"`
		Event  bool   `json:"event"`
	}
	var sizes []size
	parts := strings.Split(*sizesFlag, ",")
	for _, p := range parts {
		n, err := strconv.Atoi(strings.TrimSpace(p))
		if err != nil {
			return fmt.Errorf("-lines: %w", err)
		}
		home := filepath.Join(tmp, fmt.Sprintf("ws-%d", n))
		id, err := transcriptbench.CreateLoop(home, n)
		if err != nil {
			return err
		}
		// The event cost is measured at every length: it must not grow with the transcript.
		sizes = append(sizes, size{Lines: n, Home: home, Loop: id, Marker: transcriptbench.Marker(n), Event: true})
	}
	type list struct {
		Loops int    `json:"loops"`
		Home  string `json:"home"`
	}
	var lists []list
	for p := range strings.SplitSeq(*listsFlag, ",") {
		if strings.TrimSpace(p) == "" {
			continue
		}
		n, err := strconv.Atoi(strings.TrimSpace(p))
		if err != nil || n <= 0 {
			return fmt.Errorf("-loops: %q is not a loop count", p)
		}
		home := filepath.Join(tmp, fmt.Sprintf("list-%d", n))
		if err := transcriptbench.CreateLoops(home, n); err != nil {
			return err
		}
		lists = append(lists, list{Loops: n, Home: home})
	}
	arg, _ := json.Marshal(sizes)
	listArg, _ := json.Marshal(lists)
	cmd := exec.Command("node", "transcript.bench.mjs", string(arg), string(listArg))
	cmd.Dir = filepath.Join(root, "tests", "e2e")
	cmd.Env = append(os.Environ(), "LOOPAT_BIN="+bin, "LOOPAT_BASELINE_BIN="+*baseline)
	var out bytes.Buffer
	cmd.Stdout = io.MultiWriter(&out, os.Stdout)
	cmd.Stderr = os.Stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("browser script: %w", err)
	}
	res, err := transcriptbench.Parse(out.Bytes())
	if err != nil {
		return err
	}
	rows := transcriptbench.Rows(res)
	benchkit.Print(rows)
	path, err := benchkit.Write(rows)
	if err != nil {
		return err
	}
	fmt.Println("wrote", path)
	return nil
}
