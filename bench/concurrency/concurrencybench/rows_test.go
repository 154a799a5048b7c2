package concurrencybench

import (
	"strings"
	"testing"
	"time"

	"github.com/loopat/desktop/bench/report/benchkit"
)

func start(ms int) Start {
	d := time.Duration(ms) * time.Millisecond
	return Start{Create: d / 20, Starting: d / 10, Working: d / 2, FirstToken: d}
}

// The rows go through bench.json and back with every field: the burst against one loop's
// start with its 2x goal and margin, the curves with the first point beside the later ones.
func TestRowsOfOwnResult(t *testing.T) {
	warmStart := Start{Create: 20 * time.Millisecond, FirstToken: 400 * time.Millisecond} // no "starting": handed the warm loop
	r := Result{Cold: []Start{start(1800)}, Single: []Start{warmStart}, BurstAll: 13100 * time.Millisecond,
		Burst:     []Start{start(11000), start(12400), start(13100), warmStart, start(12000), start(12500), start(12600), start(13000)},
		CPUCold:   CPU{Loops: 1, Machine: 2.5, Serve: 0.1, Service: 0.5, Conmon: 0.2, Containers: 1.2},
		CPUBurst:  CPU{Loops: 8, Machine: 16, Serve: 0.8, Service: 4, Conmon: 1.6, Containers: 8},
		BurstLoad: 12.5, BurstAt: time.Date(2026, 12, 2, 6, 18, 0, 0, time.UTC),
		Memory: []Curve{{N: 1, KiB: 90 << 10}, {N: 10, KiB: 126 << 10}},
		Turns:  []Curve{{N: 1, Samples: []time.Duration{100 * time.Millisecond}}, {N: 10, Samples: []time.Duration{300 * time.Millisecond, 400 * time.Millisecond}}},
		List:   []Curve{{N: 10, Samples: []time.Duration{2 * time.Millisecond}}, {N: 500, Samples: []time.Duration{40 * time.Millisecond}}}}
	if err := r.Check(); err != nil {
		t.Fatal(err)
	}
	rows, err := benchkit.RoundTrip(Rows(r))
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 9 {
		t.Fatalf("%d rows", len(rows))
	}
	byName := map[string]benchkit.Row{}
	for _, row := range rows {
		byName[row.Name] = row
	}
	burst := byName["concurrency: 8 new loops at once through serve, all replied (first token)"]
	if burst.Loopat != 13100 || burst.Baselines[OneCold] != 1800 || burst.Baselines[OneWarm] != 400 || burst.RatioTo != OneCold ||
		burst.Ratio != 7.278 || *burst.Met || burst.Miss() == nil ||
		!strings.Contains(burst.Note, "median of 1 starts") || !strings.Contains(burst.Note, "32.8× one warm start") || !strings.Contains(burst.Note, "1 of them handed a warm loop") ||
		!strings.Contains(burst.Note, "p50 12.50 s") {
		t.Fatalf("8 at once in 13.1 s vs 1.8 s cold, 0.4 s warm: %+v", burst)
	}
	if burst.Load1 != 12.5 || burst.Measured != "2026-12-02 06:18 UTC" {
		t.Errorf("the burst row carries the load at the end of the run, not at the burst: %+v", burst)
	}
	if c := byName["concurrency: CPU of one cold loop start (new loop -> first token)"]; c.Loopat != 2.5 ||
		!strings.Contains(c.Note, "podman service 0.50") || !strings.Contains(c.Note, "rest of the machine 0.50") {
		t.Errorf("cold start CPU: %+v", c)
	}
	if c := byName["concurrency: CPU of 8 new loops at once, per loop"]; c.Loopat != 2 || c.N != 8 || !strings.Contains(c.Note, "containers 1.00") {
		t.Errorf("burst CPU per loop: %+v", c)
	}
	if m := byName["scale: serve host-side RSS with 10 loops running"]; !strings.Contains(m.Note, "4.0 MB per loop beyond 1") {
		t.Errorf("memory curve: %+v", m)
	}
	if turns := byName["scale: later turn first token with 10 loops working at once (p50)"]; turns.Ratio != 4 || turns.Loopat != 400 {
		t.Errorf("turn curve at 10: %+v", turns)
	}
	if list := byName["scale: loop list RPC with 500 loops (p50)"]; list.Ratio != 20 || !strings.Contains(list.Note, "50× the loops") {
		t.Errorf("list curve at 500: %+v", list)
	}
	if (Result{Cold: r.Cold, Single: r.Single}).Check() == nil {
		t.Error("a run without the burst passed")
	}
	if (Result{Single: r.Single, Burst: r.Burst, BurstAll: r.BurstAll}).Check() == nil {
		t.Error("a run without the cold baseline passed")
	}
	noCPU := r
	noCPU.CPUCold = CPU{Loops: 1}
	if noCPU.Check() == nil {
		t.Error("a CPU reading of nothing passed")
	}
	r.Burst[0].FirstToken = 0
	if r.Check() == nil {
		t.Error("a start without a first token passed")
	}
}
