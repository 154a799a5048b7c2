package vault

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/zalando/go-keyring"
)

// Keyring is the part of the OS keychain the vault uses: one secret per (service, account).
// OSKeyring() is the real one; unit tests call keyring.MockInit() and use OSKeyring() too.
type Keyring interface {
	Set(service, account, value string) error
	Get(service, account string) (string, error)
	Delete(service, account string) error
}

// ErrNotFound is returned when a secret is absent from the index or the keychain.
var ErrNotFound = errors.New("secret not found")

// OpTimeout bounds one keychain call: a locked Secret Service collection asks a
// prompter to unlock it, and with no prompter go-keyring would wait forever.
const OpTimeout = 20 * time.Second

// OSKeyring returns the keychain of this OS (macOS Keychain, Secret Service on Linux)
// through go-keyring, with every call bounded by OpTimeout.
func OSKeyring() Keyring { return osKeyring{timeout: OpTimeout} }

type osKeyring struct{ timeout time.Duration }

func (k osKeyring) Set(service, account, value string) error {
	_, err := k.do(func() (string, error) { return "", keyring.Set(service, account, value) })
	return err
}

func (k osKeyring) Get(service, account string) (string, error) {
	return k.do(func() (string, error) { return keyring.Get(service, account) })
}

func (k osKeyring) Delete(service, account string) error {
	_, err := k.do(func() (string, error) { return "", keyring.Delete(service, account) })
	return err
}

// DeleteAll removes every item of service, including ones the index lost track of.
func (k osKeyring) DeleteAll(service string) error {
	_, err := k.do(func() (string, error) { return "", keyring.DeleteAll(service) })
	return err
}

// Probe reports whether the keychain can be used right now (see probe_*.go).
func (k osKeyring) Probe() error { return probeOS(k) }

func (k osKeyring) do(op func() (string, error)) (string, error) {
	type result struct {
		v   string
		err error
	}
	ch := make(chan result, 1)
	go func() { v, err := op(); ch <- result{v, err} }() // abandoned on timeout: go-keyring has no cancel
	select {
	case r := <-ch:
		return r.v, classify(r.err)
	case <-time.After(k.timeout):
		return "", &KeychainError{State: StateLocked,
			Msg: fmt.Sprintf("the keychain did not answer within %s (it is probably locked and waiting for an unlock prompt)", k.timeout),
			Fix: unlockFix}
	}
}

// classify turns go-keyring's errors into ErrNotFound or a *KeychainError with a fix.
func classify(err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, keyring.ErrNotFound) {
		return ErrNotFound
	}
	msg := err.Error()
	switch {
	case strings.Contains(msg, "unlock") || strings.Contains(msg, "IsLocked"):
		return &KeychainError{State: StateLocked, Msg: "the keychain is locked", Fix: unlockFix, Err: err}
	case strings.Contains(msg, "DBUS_SESSION_BUS_ADDRESS") || strings.Contains(msg, "ServiceUnknown") ||
		strings.Contains(msg, "was not provided by any .service files") || strings.Contains(msg, "NoSuchObject"):
		return &KeychainError{State: StateAbsent, Msg: "no usable OS keychain", Fix: absentFix, Err: err}
	}
	return err
}

// Keychain states reported by Probe.
const (
	StateOK     = "ok"
	StateLocked = "locked"
	StateAbsent = "absent"
	StateError  = "error"
)

// KeychainError says why the keychain cannot be used and how to fix it.
type KeychainError struct {
	State string // StateLocked, StateAbsent or StateError
	Msg   string
	Fix   string
	Err   error
}

func (e *KeychainError) Error() string {
	s := "keychain " + e.State + ": " + e.Msg
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

func (e *KeychainError) Unwrap() error { return e.Err }

// roundTrip writes, reads back and deletes a throwaway item.
func roundTrip(k Keyring) error {
	const svc, acct = "loopat:probe", "probe"
	if err := k.Set(svc, acct, "probe"); err != nil {
		var ke *KeychainError
		if errors.As(err, &ke) {
			return ke
		}
		return &KeychainError{State: StateError, Msg: "write a test item", Fix: unlockFix, Err: err}
	}
	got, err := k.Get(svc, acct)
	_ = k.Delete(svc, acct)
	if err != nil || got != "probe" {
		return &KeychainError{State: StateError, Msg: "read back a test item", Fix: unlockFix, Err: err}
	}
	return nil
}
