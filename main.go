// Command loopat is loopat desktop: with no arguments it opens the desktop window;
// `loopat serve|doctor|version|...` are the CLI (see backend/cli).
package main

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"os"
	"strings"

	"github.com/loopat/desktop/backend/cli"
)

//go:embed all:frontend/dist
var assets embed.FS

func main() {
	dist, err := fs.Sub(assets, "frontend/dist")
	if err != nil {
		fmt.Fprintln(os.Stderr, "loopat: embedded frontend missing:", err)
		os.Exit(1)
	}
	args := os.Args[1:]
	// macOS Finder passes -psn_<n> when launching an .app: that is still "no command".
	if len(args) == 0 || strings.HasPrefix(args[0], "-psn_") {
		os.Exit(runDesktop(dist))
	}
	handOver(args) // loopat-headless, when installed, runs CLI commands without WebKit mapped
	os.Exit(cli.Main(context.Background(), args, cli.Env{Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr, Assets: dist}))
}
