// Package cli implements the `loopat <command>` subcommands. With no command, main
// opens the desktop window instead.
package cli

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"sort"
	"strings"
)

// Env is what commands read and write; tests substitute buffers.
type Env struct {
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer
	Assets fs.FS // the built frontend, for `serve`
}

type command struct {
	summary string
	run     func(ctx context.Context, args []string, env Env) int
}

var commands = map[string]command{
	"serve":     {"serve the app to a browser: loopat serve [--addr 127.0.0.1:10001]", runServe},
	"doctor":    {"run the bootstrap checklist: loopat doctor [--json]", runDoctor},
	"version":   {"print versions", runVersion},
	"image":     {"sandbox images: loopat image build [--no-cache] [--mise FILE] | ls", runImage},
	"vault":     {"secrets in the OS keychain: loopat vault ls | set NAME | rotate NAME | rm NAME (values from stdin)", runVault},
	"loop":      {"loops: loopat loop new TITLE [--repo PATH] | ls | send ID TEXT | rm ID", runLoop},
	"uninstall": {"remove this workspace's containers, images, network, secrets and data: loopat uninstall [--yes] [--keep-data] [--dry-run]", runUninstall},
}

// Main runs one subcommand and returns the process exit code.
func Main(ctx context.Context, args []string, env Env) int {
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		usage(env.Stdout)
		return 0
	}
	cmd, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(env.Stderr, "loopat: unknown command %q\n\n", args[0])
		usage(env.Stderr)
		return 2
	}
	return cmd.run(ctx, args[1:], env)
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: loopat [command]\n\nWith no command, loopat opens the desktop window.\n\ncommands:")
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-10s %s\n", n, commands[n].summary)
	}
}

// hasFlag reports (and removes) a boolean flag such as --json.
func hasFlag(args []string, name string) ([]string, bool) {
	out := args[:0:0]
	found := false
	for _, a := range args {
		if a == name {
			found = true
			continue
		}
		out = append(out, a)
	}
	return out, found
}

func flagValue(args []string, name string) (string, []string, error) {
	var rest []string
	val := ""
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == name:
			if i+1 >= len(args) {
				return "", nil, fmt.Errorf("%s needs a value", name)
			}
			val = args[i+1]
			i++
		case strings.HasPrefix(a, name+"="):
			val = strings.TrimPrefix(a, name+"=")
		default:
			rest = append(rest, a)
		}
	}
	return val, rest, nil
}
