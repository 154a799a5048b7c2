package cli

import (
	"context"
	"fmt"

	"github.com/loopat/desktop/backend/core"
	"github.com/loopat/desktop/backend/loops"
)

func runLoop(ctx context.Context, args []string, env Env) int {
	c, err := core.Open(ctx, core.Options{Stderr: env.Stderr})
	if err != nil {
		fmt.Fprintf(env.Stderr, "loopat loop: %v\n", err)
		return 1
	}
	defer c.Close()
	c.Start(ctx)
	return loops.RunCLI(ctx, args, env.Stdin, env.Stdout, env.Stderr, c.Loops)
}
