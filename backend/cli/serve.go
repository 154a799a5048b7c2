package cli

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os/signal"
	"syscall"
	"time"

	"github.com/loopat/desktop/backend/control"
	"github.com/loopat/desktop/backend/server"
)

const serveUsage = `usage: loopat serve [--addr HOST:PORT]
Serve the app to a browser; the printed link carries the session token.
  --addr HOST:PORT   loopback address to listen on (default 127.0.0.1:10001);
                     other addresses are refused
`

func runServe(ctx context.Context, args []string, env Env) int {
	fs := newFlags("serve")
	addr := fs.String("addr", "127.0.0.1:10001", "")
	pos, code, ok := parse(fs, args, serveUsage, env)
	if !ok {
		return code
	}
	if len(pos) > 0 {
		return usageError(env, "loopat serve", fmt.Sprintf("unexpected argument %q", pos[0]), serveUsage)
	}
	host, _, err := net.SplitHostPort(*addr)
	if err != nil {
		return usageError(env, "loopat serve", fmt.Sprintf("bad --addr %q: %v", *addr, err), serveUsage)
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return usageError(env, "loopat serve", fmt.Sprintf("refusing to listen on %s: only loopback addresses are allowed", host), serveUsage)
	}
	ctx, stop := signal.NotifyContext(ctx, syscall.SIGINT, syscall.SIGTERM)
	defer stop()

	c := openCore(ctx, env, "serve", true)
	if c == nil {
		return 1
	}
	defer c.Close()
	c.Start(ctx)
	// `loopat loop pending|answer` in another terminal reach this process's loops.
	defer control.Start(c.Workspace, c.Registry(), c.Log)()

	token, err := server.NewToken()
	if err != nil {
		fmt.Fprintf(env.Stderr, "loopat serve: %v\n", err)
		return 1
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		fmt.Fprintf(env.Stderr, "loopat serve: listen %s: %v\n", *addr, err)
		return 1
	}
	srv := &http.Server{
		Handler: server.New(server.Options{
			Registry: c.Registry(), Bus: c.Bus, Assets: env.Assets, Token: token, Health: c.Health, Log: c.Log,
		}).Handler(),
		ReadHeaderTimeout: 10 * time.Second,
	}
	url := fmt.Sprintf("http://%s/?token=%s", ln.Addr(), token)
	fmt.Fprintf(env.Stdout, "loopat serving workspace %q at\n    %s\n", c.Workspace.Name, url)
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case <-ctx.Done():
	case err := <-errc:
		if !errors.Is(err, http.ErrServerClosed) {
			fmt.Fprintf(env.Stderr, "loopat serve: %v\n", err)
			return 1
		}
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = srv.Shutdown(shutdownCtx)
	return 0
}
