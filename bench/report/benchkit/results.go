// Package benchkit is what the programs under bench/ share: the artifacts/bench.json rows
// they merge their results into, the machine description written beside them, small
// statistics, and an app fixture that opens loopat through core.Open.
package benchkit

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Row is one measured figure of one bench, as artifacts/bench.json holds it.
type Row struct {
	Name      string             `json:"name"`
	Unit      string             `json:"unit"`
	Loopat    float64            `json:"loopat"`
	Baselines map[string]float64 `json:"baselines"`
	// Ratio is Loopat over the baseline named RatioTo (the one the goal is stated against).
	Ratio   float64 `json:"ratio"`
	RatioTo string  `json:"ratio_to"`
	Goal    string  `json:"goal,omitempty"`
	// Met is nil when the row has no goal.
	Met *bool `json:"met,omitempty"`
	// Bounds are the goal in numbers and Margin the noise margin beside it (a fraction):
	// `make bench` fails when a bound is exceeded by more than the margin (goal.go).
	Bounds []Bound `json:"bounds,omitempty"`
	Margin float64 `json:"margin,omitempty"`
	N      int     `json:"n"`
	Note   string  `json:"note,omitempty"`
	// When and under what load this row was measured.
	Measured string  `json:"measured"`
	Load1    float64 `json:"load1"`
}

// File is artifacts/bench.json.
type File struct {
	Machine Machine `json:"machine"`
	Rows    []Row   `json:"rows"`
}

// Machine describes where the figures come from.
type Machine struct {
	CPUs      int    `json:"cpus"`
	MemoryGiB string `json:"memory_gib"`
	Kernel    string `json:"kernel,omitempty"`
	Podman    string `json:"podman,omitempty"`
}

// NewRow fills the ratio against ratioTo and the time/load fields.
func NewRow(name, unit string, loopat float64, baselines map[string]float64, ratioTo string, n int) Row {
	r := Row{Name: name, Unit: unit, Loopat: loopat, Baselines: baselines, RatioTo: ratioTo, N: n,
		Measured: time.Now().UTC().Format("2006-01-02 15:04 UTC"), Load1: Load()[0]}
	if b := baselines[ratioTo]; b > 0 {
		r.Ratio = round(loopat/b, 3)
	}
	return r
}

// WithGoal records a goal and whether it was met.
func (r Row) WithGoal(goal string, met bool) Row {
	r.Goal, r.Met = goal, &met
	return r
}

func round(v float64, digits int) float64 {
	p, _ := strconv.ParseFloat(strconv.FormatFloat(v, 'f', digits, 64), 64)
	return p
}

// Path is artifacts/bench.json under the repository root.
func Path() (string, error) {
	root, err := RepoRoot()
	if err != nil {
		return "", err
	}
	return filepath.Join(root, "artifacts", "bench.json"), nil
}

// Read loads artifacts/bench.json (an empty File when there is none yet).
func Read(path string) (File, error) {
	var f File
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return f, nil
	}
	if err != nil {
		return f, err
	}
	if err := json.Unmarshal(data, &f); err != nil {
		return f, fmt.Errorf("parse %s: %w", path, err)
	}
	return f, nil
}

// Merge replaces rows of the same name and adds new ones; the result is sorted by name.
func Merge(old, add []Row) []Row {
	byName := map[string]Row{}
	for _, r := range old {
		byName[r.Name] = r
	}
	for _, r := range add {
		byName[r.Name] = r
	}
	out := make([]Row, 0, len(byName))
	for _, r := range byName {
		out = append(out, r)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Write merges rows into artifacts/bench.json by name and refreshes the machine.
func Write(rows []Row) (string, error) {
	path, err := Path()
	if err != nil {
		return "", err
	}
	f, err := Read(path)
	if err != nil {
		return "", err
	}
	f.Machine = Describe()
	f.Rows = Merge(f.Rows, rows)
	data, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return "", err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, append(data, '\n'), 0o644); err != nil {
		return "", err
	}
	return path, os.Rename(tmp, path)
}

// Print writes rows side by side, with MISSED where a goal was not met.
func Print(rows []Row) {
	for _, r := range rows {
		var bs []string
		for name, v := range r.Baselines {
			bs = append(bs, fmt.Sprintf("%s %s", name, Fmt(v, r.Unit)))
		}
		sort.Strings(bs)
		verdict := ""
		if r.Met != nil {
			verdict = map[bool]string{true: "met", false: "MISSED"}[*r.Met]
		}
		ratio := ""
		if r.RatioTo != "" {
			ratio = fmt.Sprintf(" | %.2fx vs %s", r.Ratio, r.RatioTo)
		}
		goal := ""
		if r.Met != nil {
			goal = fmt.Sprintf(" | goal %s%s: %s", r.Goal, MarginText(r), verdict)
		}
		fmt.Printf("%-52s loopat %-10s | %s%s%s\n", r.Name, Fmt(r.Loopat, r.Unit), orDash(strings.Join(bs, ", ")), ratio, goal)
	}
}

// MarginText is ", margin 15%" for a row with a numeric goal ("" otherwise).
func MarginText(r Row) string {
	if len(r.Bounds) == 0 {
		return ""
	}
	return fmt.Sprintf(" (margin %.0f%%)", r.Margin*100)
}

// Fmt renders a value with its unit.
func Fmt(v float64, unit string) string {
	if unit == "ms" {
		if v >= 1000 {
			return fmt.Sprintf("%.2f s", v/1000)
		}
		if v < 20 {
			return fmt.Sprintf("%.2f ms", v)
		}
		return fmt.Sprintf("%.0f ms", v)
	}
	return fmt.Sprintf("%.3g %s", v, unit)
}

// Ms is d in milliseconds.
func Ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// Median is the middle of ds (the upper middle for an even count).
func Median(ds []time.Duration) time.Duration { return Percentile(ds, 50) }

// Percentile is the p-th percentile (nearest rank) of ds.
func Percentile(ds []time.Duration, p int) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	i := (len(s)*p + 99) / 100
	if p == 50 {
		i = len(s)/2 + 1
	}
	if i < 1 {
		i = 1
	}
	if i > len(s) {
		i = len(s)
	}
	return s[i-1]
}

// Load is /proc/loadavg's three averages (zeros when unreadable).
func Load() [3]float64 {
	var l [3]float64
	data, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return l
	}
	for i, f := range strings.Fields(string(data)) {
		if i == 3 {
			break
		}
		l[i], _ = strconv.ParseFloat(f, 64)
	}
	return l
}

// Describe is this machine: cores, memory, kernel.
func Describe() Machine {
	m := Machine{CPUs: runtime.NumCPU()}
	if data, err := os.ReadFile("/proc/meminfo"); err == nil {
		for _, line := range strings.Split(string(data), "\n") {
			if f := strings.Fields(line); len(f) >= 2 && f[0] == "MemTotal:" {
				kb, _ := strconv.ParseFloat(f[1], 64)
				m.MemoryGiB = fmt.Sprintf("%.1f", kb/1024/1024)
			}
		}
	}
	if data, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = strings.TrimSpace(string(data))
	}
	return m
}

// RepoRoot walks up from the working directory to go.mod.
func RepoRoot() (string, error) {
	wd, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for d := wd; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			return d, nil
		}
		if filepath.Dir(d) == d {
			return "", errors.New("no go.mod above the working directory: run from the repository")
		}
	}
}
