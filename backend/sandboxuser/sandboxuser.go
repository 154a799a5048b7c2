// Package sandboxuser is who the agent is inside every sandbox (uid/gid 2000, the image's
// loopat user) and how host folders mounted into a sandbox become that user's: when the
// app runs as root (rootful podman) they are chowned to it; rootless podman maps our own
// uid to it with --userns=keep-id instead, so nothing is chowned.
package sandboxuser

import (
	"fmt"
	"os"

	"github.com/loopat/desktop/backend/safefs"
)

// UID and GID of the sandbox user (the image's loopat user).
const (
	UID = 2000
	GID = 2000
	// Spec is the user podman runs sandbox processes as ("uid:gid").
	Spec = "2000:2000"
)

// Chowns reports whether host folders are given to the sandbox user (we run as root).
func Chowns() bool { return os.Geteuid() == 0 }

// HostOwner is the uid that owns a sandbox's folders on the host: UID when we run as
// root (we chown them), else us (keep-id maps us to the sandbox user).
func HostOwner() int {
	if Chowns() {
		return UID
	}
	return os.Geteuid()
}

// Give gives dir and everything beneath it to the sandbox user when Chowns. The walk is
// confined to dir (safefs: through os.Root, Lchown, each entry through its parent's
// handle): a symlink in the tree is chowned itself, never what it points to, and dir
// itself must be a real directory.
func Give(dir string) error {
	if !Chowns() {
		return nil
	}
	t, err := safefs.Open(dir)
	if err != nil {
		return fmt.Errorf("give %s to the sandbox user: %w", dir, err)
	}
	defer t.Close()
	if err := t.LchownAll(".", UID, GID); err != nil {
		return fmt.Errorf("give %s to the sandbox user: %w", dir, err)
	}
	return nil
}
