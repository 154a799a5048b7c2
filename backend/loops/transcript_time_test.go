package loops

import (
	"encoding/json"
	"testing"
	"time"
)

func TestStampTimeOnRepliesOnly(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	got := stampTime([]byte(`{"type":"assistant","message":{"content":[]}}`), now)
	var v map[string]any
	if err := json.Unmarshal(got, &v); err != nil || v["ts"] != "2026-01-02T03:04:05Z" || v["type"] != "assistant" {
		t.Fatalf("stamped %s: %v", got, err)
	}
	for _, keep := range []string{
		`{"type":"user","message":{}}`,
		`{"type":"assistant","ts":"earlier"}`,
		`[1,2]`,
		`{"type":"assistant",`, // not JSON: stored as the agent wrote it
	} {
		if got := stampTime([]byte(keep), now); string(got) != keep {
			t.Errorf("%s became %s", keep, got)
		}
	}
	if got := stampTime([]byte(`{"type":"result"}`), now); !json.Valid(got) {
		t.Fatalf("invalid: %s", got)
	}
}
