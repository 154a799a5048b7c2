package images

import (
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"runtime"
)

// assets holds the sandbox Containerfile and the host-exec forwarder. bin/ is committed with
// only a .gitkeep so a fresh clone compiles; `make build` puts bin/loopat-host there first.
//
//go:embed sandbox/Containerfile all:bin
var assets embed.FS

const (
	containerfilePath = "sandbox/Containerfile"
	forwarderPath     = "bin/loopat-host"
)

// ErrForwarderMissing means the binary was built without the host-exec forwarder.
var ErrForwarderMissing = errors.New("forwarder not built: run make build")

// readForwarder returns the linux forwarder for the sandbox's CPU. A universal macOS app
// embeds one per architecture (bin/loopat-host-arm64, bin/loopat-host-amd64): the podman
// machine VM runs the Mac's own architecture, which is the app's runtime.GOARCH.
// Single-architecture builds embed bin/loopat-host.
func readForwarder(files fs.FS) ([]byte, error) {
	return readForwarderFor(files, runtime.GOARCH)
}

func readForwarderFor(files fs.FS, arch string) ([]byte, error) {
	if data, err := fs.ReadFile(files, forwarderPath+"-"+arch); err == nil && len(data) > 0 {
		return data, nil
	}
	data, err := fs.ReadFile(files, forwarderPath)
	if errors.Is(err, fs.ErrNotExist) || (err == nil && len(data) == 0) {
		return nil, ErrForwarderMissing
	}
	if err != nil {
		return nil, fmt.Errorf("read forwarder: %w", err)
	}
	return data, nil
}
