package loopsbench

import (
	"testing"
	"time"

	"github.com/loopat/desktop/bench/report/benchkit"
)

func ms(v ...int) []time.Duration {
	var ds []time.Duration
	for _, x := range v {
		ds = append(ds, time.Duration(x)*time.Millisecond)
	}
	return ds
}

// The bench's rows go through bench.json and back with every field; the goals are the
// issue's, with their margin; a side that measured nothing is refused.
func TestRowsOfOwnResult(t *testing.T) {
	r := Result{Starts: ms(3000, 3600, 3700), ColdStarts: ms(3600, 3700, 3800), ByHand: ms(3100, 3140, 3200), Floor: ms(3500, 3640, 3700),
		Later: ms(110, 113, 120), OneShot: ms(2400, 2470, 2500), CLILoop: ms(60, 67, 70),
		Ensure: ms(50, 58, 60), VaultRead: ms(40, 47, 50), Clones: ms(1, 1, 2),
		Phases: []Phase{{What: "create the loop", At: 128 * time.Millisecond, Took: 128 * time.Millisecond},
			{What: "first token of the reply", At: 4470 * time.Millisecond, Took: 4342 * time.Millisecond}}}
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
	start, cold, turn := rows[0], rows[1], rows[2]
	if cold.Loopat != 3700 || cold.RatioTo != ByHand || cold.Met != nil {
		t.Errorf("cold start 3.7 s, no goal: %+v", cold)
	}
	if start.Ratio != 1.146 || start.RatioTo != ByHand || *start.Met || start.Margin != Margin || start.Miss() == nil {
		t.Errorf("loop start 3.6 s vs 3.14 s by hand, goal 0.8x: %+v", start)
	}
	if turn.Ratio != 1.687 || turn.Baselines[OneShot] != 2470 || *turn.Met {
		t.Errorf("later turn 113 ms vs 67 ms floor: %+v", turn)
	}
	if rows[6].Loopat != 4470 || len(rows[6].Baselines) != 2 {
		t.Errorf("breakdown: %+v", rows[6])
	}
	r.Later = nil
	if r.Check() == nil {
		t.Error("a run without later turns passed its check")
	}
}
