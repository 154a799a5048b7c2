package cli

import (
	"context"
	"io"
	"os"

	"golang.org/x/term"

	"github.com/loopat/desktop/backend/uninstall"
)

// uninstallHelp is uninstall's own usage (its flags are parsed before anything is touched).
func uninstallHelp(w io.Writer) {
	uninstall.RunCLI(context.Background(), []string{"--help"}, nil, w, w, uninstall.Deps{}, false)
}

func runUninstall(ctx context.Context, args []string, env Env) int {
	c := openCore(ctx, env, "uninstall", false)
	if c == nil {
		return 1
	}
	defer c.Close()
	c.Start(ctx)
	interactive := false
	if f, ok := env.Stdin.(*os.File); ok {
		interactive = term.IsTerminal(int(f.Fd()))
	}
	return uninstall.RunCLI(ctx, args, env.Stdin, env.Stdout, env.Stderr, c.UninstallDeps(), interactive)
}
