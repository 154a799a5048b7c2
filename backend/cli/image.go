package cli

import (
	"context"
	"fmt"
	"time"

	"github.com/loopat/desktop/backend/core"
	"github.com/loopat/desktop/backend/images"
	"github.com/loopat/desktop/backend/vault"
)

func runImage(ctx context.Context, args []string, env Env) int {
	c, err := core.Open(ctx, core.Options{Stderr: env.Stderr})
	if err != nil {
		fmt.Fprintf(env.Stderr, "loopat image: %v\n", err)
		return 1
	}
	defer c.Close()
	c.Start(ctx)
	wait, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	if _, err := c.Engine.WaitReady(wait); err != nil {
		fmt.Fprintf(env.Stderr, "loopat image: podman engine not ready: %v\n", err)
		return 1
	}
	conn, err := c.Engine.Conn(ctx)
	if err != nil {
		fmt.Fprintf(env.Stderr, "loopat image: %v\n", err)
		return 1
	}
	return images.RunCLI(ctx, args, env.Stdout, c.Images, conn)
}

func runVault(ctx context.Context, args []string, env Env) int {
	c, err := core.Open(ctx, core.Options{Stderr: env.Stderr})
	if err != nil {
		fmt.Fprintf(env.Stderr, "loopat vault: %v\n", err)
		return 1
	}
	defer c.Close()
	return vault.RunCLI(ctx, args, env.Stdin, env.Stdout, env.Stderr, c.Vault)
}
