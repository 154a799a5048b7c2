package transcriptbench

import (
	"fmt"
	"path/filepath"

	"github.com/loopat/desktop/backend/loops"
	"github.com/loopat/desktop/bench/report/benchkit"
)

// CreateLoops makes n loops in the workspace at home through the app's own store (folder
// and meta.json each, as New loop writes them; no container): the loop list's fixture.
func CreateLoops(home string, n int) error {
	st, err := loops.NewStore(filepath.Join(home, "loops"))
	if err != nil {
		return err
	}
	for i := range n {
		// No repository: Create would clone it, and the list shows the same row either way.
		if _, err := st.Create(loops.NewLoop{Title: fmt.Sprintf("Loop %d: fix the flaky store test", i),
			Model: "claude-sonnet-4-5", PermissionMode: "bypassPermissions"}); err != nil {
			return fmt.Errorf("loop %d of %d: %w", i+1, n, err)
		}
	}
	return nil
}

// List is what the browser script measured for the loop list of a workspace with Loops loops.
type List struct {
	Loops int `json:"loops"`
	// OpenMs: navigation start → the sidebar's list showing every loop (its rows in the DOM,
	// the first on screen), median of Runs fresh documents.
	OpenMs float64 `json:"openMs"`
	Runs   int     `json:"runs"`
	// Rows: the loops the list counts when it was timed (must be Loops: none lost);
	// Rendered: rows in the DOM then (all of them, or the first screen of a long list).
	Rows     int `json:"rows"`
	Rendered int `json:"rendered"`
	// DOMNodes in the document once the list is shown.
	DOMNodes int `json:"domNodes"`
	// ServerListMs: LoopService.List over HTTP from the page (median).
	ServerListMs float64 `json:"serverListMs"`
}

func (l List) check() error {
	if l.Loops <= 0 || l.OpenMs <= 0 || l.Runs <= 0 || l.DOMNodes <= 0 || l.ServerListMs <= 0 {
		return fmt.Errorf("transcript bench: incomplete loop list figures: %+v", l)
	}
	if l.Rows != l.Loops {
		return fmt.Errorf("transcript bench: the list counted %d rows for %d loops", l.Rows, l.Loops)
	}
	if l.Rendered <= 0 || l.Rendered > l.Loops {
		return fmt.Errorf("transcript bench: the list rendered %d rows for %d loops", l.Rendered, l.Loops)
	}
	return nil
}

// listRows: the open time with the smallest list as the baseline of the larger ones (how it
// grows), and the DOM nodes.
func listRows(lists []List) []benchkit.Row {
	var rows []benchkit.Row
	var smallest *List
	for i := range lists {
		if smallest == nil || lists[i].Loops < smallest.Loops {
			smallest = &lists[i]
		}
	}
	for _, l := range lists {
		base := map[string]float64{"server: LoopService.List": l.ServerListMs}
		ratioTo := ""
		if smallest != nil && l.Loops > smallest.Loops {
			ratioTo = fmt.Sprintf("with %d loops (same run)", smallest.Loops)
			base[ratioTo] = smallest.OpenMs
		}
		open := benchkit.NewRow(fmt.Sprintf("loop list: %d loops shown (Chromium, navigation to every row)", l.Loops), "ms", l.OpenMs, base, ratioTo, l.Runs)
		open.Note = fmt.Sprintf("%d rows rendered", l.Rendered)
		if ratioTo != "" {
			open.Note += fmt.Sprintf("; %d× the loops", l.Loops/smallest.Loops)
		}
		rows = append(rows, open,
			benchkit.NewRow(fmt.Sprintf("loop list: DOM nodes with %d loops", l.Loops), "nodes", float64(l.DOMNodes), nil, "", 1))
	}
	return rows
}
