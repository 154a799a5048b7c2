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
	r := Result{Single: []Start{start(1800)}, BurstAll: 13100 * time.Millisecond,
		Burst:  []Start{start(11000), start(12400), start(13100), start(9000), start(12000), start(12500), start(12600), start(13000)},
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
	if len(rows) != 7 {
		t.Fatalf("%d rows", len(rows))
	}
	burst := rows[0]
	if burst.Loopat != 13100 || burst.Baselines[OneLoop] != 1800 || burst.Ratio != 7.278 || *burst.Met || burst.Miss() == nil ||
		!strings.Contains(burst.Note, "p50 12.50 s") {
		t.Fatalf("8 at once in 13.1 s vs 1.8 s alone: %+v", burst)
	}
	if !strings.Contains(rows[2].Note, "4.0 MB per loop beyond 1") {
		t.Errorf("memory curve: %+v", rows[2])
	}
	if turns := rows[4]; turns.Ratio != 4 || turns.Loopat != 400 {
		t.Errorf("turn curve at 10: %+v", turns)
	}
	if list := rows[6]; list.Ratio != 20 || !strings.Contains(list.Note, "50× the loops") {
		t.Errorf("list curve at 500: %+v", list)
	}
	if (Result{Single: r.Single}).Check() == nil {
		t.Error("a run without the burst passed")
	}
	r.Burst[0].FirstToken = 0
	if r.Check() == nil {
		t.Error("a start without a first token passed")
	}
}
