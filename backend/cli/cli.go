// Package cli implements the `loopat <command>` subcommands: the presentation of the
// same services the UI drives. With no command, main opens the desktop window instead.
//
// One style for every command: flags are Go flags (--name value, --name=value; -name
// works too) and may come before or after the positional arguments; `loopat help CMD`,
// `loopat CMD --help` and `loopat CMD help` print the command's help and exit 0; a bad
// flag or argument prints what is wrong and the usage on stderr and exits 2.
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"sort"
	"strings"

	"github.com/loopat/desktop/backend/rpc"
)

// Env is what commands read and write; tests substitute buffers.
type Env struct {
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer
	Assets fs.FS // the built frontend, for `serve`
}

// Exit codes every command shares.
const (
	exitOK     = 0
	exitFailed = 1
	exitUsage  = 2
)

type command struct {
	summary string
	// help prints the command's full help (usage lines, flags) to w without opening the
	// workspace.
	help func(w io.Writer)
	run  func(ctx context.Context, args []string, env Env) int
}

var commands map[string]command

func init() {
	commands = map[string]command{
		"serve":     {"serve the app to a browser on a loopback address", textHelp(serveUsage), runServe},
		"doctor":    {"run the bootstrap checklist", textHelp(doctorUsage), runDoctor},
		"version":   {"print versions", textHelp(versionUsage), runVersion},
		"image":     {"build and list sandbox images", imageHelp, runImage},
		"vault":     {"secrets in the OS keychain (values from stdin, never arguments)", vaultHelp, runVault},
		"loop":      {"create, list, message and delete loops", textHelp(loopUsage), runLoop},
		"uninstall": {"remove this workspace's containers, images, network, secrets and data", uninstallHelp, runUninstall},
	}
}

// Main runs one subcommand and returns the process exit code.
func Main(ctx context.Context, args []string, env Env) int {
	if len(args) == 0 || isHelp(args[0]) {
		if len(args) > 1 {
			return helpFor(args[1], env)
		}
		usage(env.Stdout)
		return exitOK
	}
	cmd, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(env.Stderr, "loopat: unknown command %q\n\n", args[0])
		usage(env.Stderr)
		return exitUsage
	}
	// `loopat CMD help`, or -h/--help anywhere before "--" (`loopat image build --help`),
	// answers without opening the workspace or waiting for the engine.
	if wantsHelp(args[1:]) {
		cmd.help(env.Stdout)
		return exitOK
	}
	return cmd.run(ctx, args[1:], env)
}

func helpFor(name string, env Env) int {
	cmd, ok := commands[name]
	if !ok {
		fmt.Fprintf(env.Stderr, "loopat help: unknown command %q\n\n", name)
		usage(env.Stderr)
		return exitUsage
	}
	cmd.help(env.Stdout)
	return exitOK
}

// wantsHelp: "help" as the first argument, or a help flag before "--".
func wantsHelp(args []string) bool {
	if len(args) > 0 && args[0] == "help" {
		return true
	}
	for _, a := range args {
		if a == "--" {
			return false
		}
		if a != "help" && isHelp(a) {
			return true
		}
	}
	return false
}

func isHelp(a string) bool { return a == "help" || a == "-h" || a == "--help" || a == "-help" }

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
	fmt.Fprintln(w, "\nRun `loopat help COMMAND` (or `loopat COMMAND --help`) for a command's usage and flags.")
}

func textHelp(text string) func(io.Writer) {
	return func(w io.Writer) { fmt.Fprint(w, text) }
}

// newFlags is a command's flag set: errors and -h are left to parse.
func newFlags(name string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	return fs
}

// parse parses args with flags before or after the positional arguments ("--" ends the
// flags) and returns the positional ones. A bad flag prints what is wrong and the usage
// on stderr (ok=false, exitUsage); -h/--help prints the usage on stdout (ok=false, exitOK).
func parse(fs *flag.FlagSet, args []string, usageText string, env Env) (pos []string, code int, ok bool) {
	rest := args
	for len(rest) > 0 {
		if err := fs.Parse(rest); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				fmt.Fprint(env.Stdout, usageText)
				return nil, exitOK, false
			}
			return nil, usageError(env, "loopat "+fs.Name(), err.Error(), usageText), false
		}
		left := fs.Args()
		if used := len(rest) - len(left); used > 0 && rest[used-1] == "--" {
			return append(pos, left...), exitOK, true // everything after "--" is positional
		}
		if len(left) == 0 {
			break
		}
		pos = append(pos, left[0])
		rest = left[1:]
	}
	return pos, exitOK, true
}

// usageError prints "name: problem" and the usage on stderr and returns exitUsage.
func usageError(env Env, name, problem, usageText string) int {
	fmt.Fprintf(env.Stderr, "%s: %s\n\n%s", name, problem, usageText)
	return exitUsage
}

// fail prints err for the user (its hint too, as the UI shows it) and returns exitFailed.
func fail(env Env, name string, err error) int {
	fmt.Fprintf(env.Stderr, "%s: %v\n", name, err)
	var re *rpc.Error
	if errors.As(err, &re) && re.Hint != "" {
		fmt.Fprintf(env.Stderr, "hint: %s\n", re.Hint)
	}
	return exitFailed
}

// joinArgs joins positional words into one text.
func joinArgs(words []string) string { return strings.TrimSpace(strings.Join(words, " ")) }
