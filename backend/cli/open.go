package cli

import (
	"context"
	"fmt"

	"github.com/loopat/desktop/backend/core"
)

// openCore opens this workspace for the command name; on failure it says why on stderr
// and returns nil. The caller closes it.
func openCore(ctx context.Context, env Env, name string, verbose bool) *core.Core {
	// Only serve lives long enough for a loop prepared ahead to be of use.
	c, err := core.Open(ctx, core.Options{Verbose: verbose, Stderr: env.Stderr, NoWarm: name != "serve"})
	if err != nil {
		fmt.Fprintf(env.Stderr, "loopat %s: %v\n", name, err)
		return nil
	}
	return c
}
