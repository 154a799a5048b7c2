package images

import (
	"embed"
	"errors"
	"fmt"
	"io/fs"
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

func readForwarder(files fs.FS) ([]byte, error) {
	data, err := fs.ReadFile(files, forwarderPath)
	if errors.Is(err, fs.ErrNotExist) || (err == nil && len(data) == 0) {
		return nil, ErrForwarderMissing
	}
	if err != nil {
		return nil, fmt.Errorf("read forwarder: %w", err)
	}
	return data, nil
}
