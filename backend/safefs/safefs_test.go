package safefs

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

func put(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func link(t *testing.T, target, at string) {
	t.Helper()
	if err := os.Symlink(target, at); err != nil {
		t.Fatal(err)
	}
}

func open(t *testing.T, dir string) *Tree {
	t.Helper()
	tr, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tr.Close() })
	return tr
}

func unchanged(t *testing.T, path, want string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("victim %s: %v", path, err)
	}
	if string(b) != want {
		t.Fatalf("victim %s changed to %q", path, b)
	}
}

// hostile builds a tree with every kind of escape a loop can plant, next to a victim.
func hostile(t *testing.T) (root, victim string) {
	t.Helper()
	root, outside := t.TempDir(), t.TempDir()
	victim = filepath.Join(outside, "victim")
	put(t, victim, "host secret\n")
	put(t, filepath.Join(root, "in", "ok.txt"), "fine\n")
	link(t, victim, filepath.Join(root, "abs-link"))                                 // absolute symlink out
	link(t, "../"+filepath.Base(outside)+"/victim", filepath.Join(root, "rel-link")) // relative symlink out
	link(t, outside, filepath.Join(root, "dir-link"))                                // folder out
	link(t, "in/ok.txt", filepath.Join(root, "in-link"))                             // stays inside
	return root, victim
}

func TestEscapesAreRefused(t *testing.T) {
	root, victim := hostile(t)
	tr := open(t, root)
	for _, p := range []string{"abs-link", "rel-link", "dir-link/victim", "../x", "in/../../x", "/etc/passwd", victim} {
		if _, err := tr.ReadFile(p, 1<<20); !errors.Is(err, ErrOutside) {
			t.Errorf("ReadFile(%q) = %v, want ErrOutside", p, err)
		}
		if _, err := tr.Stat(p); !errors.Is(err, ErrOutside) {
			t.Errorf("Stat(%q) = %v, want ErrOutside", p, err)
		}
	}
	if _, err := tr.ReadDir("dir-link"); !errors.Is(err, ErrOutside) {
		t.Errorf("ReadDir through a link out: %v", err)
	}
	for _, p := range []string{"dir-link/new", "../new", "/tmp/new"} {
		if err := tr.WriteFileAtomic(p, []byte("x"), 0o644); !errors.Is(err, ErrOutside) {
			t.Errorf("WriteFileAtomic(%q) = %v, want ErrOutside", p, err)
		}
	}
	if err := tr.MkdirAll("dir-link/sub", 0o755); !errors.Is(err, ErrOutside) {
		t.Errorf("MkdirAll through a link out: %v", err)
	}
	if _, err := os.Stat(filepath.Join(filepath.Dir(victim), "new")); !errors.Is(err, fs.ErrNotExist) {
		t.Fatal("a write through a link landed outside")
	}
	unchanged(t, victim, "host secret\n")

	// Inside the tree symlinks work, and Lstat/Readlink describe links without following.
	if b, err := tr.ReadFile("in-link", 100); err != nil || string(b) != "fine\n" {
		t.Fatalf("in-tree link: %q %v", b, err)
	}
	if fi, err := tr.Lstat("abs-link"); err != nil || fi.Mode()&fs.ModeSymlink == 0 {
		t.Fatalf("Lstat of a link out = %v %v", fi, err)
	}
	if s, err := tr.Readlink("abs-link"); err != nil || s != victim {
		t.Fatalf("Readlink = %q %v", s, err)
	}
}

// The error text os.Root uses for an escape is not exported; pin it.
func TestEscapeIsRecognised(t *testing.T) {
	root, _ := hostile(t)
	r, err := os.OpenRoot(root)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	_, err = r.Open("abs-link")
	if !isEscape(err) {
		t.Fatalf("os.Root escape error not recognised: %v", err)
	}
}

