package benchkit

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Rows merge by name, survive a JSON round trip, and a missed goal reads MISSED in the
// generated page.
func TestRowsMergeRoundTripAndReport(t *testing.T) {
	old := []Row{NewRow("b: old", "ms", 5, map[string]float64{"x": 10}, "x", 3), NewRow("a: kept", "ms", 1, nil, "", 1)}
	fresh := NewRow("b: old", "ms", 30, map[string]float64{"x": 10}, "x", 5).WithGoal("<= 0.1x", false)
	rows := Merge(old, []Row{fresh})
	if len(rows) != 2 || rows[0].Name != "a: kept" || rows[1].Loopat != 30 || rows[1].Ratio != 3 {
		t.Fatalf("merge: %+v", rows)
	}
	path := filepath.Join(t.TempDir(), "bench.json")
	data, _ := json.Marshal(File{Machine: Describe(), Rows: rows})
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := Read(path)
	if err != nil || len(f.Rows) != 2 || f.Rows[1].Met == nil || *f.Rows[1].Met {
		t.Fatalf("read back: %+v %v", f, err)
	}
	md := Markdown(f, "4.3.1")
	for _, want := range []string{"b: old", "**MISSED**", "3× vs x", "podman 4.3.1", "load average"} {
		if !strings.Contains(md, want) {
			t.Errorf("report lacks %q:\n%s", want, md)
		}
	}
	if _, err := Read(filepath.Join(t.TempDir(), "none.json")); err != nil {
		t.Errorf("a missing file is an empty report, got %v", err)
	}
}

func TestPercentile(t *testing.T) {
	ds := []time.Duration{5, 1, 4, 2, 3}
	if Median(ds) != 3 || Percentile(ds, 95) != 5 || Percentile(ds, 1) != 1 {
		t.Fatalf("median %v p95 %v p1 %v", Median(ds), Percentile(ds, 95), Percentile(ds, 1))
	}
	if Median(nil) != 0 {
		t.Fatal("median of nothing")
	}
}
