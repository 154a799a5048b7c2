package footprintbench

import (
	"errors"
	"fmt"

	"github.com/loopat/desktop/bench/report/benchkit"
)

// Goals (issue 16).
const (
	GoalBinaryMB  = 40
	GoalIdleRSSMB = 60
	GoalIdleCPU   = 1.0 // percent of one core
)

// Result is everything bench/footprint measured.
type Result struct {
	BinaryBytes      int64   `json:"binary_bytes"`
	StrippedBytes    int64   `json:"stripped_bytes"`
	Serve            Memory  `json:"serve"`
	ServeCPUPercent  float64 `json:"serve_cpu_percent"`
	ServeCPUSeconds  float64 `json:"serve_cpu_window_s"`
	VersionMaxRSSKiB int64   `json:"version_max_rss_kib"`
	// NoCgoServeKiB: the same app built CGO_ENABLED=0 (no WebKit/GTK linked), serve idle;
	// 0 when the bench was not given such a build.
	NoCgoServeKiB int64 `json:"nocgo_serve_rss_kib,omitempty"`
	// Desktop: zero when no display could be made (no Xvfb): then no desktop rows.
	WindowMs      float64 `json:"window_ms"`
	DesktopGoKiB  int64   `json:"desktop_go_rss_kib"`
	DesktopWebKiB int64   `json:"desktop_webkit_rss_kib"`
	WebProcesses  int     `json:"webkit_processes"`
}

// Check refuses a result that did not measure what it names.
func (r Result) Check() error {
	switch {
	case r.BinaryBytes <= 0 || r.StrippedBytes <= 0 || r.StrippedBytes > r.BinaryBytes:
		return fmt.Errorf("footprint: binary sizes %d / stripped %d", r.BinaryBytes, r.StrippedBytes)
	case r.Serve.RSS <= 0 || r.Serve.Anon <= 0 || r.Serve.Binary <= 0:
		return fmt.Errorf("footprint: serve memory not measured: %+v", r.Serve)
	case r.ServeCPUSeconds <= 0 || r.ServeCPUPercent < 0:
		return errors.New("footprint: serve CPU not measured")
	case r.VersionMaxRSSKiB <= 0:
		return errors.New("footprint: init-only RSS not measured")
	case r.WindowMs > 0 && (r.DesktopGoKiB <= 0 || r.DesktopWebKiB <= 0):
		return fmt.Errorf("footprint: window shown but its memory not measured: %+v", r)
	}
	return nil
}

func mb(kib int64) float64 { return float64(kib) / 1024 }

// Rows are the artifacts/bench.json rows of r.
func Rows(r Result) []benchkit.Row {
	size := float64(r.BinaryBytes) / (1 << 20)
	rows := []benchkit.Row{
		benchkit.NewRow("footprint: binary size (make build)", "MB", size,
			map[string]float64{"same binary stripped": float64(r.StrippedBytes) / (1 << 20)}, "same binary stripped", 1).
			WithBounds(fmt.Sprintf("<= %d MB", GoalBinaryMB), benchkit.SizeMargin, benchkit.MaxLoopat(GoalBinaryMB)),
	}
	idleBase := map[string]float64{"loopat version (process start and package init only)": mb(r.VersionMaxRSSKiB)}
	if r.NoCgoServeKiB > 0 {
		idleBase["same app built without cgo (no WebKit linked), serve idle"] = mb(r.NoCgoServeKiB)
	}
	idle := benchkit.NewRow("footprint: loopat serve idle RSS, empty workspace", "MB", mb(r.Serve.RSS),
		idleBase, "loopat version (process start and package init only)", 1).
		WithBounds(fmt.Sprintf("<= %d MB", GoalIdleRSSMB), benchkit.SizeMargin, benchkit.MaxLoopat(GoalIdleRSSMB))
	idle.Note = fmt.Sprintf("executable pages %.1f MB, shared libraries %.1f MB, heap and stacks %.1f MB",
		mb(r.Serve.Binary), mb(r.Serve.Libs), mb(r.Serve.Anon))
	rows = append(rows, idle)
	cpu := benchkit.NewRow("footprint: loopat serve idle CPU", "% of a core", r.ServeCPUPercent, nil, "", 1).
		// Idle CPU of a fraction of a percent swings by multiples on a loaded machine.
		WithBounds(fmt.Sprintf("<= %.0f%%", GoalIdleCPU), 0.5, benchkit.MaxLoopat(GoalIdleCPU))
	cpu.Note = fmt.Sprintf("over %.0f s", r.ServeCPUSeconds)
	rows = append(rows, cpu)
	if r.WindowMs > 0 {
		rows = append(rows,
			benchkit.NewRow("footprint: desktop time to a visible window (Xvfb)", "ms", r.WindowMs, nil, "", 1),
			benchkit.NewRow("footprint: desktop RSS with the window open, Go process", "MB", mb(r.DesktopGoKiB), nil, "", 1),
		)
		web := benchkit.NewRow("footprint: desktop RSS with the window open, WebKit processes", "MB", mb(r.DesktopWebKiB), nil, "", r.WebProcesses)
		web.Note = fmt.Sprintf("%d processes", r.WebProcesses)
		rows = append(rows, web)
	}
	return rows
}
