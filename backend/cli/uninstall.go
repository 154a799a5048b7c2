package cli

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"

	"golang.org/x/term"

	"github.com/loopat/desktop/backend/services"
	"github.com/loopat/desktop/backend/uninstall"
)

const uninstallUsage = `usage: loopat uninstall [--yes] [--keep-data] [--dry-run]
  --yes, -y     do not ask; remove without confirmation
  --keep-data   keep transcripts, workdirs, context repos and config.toml
  --dry-run     print the plan and change nothing

Exit codes: 0 removed (or dry run), 1 something could not be removed (listed),
2 usage, 3 not confirmed (nothing removed).
`

// exitNotConfirmed: the user did not confirm, nothing was removed.
const exitNotConfirmed = 3

func uninstallHelp(w io.Writer) { fmt.Fprint(w, uninstallUsage) }

// uninstallAPI is what `loopat uninstall` drives: services.UninstallService, the
// settings screen's Uninstall button (Run reports through the service's publisher).
type uninstallAPI interface {
	Plan(keepData bool) (uninstall.Plan, error)
	Run(confirmName string, keepData bool) error
}

type uninstallReq struct{ yes, keepData, dryRun bool }

func runUninstall(ctx context.Context, args []string, env Env) int {
	req, code, ok := parseUninstall(args, env)
	if !ok {
		return code
	}
	c := openCore(ctx, env, "uninstall", false)
	if c == nil {
		return exitFailed
	}
	defer c.Close()
	c.Start(ctx)
	interactive := false
	if f, ok := env.Stdin.(*os.File); ok {
		interactive = term.IsTerminal(int(f.Fd()))
	}
	deps := c.UninstallDeps()
	// The plan and the run share one connection living as long as this command (the
	// service's plan call has its own short context): an unreachable podman costs one
	// bounded wait, not two.
	waitEngine := deps.Conn
	deps.Conn = uninstall.OnceConn(func(context.Context) (context.Context, error) { return waitEngine(ctx) })
	u := newUninstallCLI(func(pub *uninstallEvents) uninstallAPI {
		return services.NewUninstallService(ctx, deps, pub)
	}, deps.Workspace.Name, env)
	return u.run(req, env, interactive)
}

func parseUninstall(args []string, env Env) (req uninstallReq, code int, ok bool) {
	fs := newFlags("uninstall")
	fs.BoolVar(&req.yes, "yes", false, "")
	fs.BoolVar(&req.yes, "y", false, "")
	fs.BoolVar(&req.keepData, "keep-data", false, "")
	fs.BoolVar(&req.dryRun, "dry-run", false, "")
	pos, code, ok := parse(fs, args, uninstallUsage, env)
	if !ok {
		return req, code, false
	}
	if len(pos) > 0 {
		return req, usageError(env, "loopat uninstall", fmt.Sprintf("unexpected argument %q", pos[0]), uninstallUsage), false
	}
	return req, exitOK, true
}

// uninstallEvents receives the service's events: progress is printed, the result ends
// the wait.
type uninstallEvents struct {
	out  io.Writer
	done chan uninstall.Result
}

func (e *uninstallEvents) Publish(topic string, data any) {
	switch topic {
	case services.TopicUninstallProgress:
		if s, ok := data.(uninstall.Step); ok && s.Status == uninstall.StatusRunning {
			fmt.Fprintf(e.out, "... %s\n", s.Step)
		}
	case services.TopicUninstallDone:
		if d, ok := data.(services.UninstallDone); ok {
			e.done <- d.Result
		}
	}
}

// uninstallCLI is `loopat uninstall` over the uninstall service.
type uninstallCLI struct {
	svc       uninstallAPI
	events    *uninstallEvents
	workspace string
}

func newUninstallCLI(newSvc func(*uninstallEvents) uninstallAPI, workspace string, env Env) uninstallCLI {
	ev := &uninstallEvents{out: env.Stdout, done: make(chan uninstall.Result, 1)}
	return uninstallCLI{svc: newSvc(ev), events: ev, workspace: workspace}
}

// run prints the plan, then asks to type the workspace name when interactive; without
// --yes a non-interactive run removes nothing.
func (u uninstallCLI) run(req uninstallReq, env Env, interactive bool) int {
	const name = "loopat uninstall"
	plan, err := u.svc.Plan(req.keepData)
	if err != nil {
		return fail(env, name, err)
	}
	plan.DryRun = req.dryRun
	plan.Render(env.Stdout)
	if req.dryRun {
		fmt.Fprintln(env.Stdout, "\nDry run: nothing was changed.")
		return exitOK
	}
	confirm := u.workspace
	if !req.yes {
		if !interactive {
			fmt.Fprintln(env.Stderr, "\nloopat uninstall: not a terminal and --yes not given: nothing removed.")
			return exitNotConfirmed
		}
		fmt.Fprintf(env.Stdout, "\nType the workspace name (%s) to uninstall it, anything else to cancel: ", plan.Workspace)
		confirm = readLine(env.Stdin)
		if !uninstall.Confirmed(confirm, u.workspace) {
			fmt.Fprintln(env.Stdout, "Cancelled: nothing removed.")
			return exitNotConfirmed
		}
	}
	fmt.Fprintln(env.Stdout)
	if err := u.svc.Run(confirm, req.keepData); err != nil {
		return fail(env, name, err)
	}
	res := <-u.events.done
	res.Render(env.Stdout)
	if !res.Complete() {
		return exitFailed
	}
	return exitOK
}

func readLine(in io.Reader) string {
	if in == nil {
		return ""
	}
	line, _ := bufio.NewReader(in).ReadString('\n')
	return line
}
