package cli

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

func run(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := Main(context.Background(), args, Env{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errb})
	return code, out.String(), errb.String()
}

func TestUsageAndUnknownCommand(t *testing.T) {
	code, out, _ := run(t, "help")
	if code != 0 || !strings.Contains(out, "serve") || !strings.Contains(out, "doctor") {
		t.Fatalf("help: %d %q", code, out)
	}
	code, _, errOut := run(t, "frobnicate")
	if code != 2 || !strings.Contains(errOut, `unknown command "frobnicate"`) {
		t.Fatalf("unknown: %d %q", code, errOut)
	}
}

func TestVersion(t *testing.T) {
	code, out, _ := run(t, "version")
	if code != 0 || !strings.HasPrefix(out, "loopat ") || !strings.Contains(out, "claude-code") {
		t.Fatalf("version: %d %q", code, out)
	}
}

func TestServeRefusesNonLoopbackAndBadFlags(t *testing.T) {
	for _, args := range [][]string{{"serve", "--addr", "0.0.0.0:1"}, {"serve", "--addr", "10.1.2.3:80"}, {"serve", "--addr"}, {"serve", "extra"}, {"serve", "-addr=[::]:80"}} {
		if code, _, errOut := run(t, args...); code != 2 || errOut == "" {
			t.Errorf("%v: code %d, stderr %q", args, code, errOut)
		}
	}
	if code, _, _ := run(t, "doctor", "--bogus"); code != 2 {
		t.Errorf("doctor --bogus: %d", code)
	}
}

// Every command has help: `loopat help CMD`, `loopat CMD --help`, `loopat CMD -h` and
// `loopat CMD help` print it on stdout and exit 0, without opening a workspace (LOOPAT_HOME
// points nowhere usable).
func TestHelpForEveryCommand(t *testing.T) {
	t.Setenv("LOOPAT_HOME", "/nonexistent/loopat-help-test")
	code, out, _ := run(t, "--help")
	if code != 0 || !strings.Contains(out, "loopat help COMMAND") {
		t.Fatalf("--help: %d %q", code, out)
	}
	for name := range commands {
		var first string
		for _, args := range [][]string{{"help", name}, {name, "--help"}, {name, "-h"}, {name, "help"}} {
			code, out, errOut := run(t, args...)
			if code != 0 || !strings.Contains(out, "usage") || !strings.Contains(out, name) || errOut != "" {
				t.Errorf("%v: code %d, stdout %q, stderr %q", args, code, out, errOut)
			}
			if first == "" {
				first = out
			} else if out != first {
				t.Errorf("%v: help differs from `loopat help %s`", args, name)
			}
		}
	}
	// Help of a subcommand is the command's help, also before the workspace is opened.
	for _, args := range [][]string{{"image", "build", "--help"}, {"loop", "send", "x", "-h"}, {"vault", "set", "--help"}, {"uninstall", "--yes", "-h"}} {
		code, out, errOut := run(t, args...)
		if code != 0 || !strings.Contains(out, "loopat "+args[0]) || errOut != "" {
			t.Errorf("%v: code %d, stdout %q, stderr %q", args, code, out, errOut)
		}
	}
	if code, _, errOut := run(t, "help", "frobnicate"); code != 2 || !strings.Contains(errOut, `unknown command "frobnicate"`) {
		t.Errorf("help of an unknown command: %d %q", code, errOut)
	}
}

// A bad flag or argument says what is wrong and the usage on stderr and exits 2, before
// the workspace is opened or the engine is waited for.
func TestBadFlagsExit2WithAClearError(t *testing.T) {
	t.Setenv("LOOPAT_HOME", "/nonexistent/loopat-flags-test")
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"serve", "--bogus"}, "flag provided but not defined: -bogus"},
		{[]string{"serve", "--addr"}, "flag needs an argument: -addr"},
		{[]string{"serve", "--addr", "nohost"}, `bad --addr "nohost"`},
		{[]string{"doctor", "--bogus"}, "flag provided but not defined: -bogus"},
		{[]string{"doctor", "extra"}, `unexpected argument "extra"`},
		{[]string{"doctor", "--json=maybe"}, "invalid boolean value"},
		{[]string{"version", "extra"}, `unexpected argument "extra"`},
		{[]string{"loop"}, "missing command"},
		{[]string{"loop", "frob"}, `unknown command "frob"`},
		{[]string{"image"}, "missing command"},
	} {
		code, out, errOut := run(t, c.args...)
		if code != 2 || !strings.Contains(errOut, c.want) || !strings.Contains(errOut, "usage") || out != "" {
			t.Errorf("%v: code %d, stderr %q, stdout %q; want exit 2 and %q", c.args, code, errOut, out, c.want)
		}
	}
}

func TestParseTakesFlagsAnywhere(t *testing.T) {
	var errb bytes.Buffer
	env := Env{Stdout: &errb, Stderr: &errb}
	fs := newFlags("loop new")
	repo := fs.String("repo", "", "")
	pos, _, ok := parse(fs, []string{"My", "--repo=/r", "first", "--", "--not-a-flag", "loop"}, "usage", env)
	if !ok || *repo != "/r" || strings.Join(pos, "|") != "My|first|--not-a-flag|loop" {
		t.Fatalf("%v %q %q", ok, *repo, pos)
	}
}
