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
	for _, args := range [][]string{{"serve", "--addr", "0.0.0.0:1"}, {"serve", "--addr", "10.1.2.3:80"}, {"serve", "--addr"}, {"serve", "extra"}} {
		if code, _, errOut := run(t, args...); code != 2 || errOut == "" {
			t.Errorf("%v: code %d, stderr %q", args, code, errOut)
		}
	}
	if code, _, _ := run(t, "doctor", "--bogus"); code != 2 {
		t.Errorf("doctor --bogus: %d", code)
	}
}

func TestFlagValue(t *testing.T) {
	v, rest, err := flagValue([]string{"a", "--addr=x:1", "b"}, "--addr")
	if err != nil || v != "x:1" || len(rest) != 2 {
		t.Fatalf("%q %v %v", v, rest, err)
	}
	if _, _, err := flagValue([]string{"--addr"}, "--addr"); err == nil {
		t.Fatal("missing value accepted")
	}
}
