package portsbench

import (
	"strings"
	"testing"
	"time"

	"github.com/loopat/desktop/bench/report/benchkit"
)

// The rows of a result go through bench.json and back with their figures: medians in
// MB/s against podman exec cat and the direct IP, p50 latency against direct; a run
// without a direct baseline says why, and an empty or zero sample is refused.
func TestRowsOfOwnResult(t *testing.T) {
	ms := time.Millisecond
	r := Result{FileBytes: 64 << 20,
		Forward: []float64{300e6, 200e6, 250e6}, ExecCat: []float64{500e6, 400e6, 450e6}, Direct: []float64{1000e6, 900e6, 950e6},
		ForwardLatency: []time.Duration{2 * ms, 3 * ms, 4 * ms}, DirectLatency: []time.Duration{ms, ms, 2 * ms}}
	if err := r.Check(); err != nil {
		t.Fatal(err)
	}
	rows, err := benchkit.RoundTrip(Rows(r))
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 2 {
		t.Fatalf("%d rows", len(rows))
	}
	th, lat := rows[0], rows[1]
	if th.Unit != "MB/s" || th.Loopat != 250 || th.Baselines[PodmanExecCat] != 450 || th.Baselines[DirectIP] != 950 || th.Ratio != 0.556 || th.N != 3 {
		t.Fatalf("throughput row %+v", th)
	}
	if lat.Unit != "ms" || lat.Loopat != 3 || lat.Baselines[DirectIP] != 1 || lat.Ratio != 3 || th.Met != nil {
		t.Fatalf("latency row %+v", lat)
	}

	r.Direct, r.DirectLatency = nil, nil
	if r.Check() == nil {
		t.Fatal("no direct baseline and no reason passed")
	}
	r.DirectNote = "rootless: the container IP is not reachable from the host"
	rows, err = benchkit.RoundTrip(Rows(r))
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := rows[0].Baselines[DirectIP]; ok || !strings.Contains(rows[1].Note, "rootless") {
		t.Fatalf("rows without direct: %+v", rows)
	}
	if (Result{FileBytes: 1, Forward: []float64{0}, ExecCat: []float64{1}, ForwardLatency: []time.Duration{ms}, DirectNote: "x"}).Check() == nil {
		t.Fatal("a zero throughput sample passed")
	}
}
