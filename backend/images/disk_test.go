package images

import (
	"context"
	"os"
	"path/filepath"
	"testing"
)

func TestDirSizeCountsFilesAndNeverFollowsSymlinks(t *testing.T) {
	outside := t.TempDir()
	if err := os.WriteFile(filepath.Join(outside, "big"), make([]byte, 1<<20), 0o644); err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.MkdirAll(filepath.Join(root, "home", "sub"), 0o755))
	must(os.WriteFile(filepath.Join(root, "home", "sub", "f"), make([]byte, 1000), 0o644))
	must(os.Symlink(outside, filepath.Join(root, "home", "link")))
	must(os.Symlink(filepath.Join(outside, "big"), filepath.Join(root, "home", "filelink")))
	n, _, err := DirSize(context.Background(), filepath.Join(root, "home"))
	if err != nil || n != 1000 {
		t.Fatalf("DirSize = %d, %v; want 1000", n, err)
	}
	// A root that is a symlink counts nothing.
	must(os.Symlink(outside, filepath.Join(root, "rootlink")))
	if n, _, _ := DirSize(context.Background(), filepath.Join(root, "rootlink")); n != 0 {
		t.Fatalf("followed a symlinked root: %d", n)
	}
	// A symlinked parent inside the loop's tree is refused.
	must(os.MkdirAll(filepath.Join(outside, "mise"), 0o755))
	must(os.WriteFile(filepath.Join(outside, "mise", "x"), make([]byte, 77), 0o644))
	must(os.Symlink(outside, filepath.Join(root, "home", ".cache")))
	if n, _, err := DirSizeUnder(context.Background(), filepath.Join(root, "home"), ".cache/mise"); err == nil || n != 0 {
		t.Fatalf("DirSizeUnder followed a symlinked parent: %d, %v", n, err)
	}
	if n, _, err := DirSizeUnder(context.Background(), root, "home/sub"); err != nil || n != 1000 {
		t.Fatalf("DirSizeUnder = %d, %v", n, err)
	}
	if _, _, err := DirSizeUnder(context.Background(), root, "../x"); err == nil {
		t.Fatal("accepted ..")
	}
}
