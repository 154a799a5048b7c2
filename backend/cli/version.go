package cli

import (
	"context"
	"fmt"
	"sort"

	"github.com/loopat/desktop/backend/version"
)

func runVersion(_ context.Context, _ []string, env Env) int {
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
