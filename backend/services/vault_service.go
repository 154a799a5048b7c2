package services

import (
	"errors"
	"fmt"
	"io/fs"

	"github.com/loopat/desktop/backend/events"
	"github.com/loopat/desktop/backend/rpc"
	"github.com/loopat/desktop/backend/secrets"
	"github.com/loopat/desktop/backend/vault"
)

// KeychainStatus tells the UI whether secrets can be stored, and how to fix it if not.
type KeychainStatus struct {
	OK      bool   `json:"ok"`
	State   string `json:"state"` // ok, locked, absent, error
	Message string `json:"message,omitempty"`
	Fix     string `json:"fix,omitempty"`
}

// VaultService manages vault secrets from the UI. Values go in, never come out: the UI
// lists names and metadata only. Changes are announced as "vault:changed" events.
type VaultService struct {
	v     *vault.Vault
	pub   events.Publisher  // may be nil
	scrub *secrets.Scrubber // learns every stored value; may be nil
}

// NewVaultService wires the vault, the event bus and the app's scrubber (both optional).
func NewVaultService(v *vault.Vault, pub events.Publisher, scrub *secrets.Scrubber) *VaultService {
	return &VaultService{v: v, pub: pub, scrub: scrub}
}

// Vaults lists vault names ("default" first).
func (s *VaultService) Vaults() ([]string, error) { return s.v.Vaults() }

// List returns the secrets of a vault ("" = default, "*" = all), without values.
func (s *VaultService) List(vaultName string) ([]vault.Item, error) {
	items, err := s.v.List(vaultName)
	return items, vaultError(err)
}

// SetEnv stores or replaces an env secret.
func (s *VaultService) SetEnv(vaultName, name, value string) error {
	if err := vault.CheckEnvName(name); err != nil {
		return rpc.Invalid(err.Error(), envNameHint, err)
	}
	if value == "" {
		return rpc.Invalid("The value is empty.", "Type or paste the secret's value.", nil)
	}
	if err := s.v.SetEnv(vaultName, name, value); err != nil {
		return vaultError(err)
	}
	s.changed(vaultName, value)
	return nil
}

// SetFile stores or replaces a file secret at path (relative to the sandbox home) with
// permission bits mode (e.g. 384 = 0o600; 0 means 0o600).
func (s *VaultService) SetFile(vaultName, path string, mode int, value string) error {
	if mode < 0 || mode > 0o777 {
		return rpc.Invalid(fmt.Sprintf("The file mode %#o is not valid.", mode),
			"Use permission bits between 0000 and 0777, such as 0600 (owner read and write).", nil)
	}
	if err := vault.CheckFilePath(path); err != nil {
		return rpc.Invalid(err.Error(), filePathHint, err)
	}
	if value == "" {
		return rpc.Invalid("The file content is empty.", "Paste the file's contents or load the file.", nil)
	}
	if err := s.v.SetFile(vaultName, path, fs.FileMode(mode), []byte(value)); err != nil {
		return vaultError(err)
	}
	s.changed(vaultName, value)
	return nil
}

// Rotate replaces the value of an existing secret (kind "env" or "file"), keeping its metadata.
func (s *VaultService) Rotate(vaultName, kind, name, value string) error {
	if err := checkKindName(kind, name); err != nil {
		return err
	}
	if value == "" {
		return rpc.Invalid("The value is empty.", "Type or paste the secret's new value.", nil)
	}
	if err := s.v.Rotate(vaultName, kind, name, value); err != nil {
		return vaultError(err)
	}
	s.changed(vaultName, value)
	return nil
}

// Delete removes a secret (kind "env" or "file").
func (s *VaultService) Delete(vaultName, kind, name string) error {
	if err := checkKindName(kind, name); err != nil {
		return err
	}
	if err := s.v.Delete(vaultName, kind, name); err != nil {
		return vaultError(err)
	}
	s.changed(vaultName, "")
	return nil
}

// Status probes the OS keychain.
func (s *VaultService) Status() (KeychainStatus, error) {
	err := s.v.Probe()
	if err == nil {
		return KeychainStatus{OK: true, State: vault.StateOK}, nil
	}
	var ke *vault.KeychainError
	if errors.As(err, &ke) {
		return KeychainStatus{State: ke.State, Message: ke.Error(), Fix: ke.Fix}, nil
	}
	return KeychainStatus{State: vault.StateError, Message: err.Error()}, nil
}

func (s *VaultService) changed(vaultName, value string) {
	if s.scrub != nil && value != "" {
		s.scrub.Add(value) // old values stay masked too
	}
	if s.pub != nil {
		if vaultName == "" {
			vaultName = vault.DefaultVault
		}
		s.pub.Publish(events.TopicVaultChanged, map[string]string{"vault": vaultName})
	}
}

const (
	envNameHint  = "An environment variable name uses letters, digits and _ and does not start with a digit, e.g. GITHUB_TOKEN."
	filePathHint = "Give a path relative to the sandbox home, e.g. .config/gh/hosts.yml."
)

// checkKindName types a bad kind or name as the caller's mistake (400 with a hint).
func checkKindName(kind, name string) error {
	switch kind {
	case vault.KindEnv:
		if err := vault.CheckEnvName(name); err != nil {
			return rpc.Invalid(err.Error(), envNameHint, err)
		}
	case vault.KindFile:
		if err := vault.CheckFilePath(name); err != nil {
			return rpc.Invalid(err.Error(), filePathHint, err)
		}
	default:
		return rpc.Invalid(fmt.Sprintf("%q is not a kind of secret.", kind),
			fmt.Sprintf("Use %q or %q.", vault.KindEnv, vault.KindFile), nil)
	}
	return nil
}

// vaultError types the vault's failures for the transports: a missing secret is 404 and a
// locked or absent keychain 409 with its fix as the hint; the rest stay the app's (500).
func vaultError(err error) error {
	var ke *vault.KeychainError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &ke):
		return rpc.Conflict(ke.Error(), ke.Fix, err)
	case errors.Is(err, vault.ErrNotFound):
		return rpc.NotFound("That secret is not in the vault.", "Reload the list: it may have been deleted.", err)
	}
	return err
}
