// Package hostexecbench turns what bench/hostexec measured into its artifacts/bench.json
// row, apart from the measuring (which needs a loop's container) so `go test` checks it.
package hostexecbench

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/loopat/desktop/bench/report/benchkit"
)

// Goals (issue 16) and the noise margin beside them.
const (
	GoalRatio = 0.1
	GoalP50Ms = 10.0
	Margin    = benchkit.TimingMargin
	// PodmanExec is the baseline's name.
	PodmanExec = "podman exec <ctr> true (p50)"
)

// Result is every sample bench/hostexec took.
type Result struct {
	InLoop     []time.Duration // loopat-host true, timed inside the loop
	PodmanExec []time.Duration // podman exec <ctr> true, timed on the host
	Ready      time.Duration   // image, container create and start, host link
}

// ParseMicros reads the bash loop's output: one duration in microseconds per line.
func ParseMicros(out string, want int) ([]time.Duration, error) {
	var ds []time.Duration
	for _, f := range strings.Fields(out) {
		us, err := strconv.Atoi(f)
		if err != nil || us < 0 {
			return nil, fmt.Errorf("parse timing %q (loopat-host said: %s)", f, out)
		}
		ds = append(ds, time.Duration(us)*time.Microsecond)
	}
	if len(ds) != want {
		return nil, fmt.Errorf("got %d timings, want %d", len(ds), want)
	}
	return ds, nil
}

// Check refuses a result with a side that measured nothing.
func (r Result) Check() error {
	if len(r.InLoop) == 0 || len(r.PodmanExec) == 0 || benchkit.Median(r.InLoop) <= 0 || benchkit.Median(r.PodmanExec) <= 0 {
		return fmt.Errorf("hostexec: %d loopat-host and %d podman exec samples", len(r.InLoop), len(r.PodmanExec))
	}
	return nil
}

// Rows are the artifacts/bench.json rows of r.
func Rows(r Result) []benchkit.Row {
	row := benchkit.NewRow("hostexec: loopat-host true in a loop of the app (p50)", "ms", benchkit.Ms(benchkit.Median(r.InLoop)),
		map[string]float64{PodmanExec: benchkit.Ms(benchkit.Median(r.PodmanExec))}, PodmanExec, len(r.InLoop)).
		WithBounds(fmt.Sprintf("<= %gx and p50 <= %g ms", GoalRatio, GoalP50Ms), Margin, benchkit.MaxRatio(GoalRatio), benchkit.MaxLoopat(GoalP50Ms))
	row.Note = fmt.Sprintf("p95 %s; podman exec n=%d; loop container ready (image, create, start, link) in %s",
		benchkit.Fmt(benchkit.Ms(benchkit.Percentile(r.InLoop, 95)), "ms"), len(r.PodmanExec), r.Ready.Round(time.Millisecond))
	return []benchkit.Row{row}
}
