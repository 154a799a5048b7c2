//go:build !headless

package main

import (
	"errors"
	"log/slog"

	"github.com/loopat/desktop/backend/headless"
	"github.com/loopat/desktop/backend/version"
)

// handOver execs loopat-headless for a CLI command when it is installed beside this
// binary; it returns only if the command is to run in this process.
func handOver(args []string) {
	if err := headless.Exec(args, version.Version); err != nil && !errors.Is(err, headless.ErrNoTwin) {
		slog.Debug("running the command in the desktop binary", "err", err)
	}
}
