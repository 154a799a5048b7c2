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
	// OneCold is the goal's baseline: what the issue measured (one loop, before warm
	// loops existed), from a second serve with [loops] warm = false in the same run.
	OneCold = "one cold loop start (warm loop off, same run)"
	// OneWarm is one loop handed the prepared warm loop, as a user's single click gets it.
	OneWarm = "one warm loop start (same run)"
)

// CPU is CPU seconds spent while loops started, split by where it went (cpu.go in
// bench/concurrency reads the counters). Machine is all CPUs' busy time, other engineers'
// and the system's included; the parts are this bench's own: serve, its podman service
// (with runc create and the CNI plugins it reaped), podman's conmon cgroup (conmons and
// the runc they run, every workspace's) and this workspace's containers (agent, relay,
// exec'd processes).
type CPU struct {
	Loops                                       int // loop starts measured
	Machine, Serve, Service, Conmon, Containers float64
}

// Other is the machine's busy time outside the named parts.
func (c CPU) Other() float64 {
	return max(0, c.Machine-c.Serve-c.Service-c.Conmon-c.Containers)
}

// Split is "serve 0.10, podman service 0.40, conmon+runc 0.20, containers 1.10, rest of the machine 0.30 CPU-s".
func (c CPU) Split() string {
	return fmt.Sprintf("serve %.2f, podman service %.2f, conmon+runc %.2f, containers %.2f, rest of the machine %.2f CPU-s",
		c.Serve, c.Service, c.Conmon, c.Containers, c.Other())
}

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
	Cold   []Start // one loop started alone on a serve with warm loops off
	Single []Start // one loop started alone on the default serve (handed the warm loop when ready)
	Burst  []Start // the loops started at once (default serve: warm loop on, as users get it)
	// CPU of the cold single start and of the burst (zero Loops: not measured).
	CPUCold, CPUBurst CPU
	// BurstAll is the click on the first to the last first token.
	BurstAll time.Duration
	// BurstLoad is the 1-minute load average right after the burst and BurstAt when: the
	// burst's rows carry them (the rows are made at the end of the run, when the load
	// of the later phases is another).
	BurstLoad float64
	BurstAt   time.Time
	// Curves (may be empty when not run).
	Memory []Curve // serve RSS (with its children) with N loops running
	Turns  []Curve // first-token latency of a later turn with N loops working at once
	List   []Curve // LoopService.List over HTTP with N loops in the workspace
}

// Check refuses a result that measured nothing.
func (r Result) Check() error {
	if len(r.Cold) == 0 || len(r.Single) == 0 || len(r.Burst) == 0 || r.BurstAll <= 0 {
		return fmt.Errorf("concurrency: %d cold and %d warm single starts, %d at once, all done in %s", len(r.Cold), len(r.Single), len(r.Burst), r.BurstAll)
	}
	for _, c := range []CPU{r.CPUCold, r.CPUBurst} {
		if c.Loops > 0 && c.Machine <= 0 {
			return fmt.Errorf("concurrency: CPU of %d starts measured nothing", c.Loops)
		}
	}
	for _, s := range append(append(append([]Start{}, r.Cold...), r.Single...), r.Burst...) {
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
	cold := benchkit.Ms(benchkit.Median(firsts(r.Cold)))
	warm := benchkit.Ms(benchkit.Median(firsts(r.Single)))
	n := len(r.Burst)
	burst := benchkit.NewRow(fmt.Sprintf("concurrency: %d new loops at once through serve, all replied (first token)", n), "ms",
		benchkit.Ms(r.BurstAll), map[string]float64{OneCold: cold, OneWarm: warm}, OneCold, n).
		WithBounds(fmt.Sprintf("all %d <= %gx one cold start", n, GoalBurstVsOne), Margin, benchkit.MaxRatio(GoalBurstVsOne))
	ds := firsts(r.Burst)
	warmInBurst := 0
	for _, b := range r.Burst {
		if b.Starting == 0 { // a warm loop is started already: no "starting" status
			warmInBurst++
		}
	}
	sort.Slice(r.Burst, func(i, j int) bool { return r.Burst[i].FirstToken < r.Burst[j].FirstToken })
	last := r.Burst[len(r.Burst)-1]
	vsWarm := ""
	if warm > 0 {
		vsWarm = fmt.Sprintf("%.1f× one warm start; ", benchkit.Ms(r.BurstAll)/warm)
	}
	burst.Note = fmt.Sprintf("cold baseline: median of %d starts; %sthe %d run on the default serve (warm loop on): %d of them handed a warm loop, the rest cold; p50 %s; slowest: created %s, starting %s, working %s, first token %s after the clicks",
		len(r.Cold), vsWarm, n, warmInBurst, benchkit.Fmt(benchkit.Ms(benchkit.Median(ds)), "ms"), benchkit.Fmt(benchkit.Ms(last.Create), "ms"),
		benchkit.Fmt(benchkit.Ms(last.Starting), "ms"), benchkit.Fmt(benchkit.Ms(last.Working), "ms"), benchkit.Fmt(benchkit.Ms(last.FirstToken), "ms"))
	rows := []benchkit.Row{r.atBurst(burst)}
	for _, c := range []struct {
		name string
		cpu  CPU
	}{{"concurrency: CPU of one cold loop start (new loop -> first token)", r.CPUCold},
		{fmt.Sprintf("concurrency: CPU of %d new loops at once, per loop", n), r.CPUBurst}} {
		if c.cpu.Loops <= 0 {
			continue
		}
		per := func(v float64) float64 { return v / float64(c.cpu.Loops) }
		row := benchkit.NewRow(c.name, "CPU-s", per(c.cpu.Machine), nil, "", c.cpu.Loops)
		p := c.cpu
		p.Machine, p.Serve, p.Service, p.Conmon, p.Containers = per(p.Machine), per(p.Serve), per(p.Service), per(p.Conmon), per(p.Containers)
		row.Note = "machine-wide busy time per loop (other load included): " + p.Split()
		rows = append(rows, r.atBurst(row))
	}
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

// atBurst stamps row with the time and load of the burst, when they were taken.
func (r Result) atBurst(row benchkit.Row) benchkit.Row {
	if !r.BurstAt.IsZero() {
		row.Measured, row.Load1 = r.BurstAt.UTC().Format("2006-01-02 15:04 UTC"), r.BurstLoad
	}
	return row
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
