package cli

import (
	"context"

	"github.com/loopat/desktop/backend/loops"
)

func runLoop(ctx context.Context, args []string, env Env) int {
	c := openCore(ctx, env, "loop", false)
	if c == nil {
		return 1
	}
	defer c.Close()
	c.Start(ctx)
	return loops.RunCLI(ctx, args, env.Stdin, env.Stdout, env.Stderr, c.Loops)
}
