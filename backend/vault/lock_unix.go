//go:build linux || darwin

package vault

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// lockIndex takes an exclusive advisory lock next to the index, so the app and a
// `loopat vault` CLI running at the same time do not lose each other's index updates.
func lockIndex(indexPath string) (func(), error) {
	f, err := os.OpenFile(indexPath+".lock", os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open vault index lock: %w", err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX); err != nil {
		f.Close()
		return nil, fmt.Errorf("lock vault index: %w", err)
	}
	return func() { _ = unix.Flock(int(f.Fd()), unix.LOCK_UN); f.Close() }, nil
}
