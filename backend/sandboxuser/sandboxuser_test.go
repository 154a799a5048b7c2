package sandboxuser

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

func uidOf(t *testing.T, p string) int {
	t.Helper()
	fi, err := os.Lstat(p)
	if err != nil {
		t.Fatal(err)
	}
	return int(fi.Sys().(*syscall.Stat_t).Uid)
}

// Give chowns the tree (as root) and nothing a symlink in it points to; a dir that is
// itself a symlink is refused.
func TestGiveStaysInTheTree(t *testing.T) {
	if !Chowns() {
		if err := Give(t.TempDir()); err != nil {
			t.Fatal(err)
		}
		if HostOwner() != os.Geteuid() {
			t.Fatalf("host owner %d", HostOwner())
		}
		t.Skip("not root: Give changes nothing (rootless keep-id)")
	}
	outside := t.TempDir()
	victim := filepath.Join(outside, "victim")
	if err := os.WriteFile(victim, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "a", "b"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "a", "b", "f"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(victim, filepath.Join(dir, "a", "link")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, filepath.Join(dir, "dirlink")); err != nil {
		t.Fatal(err)
	}
	if err := Give(dir); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{".", "a", "a/b", "a/b/f", "a/link", "dirlink"} {
		if got := uidOf(t, filepath.Join(dir, p)); got != UID {
			t.Errorf("%s owned by %d", p, got)
		}
	}
	if uidOf(t, victim) != 0 || uidOf(t, outside) != 0 {
		t.Fatal("a symlink's target outside the tree was chowned")
	}
	if HostOwner() != UID {
		t.Fatalf("host owner %d", HostOwner())
	}
	if err := Give(filepath.Join(dir, "dirlink")); err == nil || uidOf(t, outside) != 0 {
		t.Fatalf("Give through a symlinked dir: %v", err)
	}
}
