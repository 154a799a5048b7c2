package vault

import (
	"fmt"

	"github.com/godbus/dbus/v5"
)

const (
	unlockFix = "unlock the login keyring (log in to a desktop session, or run `gnome-keyring-daemon --unlock` and type your password)"
	absentFix = "install and start a Secret Service provider (e.g. `apt install gnome-keyring` or KeePassXC with Secret Service enabled) in a D-Bus session; loopat never stores secrets in plain files"
)

// probeOS inspects the Secret Service over D-Bus without triggering an unlock prompt,
// then does a real write/read/delete round trip.
func probeOS(k osKeyring) error {
	conn, err := dbus.SessionBus()
	if err != nil {
		return &KeychainError{State: StateAbsent, Msg: "no D-Bus session bus", Fix: absentFix, Err: err}
	}
	var hasOwner bool
	_ = conn.BusObject().Call("org.freedesktop.DBus.NameHasOwner", 0, "org.freedesktop.secrets").Store(&hasOwner)
	if !hasOwner {
		var activatable []string
		_ = conn.BusObject().Call("org.freedesktop.DBus.ListActivatableNames", 0).Store(&activatable)
		found := false
		for _, n := range activatable {
			found = found || n == "org.freedesktop.secrets"
		}
		if !found {
			return &KeychainError{State: StateAbsent, Msg: "no Secret Service (org.freedesktop.secrets) on the session bus", Fix: absentFix}
		}
	}
	svc := conn.Object("org.freedesktop.secrets", "/org/freedesktop/secrets")
	var coll dbus.ObjectPath
	if err := svc.Call("org.freedesktop.Secret.Service.ReadAlias", 0, "default").Store(&coll); err != nil {
		return &KeychainError{State: StateError, Msg: "Secret Service does not answer", Fix: absentFix, Err: err}
	}
	if coll == "/" || coll == "" {
		return &KeychainError{State: StateAbsent, Msg: "the Secret Service has no default keyring", Fix: "create a default (login) keyring, e.g. with Seahorse (\"Passwords and Keys\")"}
	}
	locked, err := conn.Object("org.freedesktop.secrets", coll).GetProperty("org.freedesktop.Secret.Collection.Locked")
	if err != nil {
		return &KeychainError{State: StateError, Msg: "read keyring state", Fix: absentFix, Err: err}
	}
	if b, ok := locked.Value().(bool); ok && b {
		return &KeychainError{State: StateLocked, Msg: fmt.Sprintf("the default keyring (%s) is locked", coll), Fix: unlockFix}
	}
	return roundTrip(k)
}
