package loops

import (
	"bytes"
	"encoding/json"
	"time"
)

// stampTime gives a CLI assistant or result line the time it was stored, as "ts" (the
// first key), so the chat can show when a reply came; the CLI's lines carry no time.
// Other lines, a line that already has a ts and anything that is not a JSON object are
// returned unchanged.
func stampTime(line []byte, now time.Time) []byte {
	line = bytes.TrimSpace(line)
	if len(line) < 2 || line[0] != '{' {
		return line
	}
	var probe struct {
		Type string          `json:"type"`
		TS   json.RawMessage `json:"ts"`
	}
	if json.Unmarshal(line, &probe) != nil || probe.TS != nil || (probe.Type != "assistant" && probe.Type != "result") {
		return line
	}
	ts, _ := json.Marshal(now.UTC().Format(time.RFC3339Nano))
	out := make([]byte, 0, len(line)+len(ts)+8)
	out = append(out, `{"ts":`...)
	out = append(out, ts...)
	rest := bytes.TrimSpace(line[1:])
	if rest[0] != '}' {
		out = append(out, ',')
	}
	return append(out, rest...)
}
