// Package transcriptbench is the testable half of bench/transcript: it synthesises loop
// transcripts the way the app stores them (loops/<id>/messages.jsonl beside meta.json, the
// CLI's stream-json lines plus the app's own user_input lines) and turns the browser
// script's measurements into artifacts/bench.json rows.
package transcriptbench

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/loopat/desktop/backend/loops"
)

// Marker is in the last assistant reply of every synthesised transcript: the browser
// script waits for it to be visible.
func Marker(lines int) string { return fmt.Sprintf("LAST-REPLY-OF-%d-LINES", lines) }

// linesPerTurn: user_input, init, text, 3×(tool_use, tool_result), final text, result.
const linesPerTurn = 11

// Synthesise writes n lines (n >= 11) of a realistic transcript: whole turns, after a
// short opening turn that makes the count exact, about 540 bytes a line on average as in
// the 5,000-line / 2.7 MB loop of issue 16. The last reply holds Marker(n).
func Synthesise(w io.Writer, n int) error {
	if n < linesPerTurn {
		return fmt.Errorf("synthesise: %d lines is less than one turn (%d)", n, linesPerTurn)
	}
	bw := bufio.NewWriter(w)
	enc := json.NewEncoder(bw)
	start := time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC)
	turns := n / linesPerTurn
	for k := range n % linesPerTurn {
		if err := enc.Encode(assistant(-1, fmt.Sprint(k), []any{map[string]any{"type": "text", "text": "Reading the repository layout before starting."}})); err != nil {
			return err
		}
	}
	for turn := range turns {
		for _, line := range turnLines(turn, start.Add(time.Duration(turn)*90*time.Second), turn == turns-1, n) {
			if err := enc.Encode(line); err != nil {
				return err
			}
		}
	}
	return bw.Flush()
}

func turnLines(turn int, ts time.Time, last bool, n int) []any {
	const session = "5b0c1d2e-3f40-4a5b-8c6d-7e8f9a0b1c2d"
	tools := []string{"Bash", "Read", "Edit", "Glob", "Grep", "Write", "TodoWrite", "WebFetch", "Task"}
	lines := []any{
		map[string]any{"type": "user_input", "text": fmt.Sprintf("Step %d: make the tests in pkg/store pass and explain what was wrong.", turn), "ts": ts.Format(time.RFC3339Nano)},
		map[string]any{"type": "system", "subtype": "init", "session_id": session, "model": "claude-sonnet-4-5",
			"permissionMode": "bypassPermissions", "cwd": "/home/agent/work", "tools": tools, "mcp_servers": []any{}, "apiKeySource": "ANTHROPIC_API_KEY"},
		assistant(turn, "a", []any{map[string]any{"type": "text", "text": fmt.Sprintf("I'll look at the failing test first (turn %d).", turn)}}),
	}
	for k, call := range []struct{ name, input, out string }{
		{"Bash", `{"command":"go test ./pkg/store/... 2>&1 | tail -20","description":"Run the store tests"}`,
			"--- FAIL: TestStoreRoundTrip (0.00s)\n    store_test.go:41: got 3 rows, want 4\nFAIL\nexit status 1\n" + strings.Repeat("ok  \tgithub.com/example/app/pkg/other\t0.012s\n", 4)},
		{"Read", `{"file_path":"/home/agent/work/pkg/store/store.go","offset":30,"limit":40}`,
			strings.Repeat("    30\tfunc (s *Store) Put(k string, v []byte) error {\n    31\t\ts.mu.Lock()\n    32\t\tdefer s.mu.Unlock()\n", 5)},
		{"Edit", `{"file_path":"/home/agent/work/pkg/store/store.go","old_string":"i < len(rows)-1","new_string":"i < len(rows)"}`,
			"The file /home/agent/work/pkg/store/store.go has been updated."},
	} {
		id := fmt.Sprintf("toolu_%04d_%d", turn, k)
		lines = append(lines,
			assistant(turn, fmt.Sprintf("t%d", k), []any{map[string]any{"type": "tool_use", "id": id, "name": call.name, "input": json.RawMessage(call.input)}}),
			map[string]any{"type": "user", "message": map[string]any{"role": "user", "content": []any{
				map[string]any{"type": "tool_result", "tool_use_id": id, "content": call.out, "is_error": false}}}},
		)
	}
	reply := fmt.Sprintf("Fixed: the loop in `Store.Rows` stopped one row early (turn %d).\n\n- `go test ./pkg/store/...` passes\n- no other package changed\n\n```go\nfor i := 0; i < len(rows); i++ {\n```", turn)
	if last {
		reply += "\n\n" + Marker(n)
	}
	return append(lines,
		assistant(turn, "z", []any{map[string]any{"type": "text", "text": reply}}),
		map[string]any{"type": "result", "subtype": "success", "is_error": false, "duration_ms": 14200, "num_turns": 4,
			"session_id": session, "total_cost_usd": 0.0213,
			"usage": map[string]any{"input_tokens": 5120, "output_tokens": 380, "cache_read_input_tokens": 18000}},
	)
}

func assistant(turn int, part string, content []any) map[string]any {
	return map[string]any{"type": "assistant", "message": map[string]any{
		"id": fmt.Sprintf("msg_%04d%s", turn, part), "type": "message", "role": "assistant", "model": "claude-sonnet-4-5",
		"content": content, "stop_reason": nil, "usage": map[string]any{"input_tokens": 12, "output_tokens": 64}},
		"session_id": "5b0c1d2e-3f40-4a5b-8c6d-7e8f9a0b1c2d"}
}

// CreateLoop makes a loop in the workspace at home through the app's own store and
// fills its transcript with n synthesised lines. It returns the loop id.
func CreateLoop(home string, n int) (string, error) {
	st, err := loops.NewStore(filepath.Join(home, "loops"))
	if err != nil {
		return "", err
	}
	meta, err := st.Create(loops.NewLoop{Title: fmt.Sprintf("Long transcript (%d lines)", n), Model: "claude-sonnet-4-5", PermissionMode: "bypassPermissions"})
	if err != nil {
		return "", err
	}
	dir, err := st.Dir(meta.ID)
	if err != nil {
		return "", err
	}
	f, err := os.OpenFile(filepath.Join(dir, "messages.jsonl"), os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return "", err
	}
	if err := Synthesise(f, n); err != nil {
		f.Close()
		return "", err
	}
	return meta.ID, f.Close()
}
