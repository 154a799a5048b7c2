// Package imagesbench turns what bench/images measured into its artifacts/bench.json rows,
// apart from the measuring (which needs podman) so `go test` checks them.
package imagesbench

import (
	"fmt"
	"time"

	"github.com/loopat/desktop/bench/report/benchkit"
)

// Goal (issue 16) and the noise margin beside it.
const (
	GoalHitMs = 150.0
	Margin    = benchkit.TimingMargin
	// Rebuild is the baseline's name.
	Rebuild = "child forced rebuild (--no-cache)"
)

// Result is every sample bench/images took.
type Result struct {
	BaseHits     []time.Duration // EnsureBase on a cache hit
	ChildHits    []time.Duration // EnsureLoopImage of a one-tool mise.toml on a cache hit
	ChildRebuild time.Duration   // the same child built --no-cache
}

// Check refuses a result with a side that measured nothing.
func (r Result) Check() error {
	if len(r.BaseHits) == 0 || len(r.ChildHits) == 0 || r.ChildRebuild <= 0 || benchkit.Median(r.BaseHits) <= 0 {
		return fmt.Errorf("images: %d base hits, %d child hits, rebuild %s", len(r.BaseHits), len(r.ChildHits), r.ChildRebuild)
	}
	return nil
}

// Rows are the artifacts/bench.json rows of r.
func Rows(r Result) []benchkit.Row {
	hit := benchkit.Ms(benchkit.Median(r.BaseHits))
	hitRow := benchkit.NewRow("images: sandbox image ensure on a cache hit", "ms", hit,
		map[string]float64{Rebuild: benchkit.Ms(r.ChildRebuild)}, Rebuild, len(r.BaseHits)).
		WithBounds(fmt.Sprintf("hit <= %g ms", GoalHitMs), Margin, benchkit.MaxLoopat(GoalHitMs))
	hitRow.Note = fmt.Sprintf("p95 %s; child cache hit %s", benchkit.Fmt(benchkit.Ms(benchkit.Percentile(r.BaseHits, 95)), "ms"),
		benchkit.Fmt(benchkit.Ms(benchkit.Median(r.ChildHits)), "ms"))
	childRow := benchkit.NewRow("images: child image build for a one-tool mise.toml (--no-cache)", "ms", benchkit.Ms(r.ChildRebuild), nil, "", 1)
	return []benchkit.Row{hitRow, childRow}
}
