//go:build integration

package loops

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/containers/podman/v5/pkg/bindings/containers"

	"github.com/loopat/desktop/backend/vault"
)

// sandboxRun runs script as the sandbox user in the loop's container and returns
// stdout; a non-zero exit fails the test.
func sandboxRun(t *testing.T, m *Manager, id, script string) string {
	t.Helper()
	p, err := m.Sandbox().Exec(context.Background(), id, agentCmd("sh", "-c", script), false, 0, 0)
	if err != nil {
		t.Fatalf("exec %q: %v", script, err)
	}
	var out, errb bytes.Buffer
	done := make(chan struct{})
	go func() { _, _ = io.Copy(&errb, p.Stderr()); close(done) }()
	_, _ = io.Copy(&out, p.Stdout())
	code, err := p.Wait()
	<-done
	if err != nil || code != 0 {
		t.Fatalf("exec %q: exit %d, %v\n%s", script, code, err, errb.String())
	}
	return out.String()
}

// deliverNow delivers the loop's secrets into its running container, as an agent start
// or terminal open does.
func deliverNow(t *testing.T, m *Manager, id string) {
	t.Helper()
	meta, err := m.Get(id)
	if err != nil {
		t.Fatal(err)
	}
	s, err := m.execEnv(id, meta, false)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.deliverSecrets(context.Background(), id, m.runFor(id), s); err != nil {
		t.Fatal(err)
	}
}

// fakeKey is a multi-line value shaped like a private key, unique per run.
func fakeKey(t *testing.T) []byte {
	b := make([]byte, 48)
	_, _ = rand.Read(b)
	h := hex.EncodeToString(b)
	return []byte("-----BEGIN OPENSSH PRIVATE KEY-----\n" + h[:48] + "\n" + h[48:] + "\n-----END OPENSSH PRIVATE KEY-----\n")
}

// hostHolds reports the files under root whose content contains needle.
func hostHolds(t *testing.T, root string, needle []byte) []string {
	t.Helper()
	var hits []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if bytes.Contains(b, needle) {
			hits = append(hits, p)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("walk %s: %v", root, err)
	}
	return hits
}

// A file secret reaches $HOME/<path> with its exact bytes and mode through a tmpfs
// symlink: never on the host (the home is a host folder) nor in the container config;
// a restarted container (empty tmpfs) gets it again, with a rotated value.
func TestFileSecretDeliveredThroughTmpfs(t *testing.T) {
	h := newHarness(t)
	key := fakeKey(t)
	if err := h.vault.SetFile("default", ".ssh/id_test", 0o600, key); err != nil {
		t.Fatal(err)
	}
	m := h.manager()
	meta, err := m.Create(CreateRequest{Title: "file secrets"})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	tty, err := m.ExecTTY(context.Background(), meta.ID, []string{"true"}, 80, 24)
	if err != nil {
		t.Fatalf("terminal: %v", err)
	}
	_, _ = io.Copy(io.Discard, tty.Stdout())
	_, _ = tty.Wait()
	t.Logf("terminal open with container start and file delivery: %s", time.Since(start).Round(time.Millisecond))

	check := func(want []byte) {
		t.Helper()
		if got := sandboxRun(t, m, meta.ID, `cat "$HOME/.ssh/id_test"`); got != string(want) {
			t.Fatalf("$HOME/.ssh/id_test = %q, want %q", got, want)
		}
		st := sandboxRun(t, m, meta.ID, `stat -L -c '%a %u' "$HOME/.ssh/id_test"; readlink "$HOME/.ssh/id_test"; stat -c %a "$HOME/.ssh"`)
		if want := "600 2000\n" + SecretsDir + "/.ssh/id_test\n700\n"; st != want {
			t.Fatalf("mode/owner/link = %q, want %q", st, want)
		}
		// Nothing under the host's LOOPAT_HOME holds the value or a line of it.
		line := bytes.Split(want, []byte("\n"))[1]
		if hits := hostHolds(t, h.ws.Home, line); len(hits) > 0 {
			t.Fatalf("the file secret is on the host's disk: %v", hits)
		}
		info, err := containers.Inspect(h.conn, m.Sandbox().ContainerName(meta.ID), nil)
		if err != nil {
			t.Fatal(err)
		}
		js, _ := json.Marshal(info)
		if bytes.Contains(js, line) {
			t.Fatal("podman inspect shows the file secret")
		}
		if !strings.Contains(string(js), SecretsDir) {
			t.Fatalf("container has no %s tmpfs", SecretsDir)
		}
	}
	check(key)
	// What a delivery costs on a running container (it runs at every agent start and
	// terminal open).
	const n = 5
	t0 := time.Now()
	for i := 0; i < n; i++ {
		deliverNow(t, m, meta.ID)
	}
	t.Logf("file secret delivery on a running container: %s mean over %d", (time.Since(t0) / n).Round(time.Millisecond), n)
	check(key)
	// The link in the host folder is only a symlink.
	if target, err := os.Readlink(filepath.Join(m.Store().HomeDir(meta.ID), ".ssh", "id_test")); err != nil || target != SecretsDir+"/.ssh/id_test" {
		t.Fatalf("host home entry: %q, %v", target, err)
	}

	// Rotate, restart the container: the tmpfs is empty, the next use delivers again.
	rotated := fakeKey(t)
	if err := h.vault.SetFile("default", ".ssh/id_test", 0o600, rotated); err != nil {
		t.Fatal(err)
	}
	if err := m.Sandbox().Stop(context.Background(), meta.ID); err != nil {
		t.Fatal(err)
	}
	tty, err = m.ExecTTY(context.Background(), meta.ID, []string{"true"}, 80, 24)
	if err != nil {
		t.Fatalf("terminal after restart: %v", err)
	}
	_, _ = io.Copy(io.Discard, tty.Stdout())
	_, _ = tty.Wait()
	check(rotated)
	if out := sandboxRun(t, m, meta.ID, `grep -c . "$HOME/.ssh/id_test" || true`); strings.TrimSpace(out) != "4" {
		t.Fatalf("rotated key has %q lines", out)
	}
	// A secret deleted from the vault is gone from the tmpfs at the next delivery.
	if err := h.vault.DeleteFile("default", ".ssh/id_test"); err != nil {
		t.Fatal(err)
	}
	deliverNow(t, m, meta.ID)
	// Only the env file (the harness vault's env secret) is left.
	if out := sandboxRun(t, m, meta.ID, `ls -A `+SecretsDir+`; [ -e "$HOME/.ssh/id_test" ] && echo still-there || true`); out != vault.EnvFile+"\n" {
		t.Fatalf("after deleting the secret: %q", out)
	}
}
