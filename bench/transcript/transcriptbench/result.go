package transcriptbench

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/loopat/desktop/bench/report/benchkit"
)

// ResultPrefix starts the one line of the browser script's stdout that holds its figures.
const ResultPrefix = "BENCH_JSON "

// Size is what the browser script measured for one transcript length.
type Size struct {
	Lines int   `json:"lines"`
	Bytes int64 `json:"bytes"`
	// OpenMs: navigation start → the last reply's text visible in the viewport (median of runs).
	OpenMs float64 `json:"openMs"`
	// FormattedMs: the same until that reply shows formatted (the chat shows texts plain
	// until its markdown renderer has loaded; equal to OpenMs when it had already).
	FormattedMs float64 `json:"formattedMs"`
	Runs        int     `json:"runs"`
	// ShellMs: navigation start → the loop page's header visible (the app's own load,
	// the same for any transcript length): the baseline the open time is compared with.
	ShellMs float64 `json:"shellMs"`
	// DOMNodes in the document once the last reply is visible.
	DOMNodes int `json:"domNodes"`
	// ServerWholeMs: LoopService.Messages (the whole file, what the UI fetched before paging);
	// ServerPageMs: LoopService.MessagesPage (what it fetches now). Both over HTTP from the page.
	ServerWholeMs float64 `json:"serverWholeMs"`
	ServerPageMs  float64 `json:"serverPageMs"`
	// EventMs: main-thread task time (CDP TaskDuration) from one loop:<id>:message event
	// arriving on the socket until its row is painted; 0 when not measured for this size.
	EventMs float64 `json:"eventMs,omitempty"`
	// EventRawMs is the same before the measuring's own cost (an ignored event) is subtracted.
	EventRawMs float64 `json:"eventRawMs,omitempty"`
	Events     int     `json:"events,omitempty"`
	// Baseline: the same figures for the app built with the previous chat (the whole
	// transcript fetched and every line in the DOM), when the bench was given one.
	Baseline *Figures `json:"baseline,omitempty"`
}

// Figures are a baseline build's open time, DOM nodes and event cost.
type Figures struct {
	OpenMs   float64 `json:"openMs"`
	DOMNodes int     `json:"domNodes"`
	EventMs  float64 `json:"eventMs"`
}

// Result is the script's whole output.
type Result struct {
	Sizes []Size `json:"sizes"`
	// Lists: the loop list's render, one per workspace size (10 and 500 loops by default).
	Lists []List `json:"lists,omitempty"`
}

// Parse finds the result line in the script's stdout and checks every figure is there: a
// bench that stops measuring (a zero, a missing size) is an error, not a row of zeros.
func Parse(stdout []byte) (Result, error) {
	var r Result
	var line []byte
	for _, l := range bytes.Split(stdout, []byte{'\n'}) {
		if bytes.HasPrefix(l, []byte(ResultPrefix)) {
			line = l[len(ResultPrefix):]
		}
	}
	if line == nil {
		return r, errors.New("transcript bench: the browser script printed no " + ResultPrefix + "line")
	}
	if err := json.Unmarshal(line, &r); err != nil {
		return r, fmt.Errorf("transcript bench: parse result: %w", err)
	}
	if len(r.Sizes) == 0 {
		return r, errors.New("transcript bench: no sizes measured")
	}
	events := 0
	for _, s := range r.Sizes {
		if s.Lines <= 0 || s.Bytes <= 0 || s.OpenMs <= 0 || s.FormattedMs <= 0 || s.ShellMs <= 0 || s.Runs <= 0 || s.DOMNodes <= 0 || s.ServerWholeMs <= 0 || s.ServerPageMs <= 0 {
			return r, fmt.Errorf("transcript bench: incomplete figures for %d lines: %+v", s.Lines, s)
		}
		if s.EventMs > 0 {
			events++
		}
	}
	if events == 0 {
		return r, errors.New("transcript bench: no streamed-event cost measured")
	}
	for _, l := range r.Lists {
		if err := l.check(); err != nil {
			return r, err
		}
	}
	return r, nil
}

// Goals (issue 16): a 10,000-line loop opens in ≤ 1 s; a streamed event costs ≤ 16 ms of
// main-thread time whatever the length. The DOM stays bounded (virtualised list).
const (
	GoalOpenMs   = 1000
	GoalEventMs  = 16
	GoalDOMNodes = 3000
)

const previousUI = "previous chat UI (whole transcript in the DOM)"

// Rows turns a result into artifacts/bench.json rows.
func Rows(r Result) []benchkit.Row {
	var rows []benchkit.Row
	for _, s := range r.Sizes {
		base := map[string]float64{"app shell: loop header visible": s.ShellMs,
			"server: whole transcript (old fetch)": s.ServerWholeMs, "server: newest page": s.ServerPageMs}
		ratioTo := "app shell: loop header visible"
		if s.Baseline != nil && s.Baseline.OpenMs > 0 {
			ratioTo = previousUI
			base[previousUI] = s.Baseline.OpenMs
		}
		open := benchkit.NewRow(fmt.Sprintf("transcript: open %d lines, last reply visible (Chromium)", s.Lines), "ms", s.OpenMs,
			base, ratioTo, s.Runs)
		open.Note = fmt.Sprintf("%.1f MB file; formatted (markdown) at %s", float64(s.Bytes)/1e6, fmtMs(s.FormattedMs))
		if s.Lines >= 10000 {
			open = open.WithGoal(fmt.Sprintf("<= %d ms", GoalOpenMs), s.OpenMs <= GoalOpenMs)
		}
		rows = append(rows, open)
		var domBase map[string]float64
		domRatio := ""
		if s.Baseline != nil && s.Baseline.DOMNodes > 0 {
			domBase, domRatio = map[string]float64{previousUI: float64(s.Baseline.DOMNodes)}, previousUI
		}
		dom := benchkit.NewRow(fmt.Sprintf("transcript: DOM nodes at %d lines", s.Lines), "nodes", float64(s.DOMNodes), domBase, domRatio, 1).
			WithGoal(fmt.Sprintf("<= %d", GoalDOMNodes), s.DOMNodes <= GoalDOMNodes)
		rows = append(rows, dom)
		if s.EventMs > 0 {
			var evBase map[string]float64
			evRatio := ""
			if s.Baseline != nil && s.Baseline.EventMs > 0 {
				evBase, evRatio = map[string]float64{previousUI: s.Baseline.EventMs}, previousUI
			}
			ev := benchkit.NewRow(fmt.Sprintf("transcript: one streamed line at %d lines, main-thread time", s.Lines), "ms", s.EventMs, evBase, evRatio, s.Events).
				WithGoal(fmt.Sprintf("<= %d ms", GoalEventMs), s.EventMs <= GoalEventMs)
			if s.EventRawMs > 0 {
				ev.Note = fmt.Sprintf("%.1f ms before the measuring's own cost is taken off", s.EventRawMs)
			}
			rows = append(rows, ev)
		}
	}
	return append(rows, listRows(r.Lists)...)
}

func fmtMs(ms float64) string {
	if ms >= 1000 {
		return fmt.Sprintf("%.2f s", ms/1000)
	}
	return fmt.Sprintf("%.0f ms", ms)
}
