//go:build integration

package images

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestHostileDiskViewSymlinksOutOfLoopHome: the agent, inside a real container as the loopat
// user, points its home's cache folders and other entries at host folders. The disk view
// (DirSize / DirSizeUnder, what ImageService.Disk uses) must count only what the loop itself
// wrote and never walk the host tree behind a link.
func TestHostileDiskViewSymlinksOutOfLoopHome(t *testing.T) {
	if err := exec.Command("podman", "image", "exists", smallBase).Run(); err != nil {
		t.Skipf("%s not present (scripts/test setup builds it)", smallBase)
	}
	victim := t.TempDir() // a host folder the loop should not be able to make us measure
	if err := os.MkdirAll(filepath.Join(victim, "mise"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(victim, "mise", "big"), make([]byte, 5<<20), 0o644); err != nil {
		t.Fatal(err)
	}
	home := filepath.Join(t.TempDir(), "home")
	if err := os.Mkdir(home, 0o755); err != nil {
		t.Fatal(err)
	}
	// As loops.Sandbox: rootless, keep-id makes us (the home's owner) the image's loopat
	// user inside; rootful, the home belongs to uid 2000.
	userns := []string{}
	if strings.TrimSpace(podmanCLI(t, "info", "--format", "{{.Host.Security.Rootless}}")) == "true" {
		userns = append(userns, "--userns=keep-id:uid=2000,gid=2000")
	} else if err := os.Chown(home, 2000, 2000); err != nil { // the image's loopat user
		t.Fatal(err)
	}
	script := `set -e
head -c 1234 /dev/zero > ~/own.bin
ln -s ` + victim + ` ~/.cache
mkdir -p ~/.local/share
ln -s ` + victim + `/mise ~/.local/share/mise
ln -s / ~/rootlink
ln -s ` + victim + `/mise/big ~/big-link
`
	args := append([]string{"run", "--rm", "--network=none", "--user", "loopat"}, userns...)
	out, err := exec.Command("podman", append(args, "-v", home+":/home/loopat", "-e", "HOME=/home/loopat",
		smallBase, "sh", "-c", script)...).CombinedOutput()
	if err != nil {
		t.Fatalf("agent script in container: %v: %s", err, out)
	}
	if fi, err := os.Lstat(filepath.Join(home, ".cache")); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Fatalf("the container did not plant its link: %v %v", fi, err)
	}

	ctx := context.Background()
	n, _, err := DirSize(ctx, home)
	if err != nil || n != 1234 {
		t.Fatalf("DirSize(home) = %d, %v; want only the loop's own 1234 bytes", n, err)
	}
	for _, rel := range []string{".cache/mise", ".local/share/mise"} {
		if n, _, err := DirSizeUnder(ctx, home, rel); err == nil || n != 0 {
			t.Fatalf("DirSizeUnder(%s) = %d, %v: followed the loop's link to the host", rel, n, err)
		}
	}
	if fi, err := os.Stat(filepath.Join(victim, "mise", "big")); err != nil || fi.Size() != 5<<20 {
		t.Fatalf("victim changed: %v %v", fi, err)
	}
}
