package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestEnsureGivesEachHomeItsOwnPersistentID(t *testing.T) {
	a, err := NewWorkspace(filepath.Join(t.TempDir(), ".loopat"))
	if err != nil {
		t.Fatal(err)
	}
	b, err := NewWorkspace(filepath.Join(t.TempDir(), ".loopat"))
	if err != nil {
		t.Fatal(err)
	}
	if a.Name != b.Name {
		t.Fatalf("test needs two homes of one name: %q %q", a.Name, b.Name)
	}
	for _, w := range []*Workspace{&a, &b} {
		if err := w.Ensure(); err != nil {
			t.Fatal(err)
		}
		if !validID(w.ID) || w.LegacyLabel != "" {
			t.Fatalf("new workspace: id %q legacy %q", w.ID, w.LegacyLabel)
		}
	}
	if a.ID == b.ID || a.Label() == b.Label() || a.ResourcePrefix() == b.ResourcePrefix() || a.ShortSocketDir() == b.ShortSocketDir() {
		t.Fatalf("two homes named %q share identity: %+v %+v", a.Name, a, b)
	}
	again, err := NewWorkspace(a.Home)
	if err != nil {
		t.Fatal(err)
	}
	if again.ID != a.ID {
		t.Fatalf("id not persisted: %q then %q", a.ID, again.ID)
	}
	if err := again.Ensure(); err != nil || again.ID != a.ID {
		t.Fatalf("second Ensure changed the id: %q -> %q (%v)", a.ID, again.ID, err)
	}
	if !strings.Contains(a.ShortSocketDir(), a.ID) {
		t.Fatalf("short socket dir %s not named by id", a.ShortSocketDir())
	}
}

func TestEnsureMigratesAWorkspaceFromBeforeIDs(t *testing.T) {
	home := filepath.Join(t.TempDir(), ".loopat")
	if err := os.MkdirAll(filepath.Join(home, "loops", "old-loop"), 0o700); err != nil {
		t.Fatal(err)
	}
	w, err := NewWorkspace(home)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Ensure(); err != nil {
		t.Fatal(err)
	}
	if w.LegacyLabel != "loopat" || !validID(w.ID) {
		t.Fatalf("migrated workspace: id %q legacy %q, want legacy loopat", w.ID, w.LegacyLabel)
	}
	r, err := NewWorkspace(home)
	if err != nil || r.LegacyLabel != "loopat" || r.ID != w.ID {
		t.Fatalf("reloaded: %+v %v", r, err)
	}
}

func TestBadIDFileIsRefusedWithAClearError(t *testing.T) {
	for name, content := range map[string]string{
		"not hex":      "zzzzzzzzzzzzzzzz\n",
		"short":        "abc\n",
		"bad legacy":   "0123456789abcdef\nlegacy-label=../x\n",
		"empty":        "",
		"upper + junk": "0123456789ABCDEF extra\n",
	} {
		t.Run(name, func(t *testing.T) {
			home := t.TempDir()
			if err := os.WriteFile(filepath.Join(home, IDFile), []byte(content), 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := NewWorkspace(home)
			if err == nil || !strings.Contains(err.Error(), IDFile) {
				t.Fatalf("want an error naming %s, got %v", IDFile, err)
			}
		})
	}
	t.Run("symlink", func(t *testing.T) {
		home := t.TempDir()
		target := filepath.Join(t.TempDir(), "id")
		os.WriteFile(target, []byte("0123456789abcdef\n"), 0o600)
		if err := os.Symlink(target, filepath.Join(home, IDFile)); err != nil {
			t.Fatal(err)
		}
		if _, err := NewWorkspace(home); err == nil {
			t.Fatal("a symlinked id file must be refused")
		}
	})
}

func TestPrivateDirCreatesAndChecks(t *testing.T) {
	base := t.TempDir()
	dir := filepath.Join(base, "sock")
	if err := PrivateDir(dir); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Lstat(dir)
	if err != nil || !fi.IsDir() || fi.Mode().Perm() != 0o700 {
		t.Fatalf("made %v %v", fi.Mode(), err)
	}
	if err := PrivateDir(dir); err != nil {
		t.Fatalf("existing private dir refused: %v", err)
	}

	open := filepath.Join(base, "open")
	os.Mkdir(open, 0o700)
	os.Chmod(open, 0o755)
	if err := PrivateDir(open); err == nil || !strings.Contains(err.Error(), "mode 755") {
		t.Fatalf("0755 folder: want refusal naming the mode, got %v", err)
	}

	elsewhere := filepath.Join(base, "elsewhere")
	os.Mkdir(elsewhere, 0o700)
	link := filepath.Join(base, "link")
	os.Symlink(elsewhere, link)
	if err := PrivateDir(link); err == nil || !strings.Contains(err.Error(), "not a real directory") {
		t.Fatalf("symlink: want refusal, got %v", err)
	}

	file := filepath.Join(base, "file")
	os.WriteFile(file, nil, 0o600)
	if err := PrivateDir(file); err == nil {
		t.Fatal("a file in place of the folder must be refused")
	}
}

func TestPrivateDirRefusesAFolderOfAnotherUser(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to make a folder owned by another uid")
	}
	dir := filepath.Join(t.TempDir(), "theirs")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(dir, 4242, 4242); err != nil {
		t.Fatal(err)
	}
	if err := PrivateDir(dir); err == nil || !strings.Contains(err.Error(), "owned by uid 4242") {
		t.Fatalf("want refusal of a foreign folder, got %v", err)
	}
}
