//go:build headless

package main

import (
	"fmt"
	"io/fs"
	"os"

	"github.com/loopat/desktop/backend/headless"
	"github.com/loopat/desktop/backend/version"
)

// This file makes loopat-headless: the CLI without the window (see backend/headless).

func runDesktop(fs.FS) int {
	fmt.Fprintln(os.Stderr, "loopat-headless has no window: run `loopat` to open it, or `loopat serve` for the browser")
	return 2
}

// handOver runs in the twin before any command: a twin of another build hands back.
func handOver(args []string) {
	if err := headless.Adopt(args, version.Version); err != nil {
		fmt.Fprintln(os.Stderr, "loopat:", err)
		os.Exit(1)
	}
}
