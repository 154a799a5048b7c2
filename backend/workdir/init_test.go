package workdir

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/loopat/desktop/backend/safefs"
)

func TestInitStartsARepositoryOnce(t *testing.T) {
	root := t.TempDir()
	write(t, filepath.Join(root, "main.go"), "package main\n")
	st, err := Init(root)
	if err != nil || !st.IsRepo || st.Head != "" || len(st.Files) != 1 || st.Files[0].Status != "??" {
		t.Fatalf("Init = %+v %v", st, err)
	}
	if _, err := Init(root); !errors.Is(err, ErrAlreadyRepo) {
		t.Fatalf("second Init = %v, want ErrAlreadyRepo", err)
	}
	if _, err := Commit(root, "first", Author{}); err != nil {
		t.Fatalf("commit after Init: %v", err)
	}
}

// A .git the loop planted as a link to another repository is refused; that repository
// is unchanged.
func TestInitRefusesAPlantedGitLink(t *testing.T) {
	host, hostState := hostRepo(t)
	before := hostState()
	root := t.TempDir()
	if err := os.Symlink(filepath.Join(host, ".git"), filepath.Join(root, ".git")); err != nil {
		t.Fatal(err)
	}
	if _, err := Init(root); !errors.Is(err, safefs.ErrUnsafeGitDir) {
		t.Fatalf("Init = %v, want ErrUnsafeGitDir", err)
	}
	if hostState() != before {
		t.Fatal("the other repository changed")
	}
}
