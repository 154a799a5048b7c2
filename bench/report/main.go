//go:build bench

// Command report writes docs/benchmarks.md from artifacts/bench.json (the rows every
// bench under bench/ merges in), with the machine, the date and the load average beside
// the figures. `make bench` runs it last (bench/*/ in order):
//
//	go run -tags bench,remote,exclude_graphdriver_btrfs,containers_image_openpgp ./bench/report
package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/loopat/desktop/bench/report/benchkit"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "bench report:", err)
		os.Exit(1)
	}
}

func run() error {
	path, err := benchkit.Path()
	if err != nil {
		return err
	}
	f, err := benchkit.Read(path)
	if err != nil {
		return err
	}
	if len(f.Rows) == 0 {
		return fmt.Errorf("%s has no rows: run the benches first", path)
	}
	root, err := benchkit.RepoRoot()
	if err != nil {
		return err
	}
	out := filepath.Join(root, "docs", "benchmarks.md")
	page := benchkit.Markdown(f, podmanVersion())
	// The reading of the figures (what the misses mean, where the time goes) is written by
	// hand beside the generator and appended.
	if notes, err := os.ReadFile(filepath.Join(root, "bench", "report", "notes.md")); err == nil {
		page += "\n" + string(notes)
	}
	if err := os.WriteFile(out, []byte(page), 0o644); err != nil {
		return err
	}
	fmt.Println("wrote", out, "from", path)
	// Goals with a noise margin fail `make bench` when missed beyond it; `make test`
	// (LOOPAT_BENCH_ENFORCE=0) only reports.
	if err := benchkit.Enforce(f.Rows); err != nil {
		if benchkit.Enforcing() {
			return fmt.Errorf("goals missed beyond their noise margin (LOOPAT_BENCH_ENFORCE=0 only reports):\n%w", err)
		}
		fmt.Println("goals missed beyond their noise margin (reported, not enforced):\n" + err.Error())
	}
	return nil
}

// podmanVersion is the client's version, for the machine line ("" when unknown).
func podmanVersion() string {
	out, err := exec.Command("podman", "version", "--format", "{{.Client.Version}}").Output()
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(out))
}
