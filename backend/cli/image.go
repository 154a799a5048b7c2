package cli

import (
	"context"
	"fmt"

	"github.com/loopat/desktop/backend/images"
	"github.com/loopat/desktop/backend/vault"
)

func runImage(ctx context.Context, args []string, env Env) int {
	c := openCore(ctx, env, "image", false)
	if c == nil {
		return 1
	}
	defer c.Close()
	c.Start(ctx)
	conn, err := c.WaitEngine(ctx)
	if err != nil {
		fmt.Fprintf(env.Stderr, "loopat image: %v\n", err)
		return 1
	}
	return images.RunCLI(ctx, args, env.Stdout, c.Images, conn)
}

func runVault(ctx context.Context, args []string, env Env) int {
	c := openCore(ctx, env, "vault", false)
	if c == nil {
		return 1
	}
	defer c.Close()
	return vault.RunCLI(ctx, args, env.Stdin, env.Stdout, env.Stderr, c.Vault)
}
