package cli

import (
	"context"
	"encoding/json"
	"fmt"
)

func runDoctor(ctx context.Context, args []string, env Env) int {
	args, asJSON := hasFlag(args, "--json")
	if len(args) > 0 {
		fmt.Fprintln(env.Stderr, "usage: loopat doctor [--json]")
		return 2
	}
	c := openCore(ctx, env, "doctor", false)
	if c == nil {
		return 1
	}
	defer c.Close()
	c.Start(ctx)
	results := c.Doctor(ctx)
	failed := 0
	for _, r := range results {
		if !r.OK {
			failed++
		}
	}
	if asJSON {
		enc := json.NewEncoder(env.Stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(results); err != nil {
			fmt.Fprintf(env.Stderr, "loopat doctor: %v\n", err)
			return 1
		}
	} else {
		fmt.Fprintf(env.Stdout, "loopat bootstrap - %s\n", c.Workspace.Name)
		for _, r := range results {
			mark := "✓"
			if !r.OK {
				mark = "✗"
			}
			fmt.Fprintf(env.Stdout, "  %s %s\n", mark, r.Label)
			if !r.OK && r.Hint != "" {
				fmt.Fprintf(env.Stdout, "      -> %s\n", r.Hint)
			}
		}
		if failed == 0 {
			fmt.Fprintln(env.Stdout, "ready.")
		} else {
			fmt.Fprintf(env.Stdout, "%d thing(s) to fix - see hints above.\n", failed)
		}
	}
	if failed > 0 {
		return 1
	}
	return 0
}
