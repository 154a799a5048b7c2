package transcriptbench

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/loopat/desktop/backend/loops"
	"github.com/loopat/desktop/bench/report/benchkit"
)

// The synthesised transcript is what the app stores: valid lines of the app's shapes, the
// size per line of a real loop, the marker in the newest page the UI fetches.
func TestSynthesisedTranscriptReadsLikeTheApp(t *testing.T) {
	home := t.TempDir()
	id, err := CreateLoop(home, 1000)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(home, "loops", id, "messages.jsonl")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := bytes.Split(bytes.TrimSuffix(data, []byte{'\n'}), []byte{'\n'})
	if len(lines) != 1000 {
		t.Fatalf("%d lines", len(lines))
	}
	if per := len(data) / len(lines); per < 350 || per > 800 {
		t.Fatalf("%d bytes a line, a real loop has ~540", per)
	}
	types := map[string]int{}
	for _, l := range lines {
		var v struct{ Type string }
		if err := json.Unmarshal(l, &v); err != nil {
			t.Fatalf("line %s: %v", l, err)
		}
		types[v.Type]++
	}
	for _, want := range []string{"user_input", "system", "assistant", "user", "result"} {
		if types[want] == 0 {
			t.Errorf("no %s line: %v", want, types)
		}
	}
	page, err := loops.NewTranscript(path).ReadPage(0, 200)
	if err != nil || len(page.Lines) != 200 || !page.More || !strings.Contains(string(page.Lines[198]), Marker(1000)) {
		t.Fatalf("newest page: %d lines, more %v, %v", len(page.Lines), page.More, err)
	}
	if err := Synthesise(&bytes.Buffer{}, 5); err == nil {
		t.Fatal("less than a turn accepted")
	}
}

// The bench parses the output its browser script prints and writes rows the report reads
// back; a script that stopped measuring (zeros, no event figure) fails instead.
func TestParseOwnOutputIntoRows(t *testing.T) {
	sizes := []Size{
		{Lines: 100, Bytes: 54_000, OpenMs: 310, FormattedMs: 330, ShellMs: 250, Runs: 3, DOMNodes: 900, ServerWholeMs: 8, ServerPageMs: 5},
		{Lines: 10000, Bytes: 5_400_000, OpenMs: 640, FormattedMs: 700, ShellMs: 500, Runs: 3, DOMNodes: 1100, ServerWholeMs: 210, ServerPageMs: 9, EventMs: 7.5, Events: 5,
			Baseline: &Figures{OpenMs: 3200, DOMNodes: 35000, EventMs: 900}},
	}
	out, _ := json.Marshal(Result{Sizes: sizes})
	stdout := "serve started\nnoise\n" + ResultPrefix + string(out) + "\n"
	r, err := Parse([]byte(stdout))
	if err != nil {
		t.Fatal(err)
	}
	rows := Rows(r)
	if len(rows) != 5 {
		t.Fatalf("%d rows: %+v", len(rows), rows)
	}
	path := filepath.Join(t.TempDir(), "bench.json")
	data, _ := json.Marshal(benchkit.File{Rows: rows})
	os.WriteFile(path, data, 0o644)
	f, err := benchkit.Read(path)
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]benchkit.Row{}
	for _, row := range f.Rows {
		byName[row.Name] = row
	}
	open := byName["transcript: open 10000 lines, last reply visible (Chromium)"]
	if open.Met == nil || !*open.Met || open.Ratio != 0.2 || open.Baselines["server: newest page"] != 9 || !strings.Contains(open.Note, "formatted (markdown) at 700 ms") {
		t.Fatalf("open row %+v", open)
	}
	ev := byName["transcript: one streamed line at 10000 lines, main-thread time"]
	if ev.Met == nil || !*ev.Met || ev.Loopat != 7.5 || ev.Baselines["previous chat UI (whole transcript in the DOM)"] != 900 {
		t.Fatalf("event row %+v", ev)
	}

	for _, bad := range []string{
		"no result line",
		ResultPrefix + `{"sizes":[]}`,
		ResultPrefix + `{"sizes":[{"lines":100,"bytes":1,"openMs":0,"runs":1,"domNodes":5,"serverWholeMs":1,"serverPageMs":1,"eventMs":3}]}`,
		ResultPrefix + `{"sizes":[{"lines":100,"bytes":1,"openMs":5,"formattedMs":5,"shellMs":4,"runs":1,"domNodes":5,"serverWholeMs":1,"serverPageMs":1}]}`,
		ResultPrefix + `{"sizes":[{"lines":100,"bytes":1,"openMs":5,"shellMs":4,"runs":1,"domNodes":5,"serverWholeMs":1,"serverPageMs":1,"eventMs":3}]}`,
		ResultPrefix + `{"sizes":`,
	} {
		if _, err := Parse([]byte(bad)); err == nil {
			t.Errorf("accepted %q", bad)
		}
	}
}

