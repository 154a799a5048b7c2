package imagesbench

import (
	"testing"
	"time"

	"github.com/loopat/desktop/bench/report/benchkit"
)

// The rows go through bench.json and back with every field; a run without a rebuild is refused.
func TestRowsOfOwnResult(t *testing.T) {
	r := Result{BaseHits: []time.Duration{30 * time.Millisecond, 35 * time.Millisecond, 200 * time.Millisecond},
		ChildHits: []time.Duration{31 * time.Millisecond}, ChildRebuild: 9380 * time.Millisecond}
	if err := r.Check(); err != nil {
		t.Fatal(err)
	}
	rows, err := benchkit.RoundTrip(Rows(r))
	if err != nil {
		t.Fatal(err)
	}
	if hit := rows[0]; hit.Loopat != 35 || hit.Baselines[Rebuild] != 9380 || !*hit.Met || hit.Margin != Margin || hit.Miss() != nil {
		t.Fatalf("35 ms hit, goal 150 ms: %+v", hit)
	}
	if rows[1].Loopat != 9380 || rows[1].Met != nil {
		t.Fatalf("child build row: %+v", rows[1])
	}
	r.ChildRebuild = 0
	if r.Check() == nil {
		t.Fatal("a run without the rebuild passed")
	}
}
