package cli

import (
	"context"
	"fmt"

	"github.com/loopat/desktop/backend/engine"
	"github.com/loopat/desktop/backend/loops"
)

// loopNeedsEngine lists the `loopat loop` commands that start containers. A fresh process
// has only begun discovering the engine when it gets here, so they wait for it (bounded,
// saying so) instead of failing with "podman engine is starting".
var loopNeedsEngine = map[string]bool{"send": true}

func runLoop(ctx context.Context, args []string, env Env) int {
	c := openCore(ctx, env, "loop", false)
	if c == nil {
		return 1
	}
	defer c.Close()
	c.Start(ctx)
	sub := args
	if len(sub) > 0 && sub[0] == "loop" {
		sub = sub[1:]
	}
	if len(sub) > 0 && loopNeedsEngine[sub[0]] {
		if st := c.Engine.State(); st.Phase != engine.PhaseReady {
			fmt.Fprintf(env.Stderr, "loopat: waiting for the container engine (%s)…\n", st.Phase)
		}
		if _, err := c.WaitEngine(ctx); err != nil {
			fmt.Fprintf(env.Stderr, "loopat loop %s: %v\n", sub[0], err)
			return 1
		}
	}
	return loops.RunCLI(ctx, args, env.Stdin, env.Stdout, env.Stderr, c.Loops)
}
