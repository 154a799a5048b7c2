package benchkit

import (
	"strings"
	"testing"
)

// A goal is enforced only beyond its margin: within the goal is met, within the margin is
// MISSED but passes, beyond the margin fails with the figures in the error.
func TestBoundsMarginAndEnforce(t *testing.T) {
	base := map[string]float64{"by hand": 1000}
	row := func(ms float64) Row {
		return NewRow("loops: start", "ms", ms, base, "by hand", 3).WithBounds("<= 0.8x by hand", 0.15, MaxRatio(0.8))
	}
	met, near, far := row(700), row(900), row(1000)
	if !*met.Met || met.Miss() != nil {
		t.Fatalf("0.7x of a <= 0.8x goal: met %v miss %v", *met.Met, met.Miss())
	}
	if *near.Met || near.Miss() != nil {
		t.Fatalf("0.9x is missed but within 15%% of 0.8x: met %v miss %v", *near.Met, near.Miss())
	}
	err := Enforce([]Row{met, near, far})
	if err == nil || !strings.Contains(err.Error(), "ratio 1 > 0.92") || strings.Count(err.Error(), "loops: start") != 1 {
		t.Fatalf("1.0x is beyond 0.8x + 15%%: %v", err)
	}
	two := NewRow("hostexec", "ms", 12, map[string]float64{"podman exec": 500}, "podman exec", 200).
		WithBounds("<= 0.1x and p50 <= 10 ms", 0.15, MaxRatio(0.1), MaxLoopat(10))
	if *two.Met || two.Miss() == nil || !strings.Contains(two.Miss().Error(), "loopat 12 > 11.5") {
		t.Fatalf("either bound fails the row: %v", two.Miss())
	}
	// Rows without numeric bounds (report-only goals) never fail the run.
	if err := Enforce([]Row{NewRow("x", "ms", 5, nil, "", 1).WithGoal("<= 1 ms", false)}); err != nil {
		t.Fatal(err)
	}
	t.Setenv("LOOPAT_BENCH_ENFORCE", "0")
	if Enforcing() {
		t.Fatal("LOOPAT_BENCH_ENFORCE=0 reports only")
	}
}

// Validate refuses rows that did not measure; the page shows the margin beside the goal.
func TestValidateAndMarginInPage(t *testing.T) {
	good := NewRow("a", "ms", 5, map[string]float64{"b": 10}, "b", 3).WithBounds("<= 0.8x b", 0.15, MaxRatio(0.8))
	rows, err := RoundTrip([]Row{good})
	if err != nil || rows[0].Margin != 0.15 || rows[0].Bounds[0] != MaxRatio(0.8) || rows[0].Ratio != 0.5 {
		t.Fatalf("round trip: %+v %v", rows, err)
	}
	bad := []Row{
		NewRow("zero", "ms", 0, nil, "", 1),
		NewRow("nobase", "ms", 5, map[string]float64{"b": 0}, "b", 1),
		NewRow("noratio", "ms", 5, map[string]float64{"b": 1}, "c", 1),
		NewRow("nomargin", "ms", 5, nil, "", 1).WithBounds("<= 1 ms", 0, MaxLoopat(1)),
		NewRow("", "ms", 5, nil, "", 1),
	}
	for _, r := range bad {
		if Validate(r) == nil {
			t.Errorf("row %q passed validation: %+v", r.Name, r)
		}
	}
	if md := Markdown(File{Rows: []Row{good}}, ""); !strings.Contains(md, "<= 0.8x b (margin 15%): met") {
		t.Errorf("page lacks the margin:\n%s", md)
	}
}
