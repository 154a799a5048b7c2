package agent

import (
	"strings"
	"testing"
)

func TestParseLines(t *testing.T) {
	init, err := ParseLine([]byte(`{"type":"system","subtype":"init","session_id":"s-1","model":"m"}`), "m")
	if err != nil || init.SessionID != "s-1" || init.Subtype != "init" || init.Ephemeral() {
		t.Fatalf("init = %+v %v", init, err)
	}
	d, _ := ParseLine([]byte(`{"type":"stream_event","event":{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hel"}}}`), "m")
	if !d.Ephemeral() || d.Delta == nil || d.Delta.Kind != "text" || d.Delta.Text != "Hel" {
		t.Fatalf("delta = %+v", d)
	}
	th, _ := ParseLine([]byte(`{"type":"stream_event","event":{"type":"content_block_delta","delta":{"type":"thinking_delta","thinking":"hmm"}}}`), "m")
	if th.Delta == nil || th.Delta.Kind != "thinking" {
		t.Fatalf("thinking delta = %+v", th)
	}
	res, _ := ParseLine([]byte(`{"type":"result","subtype":"success","is_error":false,"result":"done","modelUsage":{"claude-x":{"inputTokens":5,"outputTokens":7,"cacheReadInputTokens":1,"costUSD":0.5}}}`), "m")
	if res.Result == nil || res.Result.Text != "done" || res.Result.Usage["claude-x"].OutputTokens != 7 || res.Result.Usage["claude-x"].CostUSD != 0.5 {
		t.Fatalf("result = %+v", res.Result)
	}
	// Without modelUsage the usage is booked to the loop's model.
	res2, _ := ParseLine([]byte(`{"type":"result","is_error":true,"result":"API Error: 401","usage":{"input_tokens":2,"output_tokens":3}}`), "m")
	if !res2.Result.IsError || res2.Result.Usage["m"].InputTokens != 2 {
		t.Fatalf("result without modelUsage = %+v", res2.Result)
	}
	if _, err := ParseLine([]byte(`not json`), "m"); err == nil {
		t.Fatal("garbage parsed")
	}
	if _, err := ParseLine([]byte(`{"no":"type"}`), "m"); err == nil {
		t.Fatal("line without type parsed")
	}
}

func TestArgsAndInputLines(t *testing.T) {
	a := strings.Join(Args(Options{Model: "m1", PermissionMode: "plan", Resume: "s-1", PartialMessages: true}), " ")
	for _, want := range []string{"claude -p --input-format stream-json --output-format stream-json --verbose", "--include-partial-messages", "--permission-mode plan", "--resume s-1", "--model m1"} {
		if !strings.Contains(a, want) {
			t.Fatalf("args %q lack %q", a, want)
		}
	}
	if strings.Contains(strings.Join(Args(Options{}), " "), "--resume") {
		t.Fatal("resume without a session")
	}
	if got := string(UserLine("hi \"x\"")); got != `{"message":{"content":"hi \"x\"","role":"user"},"type":"user"}` {
		t.Fatalf("user line = %s", got)
	}
	if got := string(ControlLine("r1", map[string]any{"subtype": "interrupt"})); got != `{"request":{"subtype":"interrupt"},"request_id":"r1","type":"control_request"}` {
		t.Fatalf("control line = %s", got)
	}
}
