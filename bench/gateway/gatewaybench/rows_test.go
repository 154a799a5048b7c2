package gatewaybench

import (
	"testing"
	"time"

	"github.com/loopat/desktop/bench/report/benchkit"
)

// The rows go through bench.json and back with every field; a short stream is refused.
func TestRowsOfOwnResult(t *testing.T) {
	s := func(first, total time.Duration) Stream {
		return Stream{FirstToken: first, Total: total, Bytes: 6 << 20}
	}
	r := Result{TextBytes: 1 << 20,
		Gateway: []Stream{s(4*time.Millisecond, 500*time.Millisecond), s(5*time.Millisecond, 400*time.Millisecond)},
		Direct:  []Stream{s(2*time.Millisecond, 250*time.Millisecond), s(2*time.Millisecond, 200*time.Millisecond)}}
	if err := r.Check(); err != nil {
		t.Fatal(err)
	}
	rows, err := benchkit.RoundTrip(Rows(r))
	if err != nil {
		t.Fatal(err)
	}
	if ft := rows[0]; ft.Loopat != 5 || ft.Baselines[Direct] != 2 || ft.Ratio != 2.5 {
		t.Errorf("first token: %+v", ft)
	}
	if tp := rows[1]; tp.Loopat != 2 || tp.Baselines[Direct] != 4 || tp.Ratio != 0.5 {
		t.Errorf("throughput 1 MB in 0.5 s vs 0.25 s: %+v", tp)
	}
	r.Gateway[0].Bytes = 100
	if r.Check() == nil {
		t.Error("a stream shorter than the reply passed")
	}
}