// The loop list's figures become rows (500 loops against 10 in the same run), and a list
// that lost loops (count below the workspace's) or rendered none fails the parse.
func TestParseLoopListRows(t *testing.T) {
	sizes := []Size{{Lines: 100, Bytes: 54_000, OpenMs: 310, FormattedMs: 320, ShellMs: 250, Runs: 3, DOMNodes: 900, ServerWholeMs: 8, ServerPageMs: 5, EventMs: 7, Events: 5}}
	lists := []List{
		{Loops: 10, OpenMs: 400, Runs: 3, Rows: 10, Rendered: 10, DOMNodes: 90, ServerListMs: 2},
		{Loops: 500, OpenMs: 500, Runs: 3, Rows: 500, Rendered: 40, DOMNodes: 300, ServerListMs: 50},
	}
	out, _ := json.Marshal(Result{Sizes: sizes, Lists: lists})
	r, err := Parse([]byte(ResultPrefix + string(out) + "\n"))
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]benchkit.Row{}
	for _, row := range Rows(r) {
		byName[row.Name] = row
	}
	big := byName["loop list: 500 loops shown (Chromium, navigation to every row)"]
	if big.Loopat != 500 || big.Ratio != 1.25 || big.Baselines["with 10 loops (same run)"] != 400 || big.Baselines["server: LoopService.List"] != 50 {
		t.Fatalf("500-loop row %+v", big)
	}
	if small := byName["loop list: 10 loops shown (Chromium, navigation to every row)"]; small.Loopat != 400 || small.Ratio != 0 {
		t.Fatalf("10-loop row %+v", small)
	}
	if dom := byName["loop list: DOM nodes with 500 loops"]; dom.Loopat != 300 {
		t.Fatalf("DOM row %+v", dom)
	}
	for _, bad := range []List{
		{Loops: 500, OpenMs: 500, Runs: 3, Rows: 499, Rendered: 40, DOMNodes: 300, ServerListMs: 50},
		{Loops: 500, OpenMs: 500, Runs: 3, Rows: 500, Rendered: 0, DOMNodes: 300, ServerListMs: 50},
		{Loops: 500, OpenMs: 0, Runs: 3, Rows: 500, Rendered: 40, DOMNodes: 300, ServerListMs: 50},
	} {
		out, _ := json.Marshal(Result{Sizes: sizes, Lists: []List{bad}})
		if _, err := Parse([]byte(ResultPrefix + string(out))); err == nil {
			t.Errorf("accepted %+v", bad)
		}
	}
}

// The fixture is real loop folders the app's store lists.
func TestCreateLoopsThroughTheStore(t *testing.T) {
	home := t.TempDir()
	if err := CreateLoops(home, 12); err != nil {
		t.Fatal(err)
	}
	st, err := loops.NewStore(filepath.Join(home, "loops"))
	if err != nil {
		t.Fatal(err)
	}
	all, err := st.List()
	if err != nil || len(all) != 12 {
		t.Fatalf("%d loops listed, %v", len(all), err)
	}
}
