package headless

import (
	"os"
	"path/filepath"
	"testing"
)

// The twin is found only beside the executable or in ../lib/loopat, and only as an
// executable regular file: a folder or a non-executable file of that name is no twin.
func TestFindLooksOnlyBesideTheExecutable(t *testing.T) {
	root := t.TempDir()
	bin := filepath.Join(root, "bin")
	lib := filepath.Join(root, "lib", "loopat")
	for _, d := range []string{bin, lib} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	self := filepath.Join(bin, "loopat")
	if got := Find(self); got != "" {
		t.Fatalf("Find with no twin = %q, want none", got)
	}
	if err := os.Mkdir(filepath.Join(bin, Name), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(lib, Name), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if got := Find(self); got != "" {
		t.Fatalf("Find took a folder or a non-executable file: %q", got)
	}
	if err := os.Chmod(filepath.Join(lib, Name), 0o755); err != nil {
		t.Fatal(err)
	}
	if got, want := Find(self), filepath.Join(bin, "..", "lib", "loopat", Name); got != want {
		t.Fatalf("Find = %q, want the packaged twin %q", got, want)
	}
	if err := os.Remove(filepath.Join(bin, Name)); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(bin, Name), []byte("x"), 0o755); err != nil {
		t.Fatal(err)
	}
	if got, want := Find(self), filepath.Join(bin, Name); got != want {
		t.Fatalf("Find = %q, want the twin beside the binary %q", got, want)
	}
}

// A twin exec'd by a desktop binary of its own version keeps the command and clears
// the hand-over variables, so the agent's tools never inherit them.
func TestAdoptSameVersionClearsHandOver(t *testing.T) {
	t.Setenv(envFrom, "1.2.3")
	t.Setenv(envDesktop, "/nonexistent/loopat")
	if err := Adopt([]string{"version"}, "1.2.3"); err != nil {
		t.Fatal(err)
	}
	if os.Getenv(envFrom) != "" || os.Getenv(envDesktop) != "" {
		t.Fatal("hand-over variables left in the environment")
	}
}

// A stale twin whose desktop binary is unknown says so instead of running a command
// built from other code.
func TestAdoptStaleTwinRefusesWithoutDesktop(t *testing.T) {
	t.Setenv(envFrom, "2.0.0")
	t.Setenv(envDesktop, "")
	if err := Adopt([]string{"version"}, "1.0.0"); err == nil {
		t.Fatal("a stale twin ran the command")
	}
}

func TestExecHonoursOptOut(t *testing.T) {
	t.Setenv(envOff, "1")
	if err := Exec([]string{"version"}, "x"); err == nil {
		t.Fatal("Exec ran the twin although " + envOff + " is set")
	}
}
