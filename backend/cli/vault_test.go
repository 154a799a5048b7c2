package cli

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"

	"github.com/zalando/go-keyring"

	"github.com/loopat/desktop/backend/config"
	"github.com/loopat/desktop/backend/services"
	"github.com/loopat/desktop/backend/vault"
)

// newTestVaultService is the UI's vault service over a vault in a temp workspace whose
// keychain is go-keyring's in-memory mock.
func newTestVaultService(t *testing.T) (*vault.Vault, *services.VaultService) {
	t.Helper()
	keyring.MockInit()
	ws, err := config.NewWorkspace(filepath.Join(t.TempDir(), "ws"))
	if err != nil {
		t.Fatal(err)
	}
	v := vault.New(ws, vault.OSKeyring())
	return v, services.NewVaultService(v, nil, nil)
}

// runVaultCLI parses args as `loopat vault` does and runs them over svc.
func runVaultCLI(svc vaultAPI, env Env, args ...string) int {
	req, code, ok := parseVault(args, env)
	if !ok {
		return code
	}
	return vaultCLI{svc: svc}.run(req, env)
}

// `loopat vault` over the real vault service: values from stdin only, listed never.
func TestVaultCLIOverTheVaultService(t *testing.T) {
	v, svc := newTestVaultService(t)
	run := func(stdin string, args ...string) (int, string, string) {
		var out, errOut bytes.Buffer
		code := runVaultCLI(svc, Env{Stdin: strings.NewReader(stdin), Stdout: &out, Stderr: &errOut}, args...)
		return code, out.String(), errOut.String()
	}
	if code, _, e := run("s3cret\n", "set", "API_TOKEN"); code != 0 {
		t.Fatalf("set: %d %s", code, e)
	}
	if got, _ := v.GetEnv("", "API_TOKEN"); got != "s3cret" {
		t.Fatalf("stored %q (newline must be trimmed)", got)
	}
	// Flags after the positional arguments, too.
	if code, _, e := run("key\nmaterial\n", "set", "--file", ".ssh/id_ed25519", "--vault", "ci", "--mode", "0400"); code != 0 {
		t.Fatalf("set --file: %d %s", code, e)
	}
	if f, _ := v.GetFile("ci", ".ssh/id_ed25519"); string(f.Value) != "key\nmaterial\n" || f.Mode != 0o400 {
		t.Fatalf("file secret %+v", f)
	}
	if code, _, e := run("cfg", "set", "-f", ".config/x.yml"); code != 0 {
		t.Fatalf("set -f: %d %s", code, e)
	}
	if f, _ := v.GetFile("", ".config/x.yml"); string(f.Value) != "cfg" || f.Mode != 0o600 {
		t.Fatalf("file secret with -f %+v", f)
	}
	code, out, _ := run("", "ls", "--all")
	if code != 0 || !strings.Contains(out, "API_TOKEN") || !strings.Contains(out, "0400") || strings.Contains(out, "s3cret") || strings.Contains(out, "material") {
		t.Fatalf("ls: %d\n%s", code, out)
	}
	if code, out, _ := run("", "ls", "ci"); code != 0 || strings.Contains(out, "API_TOKEN") || !strings.Contains(out, "id_ed25519") {
		t.Fatalf("ls ci: %d\n%s", code, out)
	}
	if code, out, _ := run("", "vaults"); code != 0 || !strings.Contains(out, "default") || !strings.Contains(out, "ci") {
		t.Fatalf("vaults: %d %q", code, out)
	}
	if code, _, _ := run("rotated", "rotate", "API_TOKEN"); code != 0 {
		t.Fatal("rotate failed")
	}
	if got, _ := v.GetEnv("", "API_TOKEN"); got != "rotated" {
		t.Fatalf("after rotate %q", got)
	}
	if code, _, e := run("", "set", "API_TOKEN", "value-on-argv"); code != 2 || !strings.Contains(e, "never from the command line") {
		t.Fatalf("value on argv: %d %s", code, e)
	}
	if code, _, e := run("", "set", "EMPTY"); code != 1 || !strings.Contains(e, "empty value on stdin") {
		t.Fatalf("empty stdin: %d %q", code, e)
	}
	// A bad name is refused before the value is read.
	if code, _, e := run("value", "set", "1BAD"); code != 1 || !strings.Contains(e, "loopat vault set:") {
		t.Fatalf("bad name: %d %q", code, e)
	}
	if code, _, e := run("", "rm", "--vault", "ci", "--file", ".ssh/id_ed25519"); code != 0 {
		t.Fatalf("rm: %s", e)
	}
	if code, _, _ := run("", "rm", "API_TOKEN"); code != 0 {
		t.Fatal("rm env failed")
	}
	// The service's message and hint, as the UI shows them.
	if code, _, e := run("", "rm", "API_TOKEN"); code != 1 || !strings.Contains(e, "not in the vault") || !strings.Contains(e, "\nhint: ") {
		t.Fatalf("rm of a missing secret: %d %q", code, e)
	}
	if _, err := v.GetEnv("", "API_TOKEN"); err == nil {
		t.Fatal("secret still there")
	}
}

// Bad command lines of `loopat vault` exit 2 with the problem and the usage on stderr,
// before the workspace or the keychain is touched (LOOPAT_HOME points nowhere usable).
func TestVaultBadCommandLines(t *testing.T) {
	t.Setenv("LOOPAT_HOME", "/nonexistent/loopat-vault-flags-test")
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"vault"}, "missing command"},
		{[]string{"vault", "frobnicate"}, `unknown command "frobnicate"`},
		{[]string{"vault", "ls", "--bogus"}, "flag provided but not defined: -bogus"},
		{[]string{"vault", "ls", "a", "b"}, "at most one vault name"},
		{[]string{"vault", "vaults", "x"}, `unexpected argument "x"`},
		{[]string{"vault", "status", "--all"}, "flag provided but not defined: -all"},
		{[]string{"vault", "set"}, "give NAME, or --file PATH"},
		{[]string{"vault", "set", "--vault"}, "flag needs an argument: -vault"},
		{[]string{"vault", "set", "A", "value"}, "never from the command line"},
		{[]string{"vault", "set", "A", "--mode", "0600"}, "--mode applies to file secrets only"},
		{[]string{"vault", "set", "--file", ".x", "--mode", "999"}, `--mode "999"`},
		{[]string{"vault", "rotate", "--file", ".x", "--mode", "0600"}, "rotate keeps the mode"},
		{[]string{"vault", "rm", "--mode", "0600", "A"}, "flag provided but not defined: -mode"},
		{[]string{"vault", "rm", "--file", ".x", "A"}, "give NAME, or --file PATH"},
	} {
		code, out, errOut := run(t, c.args...)
		if code != 2 || !strings.Contains(errOut, c.want) || !strings.Contains(errOut, "usage: loopat vault") || out != "" {
			t.Errorf("%v: code %d, stderr %q, stdout %q; want exit 2 and %q", c.args, code, errOut, out, c.want)
		}
	}
}
