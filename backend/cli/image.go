package cli

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/loopat/desktop/backend/images"
	"github.com/loopat/desktop/backend/vault"
)

// imageHelp is images' own usage (images.RunCLI answers help before touching the builder).
func imageHelp(w io.Writer) { images.RunCLI(context.Background(), []string{"help"}, w, nil, nil) }

// vaultHelp is the vault's own usage (vault.RunCLI answers help before touching the keychain).
func vaultHelp(w io.Writer) { vault.RunCLI(context.Background(), []string{"help"}, nil, w, w, nil) }

func runImage(ctx context.Context, args []string, env Env) int {
	if len(args) == 0 {
		return usageError(env, "loopat image", "missing command", imageUsage())
	}
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

func imageUsage() string {
	var b strings.Builder
	imageHelp(&b)
	return b.String()
}

func runVault(ctx context.Context, args []string, env Env) int {
	c := openCore(ctx, env, "vault", false)
	if c == nil {
		return 1
	}
	defer c.Close()
	return vault.RunCLI(ctx, args, env.Stdin, env.Stdout, env.Stderr, c.Vault)
}
