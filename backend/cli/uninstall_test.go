package cli

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/zalando/go-keyring"

	"github.com/loopat/desktop/backend/config"
	"github.com/loopat/desktop/backend/services"
	"github.com/loopat/desktop/backend/uninstall"
	"github.com/loopat/desktop/backend/vault"
)

// uninstallFixture is a workspace with a loop, context files and one secret; podman is
// unreachable (conn), so the podman steps are skipped and reported.
func uninstallFixture(t *testing.T, conn func(context.Context) (context.Context, error)) (uninstall.Deps, *vault.Vault) {
	t.Helper()
	keyring.MockInit()
	ws, err := config.NewWorkspace(filepath.Join(t.TempDir(), ".ws"))
	if err != nil {
		t.Fatal(err)
	}
	if err := ws.Ensure(); err != nil {
		t.Fatal(err)
	}
	for path, content := range map[string]string{
		ws.ConfigPath(): "[ui]\n",
		filepath.Join(ws.LoopsDir(), "abc123", "meta.json"):          `{"id":"abc123"}`,
		filepath.Join(ws.LoopsDir(), "abc123", "workdir", "main.go"): "package main\n",
		filepath.Join(ws.Home, "context", "notes.md"):                "# notes\n",
	} {
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	v := vault.New(ws, vault.OSKeyring())
	if err := v.SetEnv("", "API_TOKEN", "s3cret-value"); err != nil {
		t.Fatal(err)
	}
	if conn == nil {
		conn = func(context.Context) (context.Context, error) { return nil, errors.New("no podman in unit tests") }
	}
	return uninstall.Deps{Workspace: ws, Conn: conn, Keychain: v, GOOS: "darwin"}, v
}

// runUninstallCLI runs `loopat uninstall ARGS` over the UI's uninstall service.
func runUninstallCLI(t *testing.T, d uninstall.Deps, stdin string, interactive bool, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	env := Env{Stdin: strings.NewReader(stdin), Stdout: &out, Stderr: &errOut}
	req, code, ok := parseUninstall(args, env)
	if !ok {
		return code, out.String(), errOut.String()
	}
	d.Conn = uninstall.OnceConn(d.Conn)
	u := newUninstallCLI(func(pub *uninstallEvents) uninstallAPI {
		return services.NewUninstallService(context.Background(), d, pub)
	}, d.Workspace.Name, env)
	code = u.run(req, env, interactive)
	return code, out.String(), errOut.String()
}

func secretsLeft(t *testing.T, v *vault.Vault) int {
	t.Helper()
	items, _ := v.List("*")
	return len(items)
}

func TestUninstallNonInteractiveWithoutYesRemovesNothing(t *testing.T) {
	d, v := uninstallFixture(t, nil)
	code, out, errOut := runUninstallCLI(t, d, d.Workspace.Name+"\n", false)
	if code != exitNotConfirmed || !strings.Contains(errOut, "not a terminal and --yes not given: nothing removed") {
		t.Fatalf("exit %d, stderr %q", code, errOut)
	}
	if !strings.Contains(out, "Keychain items (1") {
		t.Fatalf("plan not printed:\n%s", out)
	}
	if _, err := os.Stat(d.Workspace.ConfigPath()); err != nil || secretsLeft(t, v) != 1 {
		t.Fatalf("refusal removed something: %v, %d secrets", err, secretsLeft(t, v))
	}
}

func TestUninstallConfirmationAndDryRun(t *testing.T) {
	d, v := uninstallFixture(t, nil)
	// A prefix of the name, or another workspace's name, does not confirm.
	for _, typed := range []string{"w\n", d.Workspace.Name + "2\n", "\n", "yes\n"} {
		code, out, _ := runUninstallCLI(t, d, typed, true)
		if code != exitNotConfirmed || !strings.Contains(out, "Cancelled: nothing removed.") {
			t.Fatalf("typed %q: exit %d\n%s", typed, code, out)
		}
	}
	if code, out, _ := runUninstallCLI(t, d, "", false, "--dry-run"); code != exitOK || !strings.Contains(out, "Dry run: nothing was changed.") {
		t.Fatalf("dry run exit %d\n%s", code, out)
	}
	if _, err := os.Stat(filepath.Join(d.Workspace.Home, "context", "notes.md")); err != nil || secretsLeft(t, v) != 1 {
		t.Fatalf("a refused or dry run removed something: %v", err)
	}
	// Confirmed (blanks around the name are fine): podman is unreachable, so the run is
	// incomplete (exit 1), and the rest went.
	code, out, _ := runUninstallCLI(t, d, "  "+d.Workspace.Name+" \n", true)
	if code != exitFailed || !strings.Contains(out, "... ") || !strings.Contains(out, "[done] data") || secretsLeft(t, v) != 0 {
		t.Fatalf("exit %d:\n%s", code, out)
	}
	if _, err := os.Stat(filepath.Join(d.Workspace.Home, "context")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("context files left: %v", err)
	}
}

// --keep-data keeps the files; an engine that answers slowly is waited for once, not once
// for the plan and once for the run.
func TestUninstallYesKeepDataWaitsForTheEngineOnce(t *testing.T) {
	calls := 0
	d, v := uninstallFixture(t, func(context.Context) (context.Context, error) {
		calls++
		time.Sleep(200 * time.Millisecond)
		return nil, errors.New("connection refused")
	})
	code, out, errOut := runUninstallCLI(t, d, "", false, "--keep-data", "-y")
	if code != exitFailed || calls != 1 {
		t.Fatalf("exit %d with %d engine waits\n%s%s", code, calls, out, errOut)
	}
	if !strings.Contains(out, "run `loopat uninstall` again to finish") {
		t.Errorf("output does not say what is left:\n%s", out)
	}
	if secretsLeft(t, v) != 0 {
		t.Fatal("secrets left")
	}
	if _, err := os.Stat(filepath.Join(d.Workspace.Home, "context", "notes.md")); err != nil {
		t.Fatalf("--keep-data removed the context files: %v", err)
	}
}

// Bad command lines of `loopat uninstall` exit 2 with the problem and the usage on
// stderr, before the workspace is opened (LOOPAT_HOME points nowhere usable).
func TestUninstallBadCommandLines(t *testing.T) {
	t.Setenv("LOOPAT_HOME", "/nonexistent/loopat-uninstall-flags-test")
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"uninstall", "--bogus"}, "flag provided but not defined: -bogus"},
		{[]string{"uninstall", "extra"}, `unexpected argument "extra"`},
		{[]string{"uninstall", "--yes=maybe"}, "invalid boolean value"},
		{[]string{"uninstall", "--dry-run", "now"}, `unexpected argument "now"`},
	} {
		code, out, errOut := run(t, c.args...)
		if code != 2 || !strings.Contains(errOut, "loopat uninstall: ") || !strings.Contains(errOut, c.want) || !strings.Contains(errOut, "usage: loopat uninstall") || out != "" {
			t.Errorf("%v: code %d, stderr %q, stdout %q; want exit 2 and %q", c.args, code, errOut, out, c.want)
		}
	}
}
