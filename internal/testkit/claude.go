// Package testkit holds helpers the integration tests share: the real Claude Code CLI
// installed by scripts/test/claude-cli.sh, the local base image, a private podman service
// and throwaway podman networks. The mock model API is in testkit/mockapi.
package testkit

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"testing"
)

// BaseImage is the local Debian image scripts/test/base-image.sh imports under the exact
// reference the sandbox Containerfile's FROM names, so nothing is pulled.
const BaseImage = "docker.io/library/debian:bookworm-slim"

// ClaudeBinaryEnv overrides where ClaudeBinary looks for the claude executable.
const ClaudeBinaryEnv = "LOOPAT_TEST_CLAUDE_BIN"

// claudeRelPath is where scripts/test/claude-cli.sh installs the native binary, relative to
// the repository root.
const claudeRelPath = ".cache/claude-code/node_modules/@anthropic-ai/claude-code-linux-x64/claude"

// ClaudeBinary returns the absolute path of the real Claude Code CLI: $LOOPAT_TEST_CLAUDE_BIN
// when set, else the binary scripts/test/claude-cli.sh installed under .cache/. It fails the
// test, saying how to fix it, when the binary is missing.
func ClaudeBinary(t testing.TB) string {
	t.Helper()
	path, err := findClaudeBinary()
	if err != nil {
		t.Fatalf("claude CLI not found: %v\nfix: run scripts/test/claude-cli.sh (installs the pinned CLI into .cache/claude-code), "+
			"or set %s to a claude binary", err, ClaudeBinaryEnv)
	}
	return path
}

func findClaudeBinary() (string, error) {
	if p := os.Getenv(ClaudeBinaryEnv); p != "" {
		return checkExecutable(p)
	}
	root, err := RepoRoot()
	if err != nil {
		return "", err
	}
	return checkExecutable(filepath.Join(root, claudeRelPath))
}

func checkExecutable(p string) (string, error) {
	abs, err := filepath.Abs(p)
	if err != nil {
		return "", fmt.Errorf("resolve %s: %w", p, err)
	}
	fi, err := os.Stat(abs)
	if err != nil {
		return "", fmt.Errorf("stat claude binary: %w", err)
	}
	if fi.IsDir() || fi.Mode().Perm()&0o111 == 0 {
		return "", fmt.Errorf("%s is not an executable file", abs)
	}
	return abs, nil
}

// RepoRoot returns the repository root: the directory holding go.mod, found from this
// source file's location, else by walking up from the working directory.
func RepoRoot() (string, error) {
	var starts []string
	if _, file, _, ok := runtime.Caller(0); ok && filepath.IsAbs(file) {
		starts = append(starts, filepath.Dir(file))
	}
	if wd, err := os.Getwd(); err == nil {
		starts = append(starts, wd)
	}
	for _, dir := range starts {
		for d := dir; ; d = filepath.Dir(d) {
			if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
				return d, nil
			} else if !errors.Is(err, fs.ErrNotExist) {
				return "", fmt.Errorf("find repo root: %w", err)
			}
			if filepath.Dir(d) == d {
				break
			}
		}
	}
	return "", errors.New("find repo root: no go.mod above this package or the working directory")
}
