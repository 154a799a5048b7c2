package cli

import (
	"context"
	"encoding/json"
	"fmt"
)

const doctorUsage = `usage: loopat doctor [--json]
Run the bootstrap checklist (engine, images, keychain, ...); exit 1 when something needs fixing.
  --json   print the results as JSON
`

func runDoctor(ctx context.Context, args []string, env Env) int {
	fs := newFlags("doctor")
	asJSON := fs.Bool("json", false, "")
	pos, code, ok := parse(fs, args, doctorUsage, env)
	if !ok {
		return code
	}
	if len(pos) > 0 {
		return usageError(env, "loopat doctor", fmt.Sprintf("unexpected argument %q", pos[0]), doctorUsage)
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
	if *asJSON {
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
