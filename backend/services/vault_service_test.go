package services

import (
	"encoding/json"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/loopat/desktop/backend/config"
	"github.com/loopat/desktop/backend/events"
	"github.com/loopat/desktop/backend/rpc"
	"github.com/loopat/desktop/backend/secrets"
	"github.com/loopat/desktop/backend/vault"
	"github.com/zalando/go-keyring"
)

func mockVault(t *testing.T) *vault.Vault {
	t.Helper()
	keyring.MockInit()
	ws, err := config.NewWorkspace(filepath.Join(t.TempDir(), "ws"))
	if err != nil {
		t.Fatal(err)
	}
	// The embedding hides OSKeyring's D-Bus probe, so Probe round-trips through the mock.
	return vault.New(ws, struct{ vault.Keyring }{vault.OSKeyring()})
}

// The service is driven the way the UI drives it: by name with JSON arguments.
func TestVaultServiceOverRPC(t *testing.T) {
	v := mockVault(t)
	bus := events.New()
	sub, cancel := bus.Subscribe(8, func(topic string) bool { return topic == "vault:changed" })
	defer cancel()
	scrub := secrets.New()
	reg := rpc.NewRegistry(NewVaultService(v, bus, scrub))
	call := func(method, args string) (any, error) {
		return reg.Call("VaultService", method, json.RawMessage(args))
	}
	if _, err := call("SetEnv", `["", "GH_TOKEN", "ghp_from_ui"]`); err != nil {
		t.Fatal(err)
	}
	if _, err := call("SetFile", `["work", ".ssh/id_ed25519", 256, "KEY DATA"]`); err != nil {
		t.Fatal(err)
	}
	if _, err := call("SetFile", `["work", "../escape", 384, "x"]`); err == nil {
		t.Fatal("path escaping the home accepted")
	}
	if _, err := call("SetFile", `["work", "x", 4095, "x"]`); err == nil {
		t.Fatal("mode with special bits accepted")
	}
	res, err := call("List", `["work"]`)
	if err != nil {
		t.Fatal(err)
	}
	items := res.([]vault.Item)
	if len(items) != 1 || items[0].Mode != 0o400 || items[0].Kind != vault.KindFile {
		t.Fatalf("List = %+v", items)
	}
	if out, _ := json.Marshal(items); strings.Contains(string(out), "KEY DATA") {
		t.Fatalf("List leaks the value: %s", out)
	}
	names, _ := call("Vaults", `[]`)
	if strings.Join(names.([]string), ",") != "default,work" {
		t.Fatalf("Vaults = %v", names)
	}
	if !scrub.Contains("token ghp_from_ui") {
		t.Fatal("scrubber did not learn the stored value")
	}
	if _, err := call("Rotate", `["", "env", "GH_TOKEN", "ghp_rotated"]`); err != nil {
		t.Fatal(err)
	}
	if got, _ := v.GetEnv("", "GH_TOKEN"); got != "ghp_rotated" {
		t.Fatalf("after rotate %q", got)
	}
	if _, err := call("Delete", `["work", "file", ".ssh/id_ed25519"]`); err != nil {
		t.Fatal(err)
	}
	if _, err := v.GetFile("work", ".ssh/id_ed25519"); !errors.Is(err, vault.ErrNotFound) {
		t.Fatalf("after delete: %v", err)
	}
	n := 0
	for timeout := time.After(2 * time.Second); n < 4; n++ {
		select {
		case <-sub:
		case <-timeout:
			t.Fatalf("got %d vault:changed events, want 4", n)
		}
	}
}

func TestVaultServiceStatus(t *testing.T) {
	v := mockVault(t)
	s := NewVaultService(v, nil, nil)
	keyring.MockInitWithError(errors.New("failed to unlock correct collection '/org/freedesktop/secrets/aliases/default'"))
	st, err := s.Status()
	if err != nil || st.OK || st.State != vault.StateLocked || st.Fix == "" {
		t.Fatalf("locked: %+v %v", st, err)
	}
	if err := s.SetEnv("", "X_TOKEN", "value"); err == nil {
		t.Fatal("SetEnv succeeded on a locked keychain")
	}
}
