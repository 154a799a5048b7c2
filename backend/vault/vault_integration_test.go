//go:build integration

package vault

// These tests talk to a real Secret Service. The Makefile runs them through
// scripts/test/with-keyring.sh (private D-Bus session + unlocked gnome-keyring).

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/godbus/dbus/v5"
	"github.com/loopat/desktop/backend/config"
	"github.com/zalando/go-keyring"
)

func requireSecretService(t *testing.T) {
	t.Helper()
	if os.Getenv("DBUS_SESSION_BUS_ADDRESS") == "" {
		t.Fatal("no D-Bus session: run integration tests through scripts/test/with-keyring.sh")
	}
	if err := OSKeyring().(osKeyring).Probe(); err != nil {
		t.Fatalf("Secret Service not usable: %v", err)
	}
	// Prove go-keyring talks to the real daemon (not a mock): the item is visible over raw D-Bus.
	const svc = "loopat:integration-check"
	if err := keyring.Set(svc, "x", "y"); err != nil {
		t.Fatal(err)
	}
	defer keyring.Delete(svc, "x")
	if n := countItems(t, svc); n != 1 {
		t.Fatalf("go-keyring is not backed by the Secret Service (%d items over D-Bus)", n)
	}
}

func countItems(t *testing.T, service string) int {
	t.Helper()
	conn, err := dbus.SessionBus()
	if err != nil {
		t.Fatal(err)
	}
	var unlocked, locked []dbus.ObjectPath
	err = conn.Object("org.freedesktop.secrets", "/org/freedesktop/secrets").
		Call("org.freedesktop.Secret.Service.SearchItems", 0, map[string]string{"service": service}).Store(&unlocked, &locked)
	if err != nil {
		t.Fatal(err)
	}
	return len(unlocked) + len(locked)
}

func realVault(t *testing.T, dir string) *Vault {
	t.Helper()
	ws, err := config.NewWorkspace(filepath.Join(t.TempDir(), dir))
	if err != nil {
		t.Fatal(err)
	}
	v := New(ws, OSKeyring())
	t.Cleanup(func() { _ = v.Purge() })
	return v
}

func TestSecretServiceSetGetRotateDelete(t *testing.T) {
	requireSecretService(t)
	v := realVault(t, ".loopat")
	if err := v.SetEnv("", "GH_TOKEN", "ghp_real_1"); err != nil {
		t.Fatal(err)
	}
	if err := v.SetFile("", ".ssh/id_ed25519", 0o600, []byte("-----BEGIN KEY-----\nline\n")); err != nil {
		t.Fatal(err)
	}
	if got, err := v.GetEnv("", "GH_TOKEN"); err != nil || got != "ghp_real_1" {
		t.Fatalf("GetEnv = %q, %v", got, err)
	}
	svc, _ := v.ServiceName()
	// The item is a real Secret Service item under the workspace's service name.
	if got, err := keyring.Get(svc, "default/env/GH_TOKEN"); err != nil || got != "ghp_real_1" {
		t.Fatalf("raw keychain item: %q, %v", got, err)
	}
	if err := v.Rotate("", KindEnv, "GH_TOKEN", "ghp_real_2"); err != nil {
		t.Fatal(err)
	}
	if got, _ := v.GetEnv("", "GH_TOKEN"); got != "ghp_real_2" {
		t.Fatalf("after rotate %q", got)
	}
	f, err := v.GetFile("", ".ssh/id_ed25519")
	if err != nil || string(f.Value) != "-----BEGIN KEY-----\nline\n" {
		t.Fatalf("file secret: %+v %v", f, err)
	}
	if err := v.DeleteEnv("", "GH_TOKEN"); err != nil {
		t.Fatal(err)
	}
	if _, err := keyring.Get(svc, "default/env/GH_TOKEN"); !errors.Is(err, keyring.ErrNotFound) {
		t.Fatalf("item survived delete: %v", err)
	}
}

func TestSecretServiceTwoWorkspacesIsolated(t *testing.T) {
	requireSecretService(t)
	a, b := realVault(t, ".loopat"), realVault(t, ".loopat") // same workspace name, different homes
	if err := a.SetEnv("", "TOKEN", "value-of-a"); err != nil {
		t.Fatal(err)
	}
	if err := b.SetEnv("", "TOKEN", "value-of-b"); err != nil {
		t.Fatal(err)
	}
	if got, _ := a.GetEnv("", "TOKEN"); got != "value-of-a" {
		t.Fatalf("a reads %q", got)
	}
	sa, _ := a.ServiceName()
	if err := a.Purge(); err != nil {
		t.Fatal(err)
	}
	if _, err := keyring.Get(sa, "default/env/TOKEN"); !errors.Is(err, keyring.ErrNotFound) {
		t.Fatalf("a's item survived purge: %v", err)
	}
	if got, err := b.GetEnv("", "TOKEN"); err != nil || got != "value-of-b" {
		t.Fatalf("b after purging a: %q %v", got, err)
	}
}

