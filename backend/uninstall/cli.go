package uninstall

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"io"
	"strings"
)

const cliUsage = `usage: loopat uninstall [--yes] [--keep-data] [--dry-run]
  --yes         do not ask; remove without confirmation
  --keep-data   keep transcripts, workdirs, context repos and config.toml
  --dry-run     print the plan and change nothing
`

// Exit codes of RunCLI.
const (
	ExitOK         = 0
	ExitFailed     = 1 // something could not be removed (listed)
	ExitUsage      = 2
	ExitNotConfirm = 3 // not confirmed: nothing removed
)

// RunCLI runs `loopat uninstall` (args after "uninstall"; a leading "uninstall" is
// accepted). It prints the plan, then asks to type the workspace name when interactive;
// without --yes a non-interactive run removes nothing.
func RunCLI(ctx context.Context, args []string, in io.Reader, out, errOut io.Writer, deps Deps, interactive bool) int {
	if len(args) > 0 && args[0] == "uninstall" {
		args = args[1:]
	}
	fs := flag.NewFlagSet("uninstall", flag.ContinueOnError)
	fs.SetOutput(errOut)
	fs.Usage = func() { fmt.Fprint(errOut, cliUsage) }
	yes := fs.Bool("yes", false, "")
	fs.BoolVar(yes, "y", false, "")
	keep := fs.Bool("keep-data", false, "")
	dry := fs.Bool("dry-run", false, "")
	if err := fs.Parse(args); err != nil {
		if err == flag.ErrHelp {
			return ExitOK
		}
		return ExitUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(errOut, "loopat uninstall: unexpected argument %q\n%s", fs.Arg(0), cliUsage)
		return ExitUsage
	}
	opts := Options{KeepData: *keep, DryRun: *dry}
	deps.Conn = onceConn(deps.Conn) // an unreachable podman costs one bounded wait, not two
	plan, err := MakePlan(ctx, deps, opts)
	if err != nil {
		fmt.Fprintf(errOut, "loopat uninstall: %v\n", err)
		return ExitFailed
	}
	plan.Render(out)
	if opts.DryRun {
		fmt.Fprintln(out, "\nDry run: nothing was changed.")
		return ExitOK
	}
	if !*yes {
		if !interactive {
			fmt.Fprintln(errOut, "\nloopat uninstall: not a terminal and --yes not given: nothing removed.")
			return ExitNotConfirm
		}
		fmt.Fprintf(out, "\nType the workspace name (%s) to uninstall it, anything else to cancel: ", plan.Workspace)
		if !Confirmed(readLine(in), plan.Workspace) {
			fmt.Fprintln(out, "Cancelled: nothing removed.")
			return ExitNotConfirm
		}
	}
	fmt.Fprintln(out)
	res := Run(ctx, deps, opts, func(s Step) {
		if s.Status == StatusRunning {
			fmt.Fprintf(out, "... %s\n", s.Step)
		}
	})
	res.Render(out)
	if !res.Complete() {
		return ExitFailed
	}
	return ExitOK
}

// Confirmed reports whether typed confirms uninstalling workspace (exact name, surrounding
// blanks ignored).
func Confirmed(typed, workspace string) bool {
	return workspace != "" && strings.TrimSpace(typed) == workspace
}

func readLine(in io.Reader) string {
	if in == nil {
		return ""
	}
	line, _ := bufio.NewReader(in).ReadString('\n')
	return line
}
