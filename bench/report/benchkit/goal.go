package benchkit

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
)

// Bound is one numeric side of a goal: the row's loopat figure (On "loopat") or its
// ratio (On "ratio") must be at most Max.
type Bound struct {
	On  string  `json:"on"`
	Max float64 `json:"max"`
}

// Bounds on the loopat figure and on the ratio.
func MaxLoopat(v float64) Bound { return Bound{On: "loopat", Max: v} }
func MaxRatio(v float64) Bound  { return Bound{On: "ratio", Max: v} }

// Default noise margins: how far beyond its goal a figure may land before `make bench`
// fails. Timings swing with the shared machine's load; sizes and counts barely move.
const (
	TimingMargin = 0.15
	SizeMargin   = 0.05
)

// WithBounds records a numeric goal (goal is its text), the noise margin beside it (a
// fraction: 0.15 is 15%) and whether every bound was met.
func (r Row) WithBounds(goal string, margin float64, bounds ...Bound) Row {
	r.Goal, r.Margin, r.Bounds = goal, margin, bounds
	met := true
	for _, b := range bounds {
		if r.value(b) > b.Max {
			met = false
		}
	}
	r.Met = &met
	return r
}

func (r Row) value(b Bound) float64 {
	if b.On == "ratio" {
		return r.Ratio
	}
	return r.Loopat
}

// Miss is an error when a bound is exceeded by more than the row's margin (nil when the
// row is within its goal plus margin, or has no numeric goal).
func (r Row) Miss() error {
	var errs []string
	for _, b := range r.Bounds {
		limit := b.Max * (1 + r.Margin)
		if v := r.value(b); v > limit {
			errs = append(errs, fmt.Sprintf("%s %.4g > %.4g (goal %.4g + %.0f%% margin)", b.On, v, limit, b.Max, r.Margin*100))
		}
	}
	if len(errs) == 0 {
		return nil
	}
	return fmt.Errorf("%s: goal %q missed beyond its margin: %s", r.Name, r.Goal, strings.Join(errs, "; "))
}

// Enforce is every row's Miss joined: what fails `make bench`.
func Enforce(rows []Row) error {
	var errs []error
	for _, r := range rows {
		if err := r.Miss(); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Enforcing says whether a missed goal fails the run: `make bench` enforces, `make test`
// (LOOPAT_BENCH_ENFORCE=0, shared noisy machines) only reports.
func Enforcing() bool { return os.Getenv("LOOPAT_BENCH_ENFORCE") != "0" }

// Validate refuses a row that did not measure what it names: no name or unit, a figure
// that is zero or not a number, a ratio that does not match its baseline, or a numeric
// goal without its verdict and margin. The benches' self-tests run their rows through it.
func Validate(r Row) error {
	switch {
	case r.Name == "" || r.Unit == "":
		return fmt.Errorf("row %q: no name or unit", r.Name)
	case !(r.Loopat > 0):
		return fmt.Errorf("%s: loopat figure %v not measured", r.Name, r.Loopat)
	case r.N <= 0:
		return fmt.Errorf("%s: sample count %d", r.Name, r.N)
	case r.Measured == "":
		return fmt.Errorf("%s: no measurement time", r.Name)
	}
	for name, v := range r.Baselines {
		if name == "" || !(v > 0) {
			return fmt.Errorf("%s: baseline %q = %v not measured", r.Name, name, v)
		}
	}
	if r.RatioTo != "" {
		b, ok := r.Baselines[r.RatioTo]
		if !ok {
			return fmt.Errorf("%s: ratio against %q, which is not among its baselines", r.Name, r.RatioTo)
		}
		if want := round(r.Loopat/b, 3); r.Ratio != want {
			return fmt.Errorf("%s: ratio %v, loopat/baseline is %v", r.Name, r.Ratio, want)
		}
	}
	if (r.Goal == "") != (r.Met == nil) {
		return fmt.Errorf("%s: goal %q without a verdict, or a verdict without a goal", r.Name, r.Goal)
	}
	if len(r.Bounds) > 0 && (r.Margin <= 0 || r.Met == nil) {
		return fmt.Errorf("%s: numeric goal without a margin (%v) or verdict", r.Name, r.Margin)
	}
	for _, b := range r.Bounds {
		if (b.On != "loopat" && b.On != "ratio") || !(b.Max > 0) || (b.On == "ratio" && r.RatioTo == "") {
			return fmt.Errorf("%s: bound %+v", r.Name, b)
		}
	}
	return nil
}

// RoundTrip writes rows as artifacts/bench.json would hold them, parses them back and
// validates each: what a bench's self-test checks of the rows its measurements make.
func RoundTrip(rows []Row) ([]Row, error) {
	data, err := json.Marshal(File{Machine: Describe(), Rows: rows})
	if err != nil {
		return nil, err
	}
	var f File
	if err := json.Unmarshal(data, &f); err != nil {
		return nil, err
	}
	if len(f.Rows) != len(rows) {
		return nil, fmt.Errorf("%d rows written, %d read back", len(rows), len(f.Rows))
	}
	var errs []error
	for i, r := range f.Rows {
		if err := Validate(r); err != nil {
			errs = append(errs, err)
		}
		if r.Name != rows[i].Name || r.Loopat != rows[i].Loopat || r.Margin != rows[i].Margin || len(r.Bounds) != len(rows[i].Bounds) ||
			len(r.Baselines) != len(rows[i].Baselines) || (r.Met == nil) != (rows[i].Met == nil) {
			errs = append(errs, fmt.Errorf("%s: changed in the round trip: %+v", r.Name, r))
		}
	}
	return f.Rows, errors.Join(errs...)
}