func TestSecretServiceLargeValue(t *testing.T) {
	requireSecretService(t)
	v := realVault(t, "big")
	big := make([]byte, 100*1024)
	for i := range big {
		big[i] = byte('a' + i%26)
	}
	start := time.Now()
	if err := v.SetFile("", "data/blob", 0o600, big); err != nil {
		t.Fatal(err)
	}
	setDur := time.Since(start)
	svc, _ := v.ServiceName()
	if n, want := countItems(t, svc), (len(big)+ChunkSize-1)/ChunkSize+1; n != want {
		t.Fatalf("%d keychain items for 100 KiB, want %d (chunks + manifest)", n, want)
	}
	start = time.Now()
	f, err := v.GetFile("", "data/blob")
	if err != nil || !bytes.Equal(f.Value, big) {
		t.Fatalf("100 KiB round trip: %v (len %d)", err, len(f.Value))
	}
	t.Logf("100 KiB in %d items: set %s, get %s", (len(big)+ChunkSize-1)/ChunkSize+1, setDur, time.Since(start))
	if err := v.DeleteFile("", "data/blob"); err != nil {
		t.Fatal(err)
	}
	if n := countItems(t, svc); n != 0 {
		t.Fatalf("%d keychain items left after delete", n)
	}
}

// TestSecretServiceLocked runs the helper below in a fresh keyring session (via
// with-keyring.sh) so locking the keyring does not disturb the other tests.
func TestSecretServiceLocked(t *testing.T) {
	requireSecretService(t)
	script, err := filepath.Abs("../../scripts/test/with-keyring.sh")
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(script, os.Args[0], "-test.run", "^TestLockedKeychainHelper$", "-test.v")
	cmd.Env = append(os.Environ(), "LOOPAT_LOCKED_HELPER=1")
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "--- PASS: TestLockedKeychainHelper") {
		t.Fatalf("locked keychain helper failed: %v\n%s", err, out)
	}
	t.Logf("%s", out)
}

func TestLockedKeychainHelper(t *testing.T) {
	if os.Getenv("LOOPAT_LOCKED_HELPER") == "" {
		t.Skip("runs only inside TestSecretServiceLocked's private keyring session")
	}
	conn, err := dbus.SessionBus()
	if err != nil {
		t.Fatal(err)
	}
	svc := conn.Object("org.freedesktop.secrets", "/org/freedesktop/secrets")
	var coll dbus.ObjectPath
	if err := svc.Call("org.freedesktop.Secret.Service.ReadAlias", 0, "default").Store(&coll); err != nil {
		t.Fatal(err)
	}
	var lockedPaths []dbus.ObjectPath
	var prompt dbus.ObjectPath
	if err := svc.Call("org.freedesktop.Secret.Service.Lock", 0, []dbus.ObjectPath{coll}).Store(&lockedPaths, &prompt); err != nil {
		t.Fatal(err)
	}
	kr := osKeyring{timeout: 5 * time.Second}
	var ke *KeychainError
	if err := kr.Probe(); !errors.As(err, &ke) || ke.State != StateLocked || !strings.Contains(ke.Fix, "unlock") {
		t.Fatalf("Probe on a locked keyring = %v", err)
	}
	ws, err := config.NewWorkspace(filepath.Join(t.TempDir(), "locked"))
	if err != nil {
		t.Fatal(err)
	}
	v := New(ws, kr)
	start := time.Now()
	err = v.SetEnv("", "TOKEN", "must-not-touch-disk")
	if !errors.As(err, &ke) || ke.State != StateLocked || ke.Fix == "" {
		t.Fatalf("SetEnv on a locked keyring = %v, want a locked KeychainError", err)
	}
	t.Logf("SetEnv on locked keyring after %s: %v", time.Since(start), err)
	// Nothing reached the disk: no index, and no file anywhere under the workspace holds the value.
	_ = filepath.Walk(filepath.Dir(ws.Home), func(p string, info os.FileInfo, err error) error {
		if err == nil && !info.IsDir() {
			data, _ := os.ReadFile(p)
			if bytes.Contains(data, []byte("must-not-touch-disk")) {
				t.Errorf("value written to %s", p)
			}
		}
		return nil
	})
	if _, err := os.Stat(v.IndexPath()); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("index written on a locked keyring: %v", err)
	}
}