func TestWriteFileAtomicNeverWritesThroughPlantedLinks(t *testing.T) {
	root, victim := hostile(t)
	tr := open(t, root)
	// The old "<file>.tmp" scheme, and every likely temp name, planted as links to the victim.
	link(t, victim, filepath.Join(root, "in", "col.md.tmp"))
	link(t, victim, filepath.Join(root, "in", ".col.md.tmp"))
	// The target itself a link out: it is replaced, not followed.
	link(t, victim, filepath.Join(root, "in", "col.md"))
	if err := tr.WriteFileAtomic("in/col.md", []byte("# Col\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	unchanged(t, victim, "host secret\n")
	fi, err := os.Lstat(filepath.Join(root, "in", "col.md"))
	if err != nil || !fi.Mode().IsRegular() {
		t.Fatalf("col.md after write: %v %v", fi, err)
	}
	unchangedInTree, _ := os.ReadFile(filepath.Join(root, "in", "col.md"))
	if string(unchangedInTree) != "# Col\n" {
		t.Fatalf("col.md = %q", unchangedInTree)
	}
	// No temp file is left behind.
	des, _ := os.ReadDir(filepath.Join(root, "in"))
	for _, de := range des {
		if strings.Contains(de.Name(), ".tmp-") {
			t.Errorf("temp file left: %s", de.Name())
		}
	}
	// A folder component swapped for a link out is refused.
	if err := os.Rename(filepath.Join(root, "in"), filepath.Join(root, "in.old")); err != nil {
		t.Fatal(err)
	}
	link(t, filepath.Dir(victim), filepath.Join(root, "in"))
	if err := tr.WriteFileAtomic("in/victim", []byte("pwned"), 0o644); !errors.Is(err, ErrOutside) {
		t.Fatalf("write through a swapped folder: %v", err)
	}
	unchanged(t, victim, "host secret\n")
}

func TestReadFileCapsAndRefusesSpecialFiles(t *testing.T) {
	root := t.TempDir()
	put(t, filepath.Join(root, "big"), strings.Repeat("x", 101))
	put(t, filepath.Join(root, "ok"), strings.Repeat("x", 100))
	if err := syscall.Mkfifo(filepath.Join(root, "fifo"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(root, "dir"), 0o755); err != nil {
		t.Fatal(err)
	}
	tr := open(t, root)
	if _, err := tr.ReadFile("big", 100); !errors.Is(err, ErrTooLarge) {
		t.Errorf("over the cap: %v", err)
	}
	if b, err := tr.ReadFile("ok", 100); err != nil || len(b) != 100 {
		t.Errorf("at the cap: %d %v", len(b), err)
	}
	// A FIFO would block a plain open forever; it is refused without opening.
	if _, err := tr.ReadFile("fifo", 100); !errors.Is(err, ErrNotRegular) {
		t.Errorf("fifo: %v", err)
	}
	if _, err := tr.ReadFile("dir", 100); !errors.Is(err, ErrNotRegular) {
		t.Errorf("folder: %v", err)
	}
}

func TestOpenRefusesALinkedRoot(t *testing.T) {
	real := t.TempDir()
	at := filepath.Join(t.TempDir(), "tree")
	link(t, real, at)
	if _, err := Open(at); err == nil {
		t.Fatal("a symlink accepted as the tree")
	}
}

func TestWalkNeverFollowsLinks(t *testing.T) {
	root, victim := hostile(t)
	put(t, filepath.Join(root, "in", "deep", "f"), "f")
	tr := open(t, root)
	seen := map[string]fs.FileMode{}
	err := tr.Walk(".", func(p string, fi fs.FileInfo, err error) error {
		if err != nil {
			return err
		}
		seen[p] = fi.Mode().Type()
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{".", "in", "in/ok.txt", "in/deep", "in/deep/f", "abs-link", "dir-link", "rel-link", "in-link"} {
		if _, ok := seen[want]; !ok {
			t.Errorf("walk missed %s (saw %v)", want, seen)
		}
	}
	if seen["dir-link"]&fs.ModeSymlink == 0 {
		t.Errorf("dir-link reported as %v", seen["dir-link"])
	}
	for p := range seen {
		if strings.HasPrefix(p, "dir-link/") {
			t.Errorf("walk followed a link out: %s", p)
		}
	}
	_ = victim
}

func TestWalkStopsWhenAFolderIsSwappedForALink(t *testing.T) {
	root, _ := hostile(t)
	put(t, filepath.Join(root, "sub", "a"), "a")
	tr := open(t, root)
	var swapped bool
	err := tr.Walk(".", func(p string, fi fs.FileInfo, err error) error {
		if err != nil {
			return err
		}
		if p == "sub" && !swapped {
			// Between the Lstat of "sub" and its opening, the agent swaps it for a link
			// to another folder of the tree.
			swapped = true
			if err := os.Rename(filepath.Join(root, "sub"), filepath.Join(root, "sub.old")); err != nil {
				t.Fatal(err)
			}
			link(t, "in", filepath.Join(root, "sub"))
		}
		return nil
	})
	if !swapped || !errors.Is(err, ErrChanged) {
		t.Fatalf("walk over a swapped folder: swapped=%v err=%v", swapped, err)
	}
}

func TestLchownAllChangesLinksNotTargets(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("chown to another uid needs root")
	}
	root, victim := hostile(t)
	tr := open(t, root)
	if err := tr.LchownAll(".", 4242, 4243); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{".", "in", "in/ok.txt", "abs-link", "dir-link"} {
		fi, err := os.Lstat(filepath.Join(root, p))
		if err != nil {
			t.Fatal(err)
		}
		if u, g, _ := owner(fi); u != 4242 || g != 4243 {
			t.Errorf("%s owned by %d:%d", p, u, g)
		}
	}
	for _, p := range []string{victim, filepath.Dir(victim)} {
		fi, _ := os.Lstat(p)
		if u, _, _ := owner(fi); u == 4242 {
			t.Errorf("LchownAll followed a link to %s", p)
		}
	}
}

func TestCheckGitDir(t *testing.T) {
	uid := os.Geteuid()
	mk := func(t *testing.T) string {
		root := t.TempDir()
		put(t, filepath.Join(root, ".git", "HEAD"), "ref: refs/heads/main\n")
		if err := os.MkdirAll(filepath.Join(root, ".git", "objects", "info"), 0o755); err != nil {
			t.Fatal(err)
		}
		return root
	}
	t.Run("plain repository", func(t *testing.T) {
		if err := CheckGitDir(open(t, mk(t)), uid); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("no .git", func(t *testing.T) {
		if err := CheckGitDir(open(t, t.TempDir()), uid); !errors.Is(err, fs.ErrNotExist) {
			t.Fatal(err)
		}
	})
	host := mk(t) // a repository of the user elsewhere on the host
	bad := map[string]func(t *testing.T, root string){
		"gitdir file": func(t *testing.T, root string) {
			os.RemoveAll(filepath.Join(root, ".git"))
			put(t, filepath.Join(root, ".git"), "gitdir: "+filepath.Join(host, ".git")+"\n")
		},
		"symlink": func(t *testing.T, root string) {
			os.RemoveAll(filepath.Join(root, ".git"))
			link(t, filepath.Join(host, ".git"), filepath.Join(root, ".git"))
		},
		"commondir": func(t *testing.T, root string) {
			put(t, filepath.Join(root, ".git", "commondir"), filepath.Join(host, ".git")+"\n")
		},
		"alternates": func(t *testing.T, root string) {
			put(t, filepath.Join(root, ".git", "objects", "info", "alternates"), filepath.Join(host, ".git", "objects")+"\n")
		},
		"objects symlink": func(t *testing.T, root string) {
			os.RemoveAll(filepath.Join(root, ".git", "objects"))
			link(t, filepath.Join(host, ".git", "objects"), filepath.Join(root, ".git", "objects"))
		},
		"refs symlink": func(t *testing.T, root string) {
			link(t, filepath.Join(host, ".git", "refs"), filepath.Join(root, ".git", "refs"))
		},
		"config symlink": func(t *testing.T, root string) {
			link(t, "/etc/passwd", filepath.Join(root, ".git", "config"))
		},
	}
	for name, plant := range bad {
		t.Run(name, func(t *testing.T) {
			root := mk(t)
			plant(t, root)
			if err := CheckGitDir(open(t, root), uid); !errors.Is(err, ErrUnsafeGitDir) {
				t.Fatalf("CheckGitDir = %v, want ErrUnsafeGitDir", err)
			}
		})
	}
	t.Run("other owner", func(t *testing.T) {
		if err := CheckGitDir(open(t, mk(t)), uid+1); !errors.Is(err, ErrUnsafeGitDir) {
			t.Fatalf("CheckGitDir for another uid = %v", err)
		}
	})
}

// The host-path WriteFileAtomic (config.toml, meta.json, the vault index) writes the
// exact mode whatever the umask, replaces a symlink at the path instead of writing
// through it, and leaves no temp file behind.
func TestWriteFileAtomicHostPath(t *testing.T) {
	dir := t.TempDir()
	victim := filepath.Join(t.TempDir(), "victim")
	if err := os.WriteFile(victim, []byte("keep"), 0o600); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, "config.toml")
	if err := os.Symlink(victim, p); err != nil {
		t.Fatal(err)
	}
	old := syscall.Umask(0o077)
	err := WriteFileAtomic(p, []byte("new"), 0o644)
	syscall.Umask(old)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Lstat(p)
	if err != nil || !fi.Mode().IsRegular() || fi.Mode().Perm() != 0o644 {
		t.Fatalf("written file: %v %v", fi, err)
	}
	if b, _ := os.ReadFile(victim); string(b) != "keep" {
		t.Fatalf("wrote through the symlink: victim now %q", b)
	}
	if b, _ := os.ReadFile(p); string(b) != "new" {
		t.Fatalf("content %q", b)
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 1 {
		t.Fatalf("left behind: %v", ents)
	}
	if err := WriteFileAtomic(filepath.Join(dir, "missing", "x"), nil, 0o600); err == nil {
		t.Fatal("wrote into a folder that does not exist")
	}
}
