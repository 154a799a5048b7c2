package logging

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

func TestRotatingFileRotatesBySizeAndKeepsN(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "audit.jsonl")
	r := NewRotatingFile(path, 100, 2)
	defer r.Close()
	for i := 0; i < 10; i++ {
		line := []byte(strings.Repeat(string(rune('a'+i)), 39) + "\n") // 40 bytes: two fit in 100
		if _, err := r.Write(line); err != nil {
			t.Fatal(err)
		}
	}
	// 10 lines of 40 bytes, 2 per file: the last 3 files hold lines 4-9 (e..j).
	want := map[string]string{path: "ij", path + ".1": "gh", path + ".2": "ef"}
	for p, letters := range want {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if len(b) > 100 || b[0] != letters[0] || b[40] != letters[1] {
			t.Fatalf("%s: %d bytes starting %q", filepath.Base(p), len(b), b[:1])
		}
	}
	if _, err := os.Stat(path + ".3"); !os.IsNotExist(err) {
		t.Fatalf("kept more than 2 rotated files: %v", err)
	}
	if got := r.Files(); len(got) != 3 || got[0] != path+".2" || got[2] != path {
		t.Fatalf("files oldest first: %v", got)
	}
}

func TestRotatingFileContinuesExistingFileAndNeverSplitsAWrite(t *testing.T) {
	path := filepath.Join(t.TempDir(), "relay.log")
	if err := os.WriteFile(path, bytes.Repeat([]byte("x"), 90), 0o600); err != nil {
		t.Fatal(err)
	}
	r := NewRotatingFile(path, 100, 1)
	defer r.Close()
	big := bytes.Repeat([]byte("y"), 250)
	if _, err := r.Write(big); err != nil {
		t.Fatal(err)
	}
	old, _ := os.ReadFile(path + ".1")
	cur, _ := os.ReadFile(path)
	if len(old) != 90 || !bytes.Equal(cur, big) {
		t.Fatalf("rotated %d bytes, current %d bytes", len(old), len(cur))
	}
}

func TestRotatingFileRefusesASymlink(t *testing.T) {
	dir := t.TempDir()
	victim := filepath.Join(dir, "victim")
	if err := os.WriteFile(victim, []byte("keep"), 0o600); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "audit.jsonl")
	if err := os.Symlink(victim, path); err != nil {
		t.Fatal(err)
	}
	r := NewRotatingFile(path, 0, 0)
	if _, err := r.Write([]byte("owned\n")); err == nil {
		t.Fatal("write through a symlink succeeded")
	}
	if b, _ := os.ReadFile(victim); string(b) != "keep" {
		t.Fatalf("victim changed: %q", b)
	}
}

func TestRotatingFileConcurrentWritesStayWhole(t *testing.T) {
	path := filepath.Join(t.TempDir(), "log")
	r := NewRotatingFile(path, 1000, 50)
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 50; i++ {
				r.Write([]byte(strings.Repeat("z", 49) + "\n"))
			}
		}()
	}
	wg.Wait()
	r.Close()
	total := 0
	for _, f := range r.Files() {
		b, _ := os.ReadFile(f)
		for _, line := range strings.Split(strings.TrimSuffix(string(b), "\n"), "\n") {
			if len(line) != 49 {
				t.Fatalf("%s: torn line %q", filepath.Base(f), line)
			}
			total++
		}
	}
	if total != 400 {
		t.Fatalf("lines kept: %d, want 400", total)
	}
}
