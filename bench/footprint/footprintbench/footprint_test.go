package footprintbench

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/loopat/desktop/bench/report/benchkit"
)

// The /proc readers measure this test process: it has a binary, heap and CPU time.
func TestReadsOwnProcess(t *testing.T) {
	m, err := ReadMemory(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if m.RSS <= 0 || m.Binary <= 0 || m.Anon <= 0 || m.Binary+m.Libs+m.Anon != m.RSS {
		t.Fatalf("memory %+v", m)
	}
	busy := 0
	for i := range 30_000_000 {
		busy ^= i
	}
	if ticks, err := CPUTicks(os.Getpid()); err != nil || ticks <= 0 {
		t.Fatalf("cpu ticks %d %v (%d)", ticks, err, busy)
	}
	if kids, err := Children(os.Getppid()); err != nil || kids[os.Getpid()] == "" {
		t.Fatalf("children of the parent lack this process: %v %v", kids, err)
	}
}

// The bench's result goes through its own rows into bench.json and back; a result that
// did not measure (zeros) is refused.
func TestRowsOfOwnResult(t *testing.T) {
	r := Result{BinaryBytes: 36 << 20, StrippedBytes: 26 << 20, Serve: Memory{RSS: 70 << 10, Binary: 26 << 10, Libs: 38 << 10, Anon: 6 << 10},
		ServeCPUPercent: 0.2, ServeCPUSeconds: 10, VersionMaxRSSKiB: 65 << 10, WindowMs: 1800, DesktopGoKiB: 120 << 10, DesktopWebKiB: 300 << 10, WebProcesses: 2}
	if err := r.Check(); err != nil {
		t.Fatal(err)
	}
	// Every field, as bench.json holds it, validates (name, unit, figures, ratio, goal, margin).
	if _, err := benchkit.RoundTrip(Rows(r)); err != nil {
		t.Fatal(err)
	}
	data, _ := json.Marshal(benchkit.File{Rows: Rows(r)})
	path := filepath.Join(t.TempDir(), "bench.json")
	os.WriteFile(path, data, 0o644)
	f, err := benchkit.Read(path)
	if err != nil || len(f.Rows) != 6 {
		t.Fatalf("%d rows, %v", len(f.Rows), err)
	}
	for _, row := range f.Rows {
		if strings.Contains(row.Name, "idle RSS") && (row.Met == nil || *row.Met || !strings.Contains(row.Note, "heap and stacks 6.0 MB")) {
			t.Fatalf("idle row %+v", row)
		}
		if strings.Contains(row.Name, "binary size") && (row.Met == nil || !*row.Met || row.Ratio == 0) {
			t.Fatalf("binary row %+v", row)
		}
	}
	for _, bad := range []Result{{}, {BinaryBytes: 1, StrippedBytes: 2}, func() Result { x := r; x.DesktopWebKiB = 0; return x }()} {
		if bad.Check() == nil {
			t.Errorf("accepted %+v", bad)
		}
	}
}
