package shellpath

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

// fakeShell writes an executable script standing in for $SHELL -l -c.
func fakeShell(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "fakesh")
	if err := os.WriteFile(p, []byte("#!/bin/sh\n"+body), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

func mkdirs(t *testing.T, names ...string) []string {
	t.Helper()
	root := t.TempDir()
	var out []string
	for _, n := range names {
		d := filepath.Join(root, n)
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		out = append(out, d)
	}
	return out
}

func TestDirsDarwinAddsLoginShellPATHAfterProcessPATH(t *testing.T) {
	d := mkdirs(t, "usrbin", "brew", "cargo")
	missing := filepath.Join(d[0], "nope")
	// The profile prints a banner on stdout, as some do; only the marked PATH counts.
	shell := fakeShell(t, `echo "Welcome, last login: today"
if [ "$1" != "-l" ]; then exit 3; fi
PATH="`+d[1]+`:`+d[0]+`:`+missing+`:relative/bin:`+d[2]+`"
eval "$3"
`)
	got := Dirs(context.Background(), Env{GOOS: "darwin", PATH: d[0] + ":.:", Shell: shell})
	// Process PATH first, then the login shell's, deduped, missing and relative entries dropped.
	if len(got) < 3 || !slices.Equal(got[:3], []string{d[0], d[1], d[2]}) {
		t.Fatalf("Dirs = %v, want prefix %v", got, d)
	}
	for _, x := range got[3:] {
		if !slices.Contains(extraDirs, x) {
			t.Fatalf("unexpected dir %q in %v", x, got)
		}
		if _, err := os.Stat(x); err != nil {
			t.Fatalf("listed missing dir %q", x)
		}
	}
	if slices.Contains(got, missing) || slices.Contains(got, ".") {
		t.Fatalf("Dirs kept a missing or relative dir: %v", got)
	}
}

func TestDirsDarwinFindsCLIOnlyOnLoginShellPATH(t *testing.T) {
	d := mkdirs(t, "short", "brew")
	tool := filepath.Join(d[1], "podman")
	if err := os.WriteFile(tool, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	shell := fakeShell(t, `PATH="`+d[1]+`"; eval "$3"`)
	if _, err := LookPathIn("podman", Dirs(context.Background(), Env{GOOS: "darwin", PATH: d[0]})); err == nil {
		t.Fatal("found podman without the login shell PATH")
	}
	p, err := LookPathIn("podman", Dirs(context.Background(), Env{GOOS: "darwin", PATH: d[0], Shell: shell}))
	if err != nil || p != tool {
		t.Fatalf("LookPathIn = %q, %v; want %q", p, err, tool)
	}
}

func TestDirsIgnoresFailingAndHangingShell(t *testing.T) {
	d := mkdirs(t, "a")
	for name, body := range map[string]string{
		"fails":    "exit 1\n",
		"no-path":  "echo hello\n",
		"hangs":    "sleep 30\n",
		"bg-child": "sleep 30 &\necho x\n", // a background child keeps stdout open
	} {
		t.Run(name, func(t *testing.T) {
			start := time.Now()
			got := Dirs(context.Background(), Env{GOOS: "darwin", PATH: d[0], Shell: fakeShell(t, body), Timeout: 300 * time.Millisecond})
			if time.Since(start) > 5*time.Second {
				t.Fatalf("Dirs took %s", time.Since(start))
			}
			if len(got) == 0 || got[0] != d[0] {
				t.Fatalf("Dirs = %v, want process PATH first", got)
			}
		})
	}
	if _, err := LoginShellPATH(context.Background(), "sh", 0); err == nil {
		t.Fatal("relative shell accepted")
	}
}

func TestDirsLinuxKeepsProcessPATHAndRunsNoShell(t *testing.T) {
	d := mkdirs(t, "a", "b")
	ran := filepath.Join(t.TempDir(), "ran")
	shell := fakeShell(t, "touch "+ran+"\n")
	got := Dirs(context.Background(), Env{GOOS: "linux", PATH: d[0] + ":" + d[1] + ":" + d[0], Shell: shell})
	if !slices.Equal(got, []string{d[0], d[1]}) {
		t.Fatalf("Dirs = %v", got)
	}
	if _, err := os.Stat(ran); err == nil {
		t.Fatal("login shell ran on linux")
	}
}

func TestLookPathInRejectsPathsAndNonExecutables(t *testing.T) {
	d := mkdirs(t, "a")
	if err := os.WriteFile(filepath.Join(d[0], "data"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(d[0], "dir"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"data", "dir", "../a/data", "/bin/sh", ""} {
		if p, err := LookPathIn(name, d); err == nil {
			t.Fatalf("LookPathIn(%q) = %q", name, p)
		}
	}
}
