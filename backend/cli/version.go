package cli

import (
	"context"
	"fmt"
	"sort"

	"github.com/loopat/desktop/backend/version"
)

const versionUsage = `usage: loopat version
Print the versions of loopat and the components it ships.
`

func runVersion(_ context.Context, args []string, env Env) int {
	if len(args) > 0 {
		return usageError(env, "loopat version", fmt.Sprintf("unexpected argument %q", args[0]), versionUsage)
	}
	fmt.Fprintf(env.Stdout, "loopat %s\n", version.Version)
	comps := version.Components()
	names := make([]string, 0, len(comps))
	for n := range comps {
		if n != "loopat" {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(env.Stdout, "  %-16s %s\n", n, comps[n])
	}
	return 0
}
