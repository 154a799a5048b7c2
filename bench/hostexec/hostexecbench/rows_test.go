package hostexecbench

import (
	"testing"
	"time"

	"github.com/loopat/desktop/bench/report/benchkit"
)

// The bash loop's output parses into samples, the row goes through bench.json and back
// with every field, and the two-sided goal fails on either side.
func TestRowsOfOwnResult(t *testing.T) {
	in, err := ParseMicros("48000\n47000\n52000\n", 3)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ParseMicros("48000\nloopat-host: denied\n", 2); err == nil {
		t.Fatal("an error message parsed as a timing")
	}
	if _, err := ParseMicros("48000\n", 2); err == nil {
		t.Fatal("a short run parsed")
	}
	r := Result{InLoop: in, PodmanExec: []time.Duration{500 * time.Millisecond, 503 * time.Millisecond}, Ready: 9 * time.Second}
	if err := r.Check(); err != nil {
		t.Fatal(err)
	}
	rows, err := benchkit.RoundTrip(Rows(r))
	if err != nil {
		t.Fatal(err)
	}
	row := rows[0]
	if row.Loopat != 48 || row.Baselines[PodmanExec] != 503 || row.Ratio != 0.095 || *row.Met || len(row.Bounds) != 2 {
		t.Fatalf("48 ms vs 503 ms: ratio met, p50 missed: %+v", row)
	}
	if row.Miss() == nil {
		t.Fatal("48 ms is beyond 10 ms + 15%")
	}
	if (Result{InLoop: in}).Check() == nil {
		t.Fatal("a run without podman exec samples passed")
	}
}
