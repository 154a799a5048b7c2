package testkit

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestRepoRootHoldsThisModule(t *testing.T) {
	root, err := RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	mod, err := os.ReadFile(filepath.Join(root, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(mod), "module github.com/loopat/desktop") {
		t.Fatalf("%s/go.mod is not loopat's", root)
	}
	if _, err := os.Stat(filepath.Join(root, "scripts/test/claude-cli.sh")); err != nil {
		t.Fatalf("claude-cli.sh not under the root: %v", err)
	}
}

func TestClaudeBinaryFromEnv(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "claude")
	if err := os.WriteFile(bin, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv(ClaudeBinaryEnv, bin)
	if got := ClaudeBinary(t); got != bin {
		t.Fatalf("ClaudeBinary = %q, want %q", got, bin)
	}

	notExec := filepath.Join(dir, "plain")
	os.WriteFile(notExec, nil, 0o644)
	for _, p := range []string{notExec, dir, filepath.Join(dir, "missing")} {
		t.Setenv(ClaudeBinaryEnv, p)
		if _, err := findClaudeBinary(); err == nil {
			t.Fatalf("%s accepted as the claude binary", p)
		}
	}
}

func TestClaudeBinaryDefaultPath(t *testing.T) {
	t.Setenv(ClaudeBinaryEnv, "")
	root, err := RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	want := filepath.Join(root, claudeRelPath)
	got, err := findClaudeBinary()
	if _, statErr := os.Stat(want); statErr != nil {
		if err == nil {
			t.Fatalf("found %q although %s is missing", got, want)
		}
		return
	}
	if err != nil || got != want {
		t.Fatalf("findClaudeBinary = %q, %v; want %q", got, err, want)
	}
}

func TestUniqueName(t *testing.T) {
	a, b := UniqueName("loopat-test"), UniqueName("loopat-test")
	if a == b || !strings.HasPrefix(a, "loopat-test-") || len(a) != len("loopat-test-")+8 {
		t.Fatalf("UniqueName: %q, %q", a, b)
	}
}
