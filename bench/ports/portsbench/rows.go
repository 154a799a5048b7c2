// Package portsbench turns what bench/ports measured into its artifacts/bench.json rows,
// apart from the measuring (which needs a loop's container) so `go test` checks it.
package portsbench

import (
	"fmt"
	"sort"
	"time"

	"github.com/loopat/desktop/bench/report/benchkit"
)

// Baseline names.
const (
	PodmanExecCat = "podman exec <ctr> cat <file>"
	DirectIP      = "direct to the container IP"
)

// Result is every sample bench/ports took.
type Result struct {
	FileBytes int64
	// Throughputs in bytes/s, one per transfer of the whole file.
	Forward, ExecCat, Direct []float64 // Direct is empty when the container IP is not reachable (rootless, macOS VM)
	// Latency of one small HTTP GET on a new connection.
	ForwardLatency, DirectLatency []time.Duration
	DirectNote                    string // why there is no direct baseline, if there is none
}

// Check refuses a result with a side that measured nothing.
func (r Result) Check() error {
	if r.FileBytes <= 0 || len(r.Forward) == 0 || len(r.ExecCat) == 0 || len(r.ForwardLatency) == 0 {
		return fmt.Errorf("ports: %d bytes, %d forward, %d exec cat, %d latency samples", r.FileBytes, len(r.Forward), len(r.ExecCat), len(r.ForwardLatency))
	}
	if len(r.Direct) == 0 && r.DirectNote == "" {
		return fmt.Errorf("ports: no direct baseline and no reason given")
	}
	for _, v := range append(append(append([]float64{}, r.Forward...), r.ExecCat...), r.Direct...) {
		if v <= 0 {
			return fmt.Errorf("ports: a throughput sample of %v bytes/s", v)
		}
	}
	return nil
}

func medianF(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// MBps is bytes/s in MB/s (10^6), two decimals.
func MBps(bps float64) float64 { return float64(int64(bps/1e6*100+0.5)) / 100 }

// Rows are the artifacts/bench.json rows of r: throughput (median of the transfers) and
// small-request latency (p50). No goal: the issue asks for the comparison.
func Rows(r Result) []benchkit.Row {
	tb := map[string]float64{PodmanExecCat: MBps(medianF(r.ExecCat))}
	if len(r.Direct) > 0 {
		tb[DirectIP] = MBps(medianF(r.Direct))
	}
	through := benchkit.NewRow("ports: bytes/s of a file through a forward (median)", "MB/s", MBps(medianF(r.Forward)), tb, PodmanExecCat, len(r.Forward))
	through.Note = fmt.Sprintf("%d MiB file served by python3 -m http.server in the loop, read over http://127.0.0.1:<forward>/", r.FileBytes>>20)
	lat := benchkit.NewRow("ports: small HTTP GET on a new connection through a forward (p50)", "ms", benchkit.Ms(benchkit.Median(r.ForwardLatency)), nil, "", len(r.ForwardLatency))
	if len(r.DirectLatency) > 0 {
		lat = benchkit.NewRow(lat.Name, "ms", lat.Loopat, map[string]float64{DirectIP: benchkit.Ms(benchkit.Median(r.DirectLatency))}, DirectIP, len(r.ForwardLatency))
	}
	lat.Note = fmt.Sprintf("p95 %s", benchkit.Fmt(benchkit.Ms(benchkit.Percentile(r.ForwardLatency, 95)), "ms"))
	if r.DirectNote != "" {
		through.Note += "; " + r.DirectNote
		lat.Note += "; " + r.DirectNote
	}
	return []benchkit.Row{through, lat}
}
