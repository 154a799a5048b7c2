// Package loopsbench turns what bench/loops measured into its artifacts/bench.json rows:
// kept apart from the measuring (which needs podman) so a plain `go test` checks that the
// rows carry every field and refuse a run that measured nothing.
package loopsbench

import (
	"fmt"
	"time"

	"github.com/loopat/desktop/bench/report/benchkit"
)

// Goals (issue 16) and the noise margin beside them.
const (
	GoalStartVsByHand = 0.8
	GoalTurnVsFloor   = 1.2
	Margin            = benchkit.TimingMargin
)

// Baseline names, as the rows and docs/benchmarks.md show them.
const (
	ByHand    = "by hand (podman run -d + exec claude -p)"
	StartFlr  = "floor (bindings create+start+exec)"
	OneShot   = "one-shot claude -p"
	TurnFloor = "floor (CLI stream-json loop, no loopat)"
)

// Phase is one step of a loop start, at its offset from the click on "New loop".
type Phase struct {
	LoopID string
	What   string
	At     time.Duration
	Took   time.Duration // since the previous step
}

// Result is every sample bench/loops took.
type Result struct {
	Starts, ByHand, Floor     []time.Duration // loop start -> first token (the user's path: warm loop on)
	ColdStarts                []time.Duration // loop start with [loops] warm = false
	Later, OneShot, CLILoop   []time.Duration // later turn -> first token
	Ensure, VaultRead, Clones []time.Duration // steps inside a loop start
	Phases                    []Phase         // the last loop start, step by step
}

// Check refuses a result with a missing or empty side.
func (r Result) Check() error {
	sides := map[string][]time.Duration{"loopat starts": r.Starts, "by hand": r.ByHand, "floor": r.Floor,
		"cold starts": r.ColdStarts, "later turns": r.Later, "one-shot": r.OneShot, "CLI loop": r.CLILoop, "image ensure": r.Ensure, "vault read": r.VaultRead}
	for name, s := range sides {
		if len(s) == 0 || benchkit.Median(s) <= 0 {
			return fmt.Errorf("loops: %s not measured", name)
		}
	}
	if len(r.Starts) != len(r.ByHand) || len(r.Starts) != len(r.Floor) {
		return fmt.Errorf("loops: %d/%d/%d starts per side", len(r.Starts), len(r.ByHand), len(r.Floor))
	}
	if len(r.Phases) == 0 {
		return fmt.Errorf("loops: no breakdown of the last start")
	}
	return nil
}

func med(ds []time.Duration) float64 { return benchkit.Ms(benchkit.Median(ds)) }

// Rows are the artifacts/bench.json rows of r.
func Rows(r Result) []benchkit.Row {
	start := benchkit.NewRow("loops: loop start (new loop -> first token)", "ms", med(r.Starts),
		map[string]float64{ByHand: med(r.ByHand), StartFlr: med(r.Floor)}, ByHand, len(r.Starts))
	start = start.WithBounds(fmt.Sprintf("<= %gx by hand (aim 0.5x)", GoalStartVsByHand), Margin, benchkit.MaxRatio(GoalStartVsByHand))
	start.Note = fmt.Sprintf("floor ratio %.2fx", med(r.Starts)/med(r.Floor))
	cold := benchkit.NewRow("loops: cold loop start, warm loop off (new loop -> first token)", "ms", med(r.ColdStarts),
		map[string]float64{ByHand: med(r.ByHand), StartFlr: med(r.Floor)}, ByHand, len(r.ColdStarts))
	cold.Note = "no goal: the cold path a loop with a repo or another vault, or the first loop after a settings change, takes"
	turn := benchkit.NewRow("loops: later turn (first token)", "ms", med(r.Later),
		map[string]float64{OneShot: med(r.OneShot), TurnFloor: med(r.CLILoop)}, TurnFloor, len(r.Later))
	turn = turn.WithBounds(fmt.Sprintf("<= %gx floor", GoalTurnVsFloor), Margin, benchkit.MaxRatio(GoalTurnVsFloor))
	turn.Note = fmt.Sprintf("vs one-shot %.2fx", med(r.Later)/med(r.OneShot))
	rows := []benchkit.Row{start, cold, turn,
		benchkit.NewRow("loops: image ensure on a cache hit (in a loop start)", "ms", med(r.Ensure), nil, "", len(r.Ensure)),
		benchkit.NewRow("loops: vault read, env and file secrets (in a loop start)", "ms", med(r.VaultRead), nil, "", len(r.VaultRead)),
	}
	// Empty without context remotes: then no clones ran and there is nothing to show.
	if len(r.Clones) > 0 && med(r.Clones) > 0 {
		rows = append(rows, benchkit.NewRow("loops: context clones of a new loop (in a loop start)", "ms", med(r.Clones), nil, "", len(r.Clones)))
	}
	return append(rows, PhaseRow(r.Phases))
}

// PhaseRow keeps the breakdown in bench.json (loopat = first token; baselines = steps).
func PhaseRow(ph []Phase) benchkit.Row {
	steps := map[string]float64{}
	var total time.Duration
	for i, p := range ph {
		// A step podman reports in the same microsecond as the one before still took time.
		steps[fmt.Sprintf("%02d %s", i, p.What)] = max(benchkit.Ms(p.Took), 0.001)
		total = p.At
	}
	r := benchkit.NewRow("loops: loop start breakdown (last run; ms per step)", "ms", benchkit.Ms(total), steps, "", 1)
	r.Note = "each baseline is one step's duration since the step before"
	return r
}
