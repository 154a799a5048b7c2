//go:build !linux

package vault

import "runtime"

var unlockFix = func() string {
	if runtime.GOOS == "darwin" {
		return "unlock the login keychain (Keychain Access > File > Unlock Keychain \"login\", or `security unlock-keychain`)"
	}
	return "unlock the OS keychain"
}()

// probeOS does a real write/read/delete round trip; on macOS a locked keychain shows
// its own unlock dialog, bounded by OpTimeout.
func probeOS(k osKeyring) error { return roundTrip(k) }

const absentFix = "loopat needs the OS keychain; it never stores secrets in plain files"
