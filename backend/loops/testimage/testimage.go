// Package testimage builds the small sandbox image used by loop integration tests and
// benchmarks: Debian plus the uid 2000 user with home /home/loopat. The real claude binary
// is bind-mounted into it (at ClaudePath), so it builds in seconds and is reused by tag.
package testimage

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
)

// Ref is the image reference; bump the tag when Containerfile changes.
const Ref = "localhost/loopat-loops-test:1"

// ClaudePath is where tests mount the claude binary.
const ClaudePath = "/usr/local/bin/claude"

// Containerfile builds FROM the local base image (never pulled).
const Containerfile = `FROM docker.io/library/debian:bookworm-slim
RUN groupadd -g 2000 loopat && useradd -u 2000 -g 2000 -m -d /home/loopat -s /bin/bash loopat
`

// Ensure builds Ref with the podman CLI unless it exists.
func Ensure() error {
	if exec.Command("podman", "image", "exists", Ref).Run() == nil {
		return nil
	}
	dir, err := os.MkdirTemp("", "loopat-testimage-")
	if err != nil {
		return fmt.Errorf("test image: %w", err)
	}
	defer os.RemoveAll(dir)
	if err := os.WriteFile(filepath.Join(dir, "Containerfile"), []byte(Containerfile), 0o644); err != nil {
		return fmt.Errorf("test image: %w", err)
	}
	out, err := exec.Command("podman", "build", "--pull=never", "-t", Ref, dir).CombinedOutput()
	if err != nil {
		return fmt.Errorf("build test image: %w\n%s", err, out)
	}
	return nil
}
