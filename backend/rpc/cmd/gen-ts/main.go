// Command gen-ts writes frontend/src/api/generated.ts from the services the app binds
// (`make generate`). TestGeneratedTSIsCurrent fails when the checked-in file differs.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/loopat/desktop/backend/core"
	"github.com/loopat/desktop/backend/engine"
	"github.com/loopat/desktop/backend/events"
	"github.com/loopat/desktop/backend/images"
	"github.com/loopat/desktop/backend/machine"
	"github.com/loopat/desktop/backend/rpc/tsgen"
	"github.com/loopat/desktop/backend/services"
	"github.com/loopat/desktop/backend/uninstall"
)

func main() {
	out := flag.String("o", "frontend/src/api/generated.ts", "file to write")
	flag.Parse()
	src, err := generate()
	if err != nil {
		fmt.Fprintln(os.Stderr, "gen-ts:", err)
		os.Exit(1)
	}
	if err := os.WriteFile(*out, src, 0o644); err != nil {
		fmt.Fprintln(os.Stderr, "gen-ts:", err)
		os.Exit(1)
	}
}

// eventPayloads are the types published on the bus that the UI subscribes to (no method
// returns them, so they are listed here).
var eventPayloads = []any{
	services.ConfigChange{},  // config:changed
	machine.ProgressEvent{},  // machine:progress
	images.Progress{},        // image:progress
	engine.State{},           // engine:state
	events.ContextChanged{},  // context:changed
	uninstall.Step{},         // uninstall:progress
	services.UninstallDone{}, // uninstall:done
}

// generate opens a core on a throwaway workspace (nothing is started: only the bound
// services' types are read) and emits the TypeScript for its registry.
func generate() ([]byte, error) {
	tmp, err := os.MkdirTemp("", "loopat-gen-ts-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	if err := os.Setenv("LOOPAT_HOME", filepath.Join(tmp, "ws")); err != nil {
		return nil, err
	}
	c, err := core.Open(context.Background(), core.Options{Stderr: io.Discard})
	if err != nil {
		return nil, fmt.Errorf("open a throwaway core: %w", err)
	}
	defer c.Close()
	return tsgen.Generate(c.Registry().Services(), eventPayloads, tsgen.SourceEnums())
}
