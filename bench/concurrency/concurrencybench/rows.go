// Package concurrencybench turns what bench/concurrency measured through `loopat serve`
// (many loops started at once, loops working at once, the loop list, memory per loop) into
// its artifacts/bench.json rows, apart from the measuring so `go test` checks them.
package concurrencybench

import (
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/loopat/desktop/bench/report/benchkit"
)

// Goal (issue 16) and the noise margin beside it.
const (
	GoalBurstVsOne = 2.0
	Margin         = benchkit.TimingMargin
	OneLoop        = "one loop's start (same run)"
)

// Start is one loop's start as the client saw it: from its Create call to each event.
type Start struct {
	Create, Starting, Working, FirstToken time.Duration
}

// Curve is one point of a scale curve: N loops and what was measured with them.
type Curve struct {
	N       int
	Samples []time.Duration // turn latencies, or list RPC times
	KiB     int64           // serve's host-side RSS (memory curve only)
}

// Result is everything bench/concurrency measured.
type Result struct {
	Single []Start // one loop started alone (each its own run)
	Burst  []Start // the loops started at once
	// BurstAll is the click on the first to the last first token.
	BurstAll time.Duration
	// Curves (may be empty when not run).
	Memory []Curve // serve RSS (with its children) with N loops running
	Turns  []Curve // first-token latency of a later turn with N loops working at once
	List   []Curve // LoopService.List over HTTP with N loops in the workspace
}

// Check refuses a result that measured nothing.
func (r Result) Check() error {
	if len(r.Single) == 0 || len(r.Burst) == 0 || r.BurstAll <= 0 {
		return fmt.Errorf("concurrency: %d single starts, %d at once, all done in %s", len(r.Single), len(r.Burst), r.BurstAll)
	}
	for _, s := range append(append([]Start{}, r.Single...), r.Burst...) {
		if s.FirstToken <= 0 || s.Create > s.FirstToken {
			return errors.New("concurrency: a start without its first token")
		}
	}
	for _, c := range append(append(append([]Curve{}, r.Memory...), r.Turns...), r.List...) {
		if c.N <= 0 || (len(c.Samples) == 0 && c.KiB <= 0) {
			return fmt.Errorf("concurrency: curve point %+v measured nothing", c)
		}
	}
	return nil
}

func firsts(ss []Start) []time.Duration {
	var ds []time.Duration
	for _, s := range ss {
		ds = append(ds, s.FirstToken)
	}
	return ds
}

// Rows are the artifacts/bench.json rows of r.
func Rows(r Result) []benchkit.Row {
	one := benchkit.Ms(benchkit.Median(firsts(r.Single)))
	burst := benchkit.NewRow(fmt.Sprintf("concurrency: %d new loops at once through serve, all replied (first token)", len(r.Burst)), "ms",
		benchkit.Ms(r.BurstAll), map[string]float64{OneLoop: one}, OneLoop, len(r.Burst)).
		WithBounds(fmt.Sprintf("all %d <= %gx one", len(r.Burst), GoalBurstVsOne), Margin, benchkit.MaxRatio(GoalBurstVsOne))
	ds := firsts(r.Burst)
	sort.Slice(r.Burst, func(i, j int) bool { return r.Burst[i].FirstToken < r.Burst[j].FirstToken })
	last := r.Burst[len(r.Burst)-1]
	burst.Note = fmt.Sprintf("p50 %s; slowest: created %s, starting %s, working %s, first token %s after the clicks",
		benchkit.Fmt(benchkit.Ms(benchkit.Median(ds)), "ms"), benchkit.Fmt(benchkit.Ms(last.Create), "ms"),
		benchkit.Fmt(benchkit.Ms(last.Starting), "ms"), benchkit.Fmt(benchkit.Ms(last.Working), "ms"), benchkit.Fmt(benchkit.Ms(last.FirstToken), "ms"))
	rows := []benchkit.Row{burst}
	rows = append(rows, curveRows(r.Memory, func(c Curve, base Curve) benchkit.Row {
		row := benchkit.NewRow(fmt.Sprintf("scale: serve host-side RSS with %d loops running", c.N), "MB", float64(c.KiB)/1024, nil, "", 1)
		if c.N > base.N {
			row.Note = fmt.Sprintf("%.1f MB per loop beyond %d", float64(c.KiB-base.KiB)/1024/float64(c.N-base.N), base.N)
		}
		return row
	})...)
	rows = append(rows, curveRows(r.Turns, func(c Curve, base Curve) benchkit.Row {
		row := benchkit.NewRow(fmt.Sprintf("scale: later turn first token with %d loops working at once (p50)", c.N), "ms",
			benchkit.Ms(benchkit.Median(c.Samples)), nil, "", len(c.Samples))
		row.Note = "p95 " + benchkit.Fmt(benchkit.Ms(benchkit.Percentile(c.Samples, 95)), "ms")
		return ratioToFirst(row, c, base, "with %d loop(s) working (p50)")
	})...)
	rows = append(rows, curveRows(r.List, func(c Curve, base Curve) benchkit.Row {
		row := benchkit.NewRow(fmt.Sprintf("scale: loop list RPC with %d loops (p50)", c.N), "ms",
			benchkit.Ms(benchkit.Median(c.Samples)), nil, "", len(c.Samples))
		row.Note = "p95 " + benchkit.Fmt(benchkit.Ms(benchkit.Percentile(c.Samples, 95)), "ms")
		return ratioToFirst(row, c, base, "with %d loops (p50)")
	})...)
	return rows
}

// ratioToFirst puts the curve's first point beside a later one, with the growth a linear
// cost would give in the note (growth beyond it is what must be fixed).
func ratioToFirst(row benchkit.Row, c, base Curve, name string) benchkit.Row {
	if c.N == base.N {
		return row
	}
	b := fmt.Sprintf(name, base.N)
	v := benchkit.Ms(benchkit.Median(base.Samples))
	if v <= 0 {
		return row
	}
	out := benchkit.NewRow(row.Name, row.Unit, row.Loopat, map[string]float64{b: v}, b, row.N)
	out.Note = fmt.Sprintf("%s; %d× the loops", row.Note, c.N/base.N)
	return out
}

func curveRows(cs []Curve, row func(c, base Curve) benchkit.Row) []benchkit.Row {
	var rows []benchkit.Row
	for _, c := range cs {
		rows = append(rows, row(c, cs[0]))
	}
	return rows
}
