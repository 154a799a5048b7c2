package mockapi

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"
)

// sseEvent is one parsed server-sent event.
type sseEvent struct {
	Name string
	Data map[string]any
}

// readSSE parses an SSE body; every data line must be a JSON object whose "type" equals
// the event name, as in Anthropic's stream.
func readSSE(t *testing.T, r io.Reader) []sseEvent {
	t.Helper()
	var events []sseEvent
	var name string
	var data []string
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	flush := func() {
		if name == "" && len(data) == 0 {
			return
		}
		var obj map[string]any
		if err := json.Unmarshal([]byte(strings.Join(data, "\n")), &obj); err != nil {
			t.Fatalf("event %q: data is not JSON: %v: %q", name, err, data)
		}
		if obj["type"] != name {
			t.Fatalf("event %q carries type %v", name, obj["type"])
		}
		events = append(events, sseEvent{name, obj})
		name, data = "", nil
	}
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "":
			flush()
		case strings.HasPrefix(line, "event: "):
			name = strings.TrimPrefix(line, "event: ")
		case strings.HasPrefix(line, "data: "):
			data = append(data, strings.TrimPrefix(line, "data: "))
		default:
			t.Fatalf("unexpected SSE line %q", line)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatalf("read SSE: %v", err)
	}
	flush()
	return events
}

// assemble checks the event order of a Messages stream and rebuilds the final message
// the way a client does: content blocks from their deltas, stop reason and usage.
func assemble(t *testing.T, events []sseEvent) map[string]any {
	t.Helper()
	if len(events) < 3 || events[0].Name != "message_start" || events[len(events)-1].Name != "message_stop" ||
		events[len(events)-2].Name != "message_delta" {
		t.Fatalf("stream must be message_start ... message_delta, message_stop; got %v", names(events))
	}
	msg, _ := events[0].Data["message"].(map[string]any)
	if msg == nil || msg["role"] != "assistant" || msg["type"] != "message" {
		t.Fatalf("bad message_start: %v", events[0].Data)
	}
	var blocks []map[string]any
	var partialJSON []string
	open := -1
	for _, ev := range events[1 : len(events)-2] {
		idx := -1
		if v, ok := ev.Data["index"].(float64); ok {
			idx = int(v)
		}
		switch ev.Name {
		case "ping":
		case "content_block_start":
			if open != -1 || idx != len(blocks) {
				t.Fatalf("content_block_start index %d while block %d open, %d done", idx, open, len(blocks))
			}
			cb, _ := ev.Data["content_block"].(map[string]any)
			if cb == nil {
				t.Fatalf("content_block_start without content_block: %v", ev.Data)
			}
			blocks = append(blocks, cb)
			partialJSON = append(partialJSON, "")
			open = idx
		case "content_block_delta":
			if idx != open {
				t.Fatalf("delta for block %d while %d open", idx, open)
			}
			d, _ := ev.Data["delta"].(map[string]any)
			b := blocks[idx]
			switch d["type"] {
			case "text_delta":
				requireType(t, b, "text")
				b["text"] = b["text"].(string) + d["text"].(string)
			case "thinking_delta":
				requireType(t, b, "thinking")
				b["thinking"] = b["thinking"].(string) + d["thinking"].(string)
			case "signature_delta":
				requireType(t, b, "thinking")
				b["signature"] = d["signature"]
			case "input_json_delta":
				requireType(t, b, "tool_use")
				partialJSON[idx] += d["partial_json"].(string)
			default:
				t.Fatalf("unknown delta %v", d)
			}
		case "content_block_stop":
			if idx != open {
				t.Fatalf("stop for block %d while %d open", idx, open)
			}
			if blocks[idx]["type"] == "tool_use" {
				var input any
				if err := json.Unmarshal([]byte(partialJSON[idx]), &input); err != nil {
					t.Fatalf("tool input JSON %q: %v", partialJSON[idx], err)
				}
				blocks[idx]["input"] = input
			}
			open = -1
		default:
			t.Fatalf("unexpected event %q inside the message", ev.Name)
		}
	}
	if open != -1 {
		t.Fatalf("block %d never stopped", open)
	}
	md := events[len(events)-2].Data
	delta, _ := md["delta"].(map[string]any)
	usage, _ := md["usage"].(map[string]any)
	if delta == nil || delta["stop_reason"] == nil || usage == nil || usage["output_tokens"] == nil {
		t.Fatalf("message_delta needs stop_reason and usage.output_tokens: %v", md)
	}
	startUsage := msg["usage"].(map[string]any)
	content := make([]any, len(blocks))
	for i, b := range blocks {
		content[i] = b
	}
	msg["content"] = content
	msg["stop_reason"] = delta["stop_reason"]
	msg["usage"] = map[string]any{
		"input_tokens":                startUsage["input_tokens"],
		"output_tokens":               usage["output_tokens"],
		"cache_creation_input_tokens": startUsage["cache_creation_input_tokens"],
		"cache_read_input_tokens":     startUsage["cache_read_input_tokens"],
	}
	return msg
}

func requireType(t *testing.T, b map[string]any, want string) {
	t.Helper()
	if b["type"] != want {
		t.Fatalf("delta for a %v block, want %s", b["type"], want)
	}
}

func names(events []sseEvent) []string {
	var out []string
	for _, e := range events {
		out = append(out, e.Name)
	}
	return out
}

func startServer(t *testing.T, opts Options) *Server {
	t.Helper()
	srv := New(opts)
	if err := srv.Listen("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	return srv
}

type msg struct {
	Role    string `json:"role"`
	Content any    `json:"content"`
}

func post(t *testing.T, srv *Server, stream bool, msgs ...msg) *http.Response {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"model": "claude-test", "max_tokens": 100, "stream": stream, "messages": msgs})
	req, _ := http.NewRequest(http.MethodPost, srv.URL()+"/v1/messages?beta=true", bytes.NewReader(body))
	req.Header.Set("x-api-key", "test-key")
	req.Header.Set("content-type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

// streamed posts with stream:true and returns the assembled message.
func streamed(t *testing.T, srv *Server, msgs ...msg) map[string]any {
	t.Helper()
	resp := post(t, srv, true, msgs...)
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("status %d %q: %s", resp.StatusCode, resp.Header.Get("Content-Type"), b)
	}
	return assemble(t, readSSE(t, resp.Body))
}

func plain(t *testing.T, srv *Server, msgs ...msg) map[string]any {
	t.Helper()
	resp := post(t, srv, false, msgs...)
	var m map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&m); err != nil || resp.StatusCode != 200 {
		t.Fatalf("status %d, decode: %v", resp.StatusCode, err)
	}
	return m
}

func user(text string) msg { return msg{"user", text} }

func assistantText(m map[string]any) string {
	var parts []string
	for _, b := range m["content"].([]any) {
		if bm := b.(map[string]any); bm["type"] == "text" {
			parts = append(parts, bm["text"].(string))
		}
	}
	return strings.Join(parts, "|")
}

func blockTypes(m map[string]any) []string {
	var out []string
	for _, b := range m["content"].([]any) {
		out = append(out, b.(map[string]any)["type"].(string))
	}
	return out
}

func toolUse(t *testing.T, m map[string]any) map[string]any {
	t.Helper()
	for _, b := range m["content"].([]any) {
		if bm := b.(map[string]any); bm["type"] == "tool_use" {
			return bm
		}
	}
	t.Fatalf("no tool_use in %v", m["content"])
	return nil
}

// TestScenarioStreams checks each built-in scenario's SSE sequence is well-formed, and that
// the streamed message equals the non-streaming JSON one (apart from its id).
func TestScenarioStreams(t *testing.T) {
	srv := startServer(t, Options{})
	cases := []struct {
		name      string
		msgs      []msg
		types     []string
		stop      string
		textCheck func(string) bool
	}{
		{"echo", []msg{user("hello there")}, []string{"text"}, "end_turn",
			func(s string) bool { return s == "echo: hello there\nhistory: 1 user messages" }},
		{"thinking", []msg{user("please [[thinking]]")}, []string{"thinking", "text"}, "end_turn",
			func(s string) bool { return s == "thought about it" }},
		{"tool", []msg{user("[[tool:bash echo hi > out.txt]]")}, []string{"text", "tool_use"}, "tool_use", nil},
		{"slow-tool", []msg{user("[[slow-tool]]")}, []string{"text", "tool_use"}, "tool_use", nil},
		{"todo", []msg{user("[[todo]] plan it")}, []string{"tool_use"}, "tool_use", nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := streamed(t, srv, tc.msgs...)
			if got := blockTypes(s); !reflect.DeepEqual(got, tc.types) {
				t.Fatalf("block types %v, want %v", got, tc.types)
			}
			if s["stop_reason"] != tc.stop {
				t.Fatalf("stop_reason %v, want %s", s["stop_reason"], tc.stop)
			}
			if tc.textCheck != nil && !tc.textCheck(assistantText(s)) {
				t.Fatalf("unexpected text %q", assistantText(s))
			}
			p := plain(t, srv, tc.msgs...)
			delete(s, "id")
			delete(p, "id")
			delete(p, "stop_sequence")
			delete(s, "stop_sequence")
			if !reflect.DeepEqual(s, p) {
				t.Fatalf("streamed and plain differ:\nstream %v\nplain  %v", s, p)
			}
		})
	}
}

func TestToolScenarioInputs(t *testing.T) {
	srv := startServer(t, Options{})
	tu := toolUse(t, streamed(t, srv, user(`run [[tool:bash printf '%s' "a > b" > x.txt]] now`)))
	in := tu["input"].(map[string]any)
	if tu["name"] != "Bash" || in["command"] != `printf '%s' "a > b" > x.txt` {
		t.Fatalf("tool_use %v", tu)
	}
	if id, _ := tu["id"].(string); !strings.HasPrefix(id, "toolu_") {
		t.Fatalf("tool id %v", tu["id"])
	}
	slow := toolUse(t, streamed(t, srv, user("[[slow-tool]]")))
	if slow["input"].(map[string]any)["command"] != SlowCommand {
		t.Fatalf("slow tool %v", slow)
	}
	todo := toolUse(t, streamed(t, srv, user("[[todo]]")))
	todos, _ := todo["input"].(map[string]any)["todos"].([]any)
	if todo["name"] != "TodoWrite" || len(todos) != 3 {
		t.Fatalf("todo %v", todo)
	}
	for _, td := range todos {
		m := td.(map[string]any)
		if m["content"] == "" || m["activeForm"] == "" || m["status"] == "" {
			t.Fatalf("todo item %v", m)
		}
	}
	tasks := streamed(t, srv, user("[[todo:tasks]]"))
	if got := blockTypes(tasks); !reflect.DeepEqual(got, []string{"tool_use", "tool_use"}) {
		t.Fatalf("todo:tasks blocks %v", got)
	}
	for _, b := range tasks["content"].([]any) {
		bm := b.(map[string]any)
		in := bm["input"].(map[string]any)
		if bm["name"] != "TaskCreate" || in["subject"] == "" || in["activeForm"] == "" {
			t.Fatalf("todo:tasks block %v", bm)
		}
	}
	bad := streamed(t, srv, user("[[tool:python print(1)]]"))
	if !strings.Contains(assistantText(bad), "unsupported tool marker") {
		t.Fatalf("bad tool marker reply %q", assistantText(bad))
	}
}

func TestTurnDerivation(t *testing.T) {
	srv := startServer(t, Options{})
	first := streamed(t, srv, user("[[tool:bash touch f]]"))
	tu := toolUse(t, first)
	toolResult := msg{"user", []map[string]any{{"type": "tool_result", "tool_use_id": tu["id"], "content": "done: 3 files"}}}
	conv := []msg{user("[[tool:bash touch f]]"), {"assistant", first["content"]}, toolResult}

	// Step 1 of the tool scenario summarises the result.
	if got := assistantText(streamed(t, srv, conv...)); got != "tool result: done: 3 files" {
		t.Fatalf("summary %q", got)
	}
	// Retrying the same request gives the same reply, tool ids included (no hidden state).
	again := streamed(t, srv, user("[[tool:bash touch f]]"))
	if toolUse(t, again)["id"] != tu["id"] {
		t.Fatalf("retry changed tool id: %v vs %v", toolUse(t, again)["id"], tu["id"])
	}
	// An error result, as block content, inside a message the CLI may follow with a system message.
	errResult := msg{"user", []map[string]any{{"type": "tool_result", "tool_use_id": tu["id"], "is_error": true,
		"content": []map[string]any{{"type": "text", "text": "permission denied"}}}}}
	sys := msg{"system", "The user sent a new message while you were working"}
	if got := assistantText(streamed(t, srv, conv[0], conv[1], errResult, sys)); got != "tool error: permission denied" {
		t.Fatalf("error summary %q", got)
	}
	// A new prompt in the same conversation restarts the scenario at step 0.
	conv = append(conv, msg{"assistant", "tool result: done: 3 files"}, user("again"))
	if blockTypes(streamed(t, srv, conv...))[1] != "tool_use" {
		t.Fatal("a new prompt should start the tool scenario again")
	}
	// An interrupt notice merged with a new prompt: the prompt counts, the notice does not.
	interrupted := msg{"user", []map[string]any{
		{"type": "tool_result", "tool_use_id": tu["id"], "is_error": true, "content": "interrupted"},
		{"type": "text", "text": "[Request interrupted by user]\n"},
		{"type": "text", "text": "[[echo]] after the interrupt"},
	}}
	if got := assistantText(streamed(t, srv, conv[0], conv[1], interrupted)); got != "echo: [[echo]] after the interrupt\nhistory: 2 user messages" {
		t.Fatalf("after interrupt %q", got)
	}
	// "[[echo]]" in the latest prompt overrides the first prompt's scenario.
	conv[len(conv)-1] = user("[[echo]] stop")
	if got := assistantText(streamed(t, srv, conv...)); got != "echo: [[echo]] stop\nhistory: 2 user messages" {
		t.Fatalf("echo override %q", got)
	}
}

func TestEchoHistory(t *testing.T) {
	srv := startServer(t, Options{})
	reminder := map[string]any{"type": "text", "text": "<system-reminder>\nctx [[thinking]]\n</system-reminder>"}
	conv := []msg{
		{"user", []map[string]any{reminder, {"type": "text", "text": "my name is Ada"}}},
		{"assistant", "echo: my name is Ada\nhistory: 1 user messages"},
		{"user", []map[string]any{{"type": "text", "text": "what is my name?"}, reminder}},
	}
	got := assistantText(streamed(t, srv, conv...))
	if got != "echo: what is my name?\nhistory: 2 user messages" {
		t.Fatalf("echo %q", got)
	}
	// A marker only in a later prompt picks the scenario when the first prompt has none.
	conv[2] = user("now [[thinking]]")
	if got := blockTypes(streamed(t, srv, conv...)); !reflect.DeepEqual(got, []string{"thinking", "text"}) {
		t.Fatalf("later marker: %v", got)
	}
}

func TestDeriveDirect(t *testing.T) {
	req := &MessagesRequest{Messages: []Message{
		{Role: "user", Content: []ContentBlock{{Type: "text", Text: "[[custom:a b c]] go"}}},
		{Role: "assistant", Content: []ContentBlock{{Type: "tool_use", Name: "Bash"}}},
		{Role: "user", Content: []ContentBlock{{Type: "tool_result", ToolUseID: "t1", Content: json.RawMessage(`"ok"`)}}},
		{Role: "assistant", Content: []ContentBlock{{Type: "text", Text: "x"}}},
	}}
	c := derive(req)
	if c.Marker != "custom" || c.Arg != "a b c" || c.Turn != 2 || c.Step != 2 || len(c.Prompts) != 1 ||
		len(c.ToolResults) != 0 || c.FirstPrompt() != "[[custom:a b c]] go" {
		t.Fatalf("derive: %+v", c)
	}
}

func TestErrorScenarios(t *testing.T) {
	srv := startServer(t, Options{})
	cases := []struct {
		marker, errType string
		status          int
	}{
		{"[[error:500]]", "api_error", 500},
		{"[[error:401]]", "authentication_error", 401},
		{"[[error:overloaded]]", "overloaded_error", 529},
		{"[[error:429]]", "rate_limit_error", 429},
		{"[[error:nonsense]]", "invalid_request_error", 400},
	}
	for _, tc := range cases {
		for _, stream := range []bool{true, false} {
			resp := post(t, srv, stream, user("x "+tc.marker))
			var body struct {
				Type  string `json:"type"`
				Error struct{ Type, Message string }
			}
			if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
				t.Fatalf("%s: decode: %v", tc.marker, err)
			}
			if resp.StatusCode != tc.status || body.Type != "error" || body.Error.Type != tc.errType || body.Error.Message == "" ||
				!strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") || resp.Header.Get("request-id") == "" {
				t.Fatalf("%s stream=%v: status %d body %+v", tc.marker, stream, resp.StatusCode, body)
			}
		}
	}
}

func TestRequestRecording(t *testing.T) {
	srv := startServer(t, Options{})
	streamed(t, srv, user("recorded"))
	req, _ := http.NewRequest(http.MethodPost, srv.URL()+"/v1/messages/count_tokens?beta=true",
		strings.NewReader(`{"model":"m","messages":[{"role":"user","content":"a"},{"role":"assistant","content":"b"}]}`))
	req.Header.Set("Authorization", "Bearer tok-123")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var ct struct {
		InputTokens int `json:"input_tokens"`
	}
	json.NewDecoder(resp.Body).Decode(&ct)
	resp.Body.Close()
	if ct.InputTokens != 20 {
		t.Fatalf("count_tokens %d", ct.InputTokens)
	}

	reqs := srv.Requests()
	if len(reqs) != 2 {
		t.Fatalf("recorded %d requests", len(reqs))
	}
	r := reqs[0]
	if r.Method != "POST" || r.Path != "/v1/messages" || r.Query != "beta=true" || r.Header.Get("x-api-key") != "test-key" ||
		!bytes.Contains(r.Body, []byte(`"recorded"`)) || r.Time.IsZero() || !strings.HasPrefix(r.RemoteAddr, "127.0.0.1:") {
		t.Fatalf("first request %+v", r)
	}
	if reqs[1].Header.Get("Authorization") != "Bearer tok-123" || reqs[1].Path != "/v1/messages/count_tokens" {
		t.Fatalf("second request %+v", reqs[1])
	}
	if m := srv.MessagesRequests(); len(m) != 1 || m[0].Path != "/v1/messages" {
		t.Fatalf("MessagesRequests %v", m)
	}
	// Requests returns a copy.
	reqs[0].Path = "changed"
	if srv.Requests()[0].Path != "/v1/messages" {
		t.Fatal("Requests must return a copy")
	}
}

func TestOtherEndpoints(t *testing.T) {
	srv := startServer(t, Options{})
	do := func(method, path string) (int, map[string]any) {
		req, _ := http.NewRequest(method, srv.URL()+path, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var m map[string]any
		json.NewDecoder(resp.Body).Decode(&m)
		return resp.StatusCode, m
	}
	if st, _ := do(http.MethodHead, "/"); st != 200 {
		t.Fatalf("HEAD / %d", st)
	}
	if st, _ := do(http.MethodHead, "/v1/messages"); st != 200 {
		t.Fatalf("HEAD /v1/messages %d", st)
	}
	if st, m := do(http.MethodGet, "/v1/models"); st != 200 || len(m["data"].([]any)) == 0 {
		t.Fatalf("models %d %v", st, m)
	}
	if st, m := do(http.MethodGet, "/v1/models/claude-x"); st != 200 || m["id"] != "claude-x" {
		t.Fatalf("model %d %v", st, m)
	}
	st, m := do(http.MethodGet, "/v1/nope")
	if errObj, _ := m["error"].(map[string]any); st != 404 || m["type"] != "error" || errObj["type"] != "not_found_error" {
		t.Fatalf("unknown path %d %v", st, m)
	}
	resp, err := http.Post(srv.URL()+"/v1/messages", "application/json", strings.NewReader("{not json"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 400 {
		t.Fatalf("bad JSON status %d", resp.StatusCode)
	}
	resp, err = http.Post(srv.URL()+"/v1/messages", "application/json", strings.NewReader(`{"messages":[]}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 400 {
		t.Fatalf("empty messages status %d", resp.StatusCode)
	}
}

func TestCustomScenarios(t *testing.T) {
	var seen Conversation
	srv := startServer(t, Options{Scenarios: map[string]Scenario{
		"Mine": func(c Conversation) Reply {
			seen = c
			return Reply{
				Content: []Block{Thinking("hmm"), Text("custom " + c.Arg), ToolUse("Read", map[string]any{"file_path": "/x"})},
				Usage:   &Usage{InputTokens: 1234, OutputTokens: 56, CacheReadInputTokens: 7, CacheCreationInputTokens: 8},
			}
		},
		// Overriding a built-in.
		"thinking": func(c Conversation) Reply {
			return Reply{Content: []Block{Text("no thoughts")}, StopReason: "max_tokens"}
		},
	}})
	m := streamed(t, srv, user("[[mine:abc]]"))
	if assistantText(m) != "custom abc" || m["stop_reason"] != "tool_use" || seen.Model != "claude-test" || !seen.Stream {
		t.Fatalf("custom: %v, seen %+v", m, seen)
	}
	want := map[string]any{"input_tokens": 1234.0, "output_tokens": 56.0, "cache_read_input_tokens": 7.0, "cache_creation_input_tokens": 8.0}
	if !reflect.DeepEqual(m["usage"], want) {
		t.Fatalf("usage %v", m["usage"])
	}
	o := streamed(t, srv, user("[[thinking]]"))
	if assistantText(o) != "no thoughts" || o["stop_reason"] != "max_tokens" {
		t.Fatalf("override: %v", o)
	}
	u := streamed(t, srv, user("[[nosuch]] hi"))
	if !strings.HasPrefix(assistantText(u), `mock: unknown scenario "nosuch"`) {
		t.Fatalf("unknown marker: %q", assistantText(u))
	}
}

func TestDefaultUsage(t *testing.T) {
	srv := startServer(t, Options{})
	m := streamed(t, srv, user("a"), msg{"assistant", "b"}, user("one two three"))
	// 3 messages → 30 input tokens; "echo: one two three\nhistory: 2 user messages" has 8 words → 1 + 8.
	usage := m["usage"].(map[string]any)
	if usage["input_tokens"] != 30.0 || usage["output_tokens"] != 9.0 {
		t.Fatalf("usage %v", usage)
	}
}

func TestChunkDelayAndClose(t *testing.T) {
	srv := startServer(t, Options{ChunkDelay: 20 * time.Millisecond, Scenarios: map[string]Scenario{
		"hang": func(Conversation) Reply { return Reply{Content: []Block{Text("late")}, Delay: time.Minute} },
	}})
	start := time.Now()
	streamed(t, srv, user("one two three four five six seven")) // echo text → 4 text deltas
	if d := time.Since(start); d < 60*time.Millisecond {
		t.Fatalf("chunk delay not applied: %v", d)
	}
	// Close must not wait for a stream that is still delaying.
	done := make(chan struct{})
	go func() {
		defer close(done)
		resp, err := http.Post(srv.URL()+"/v1/messages", "application/json",
			strings.NewReader(`{"stream":true,"messages":[{"role":"user","content":"[[hang]]"}]}`))
		if err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
	}()
	for len(srv.Requests()) < 2 {
		time.Sleep(5 * time.Millisecond)
	}
	start = time.Now()
	if err := srv.Close(); err != nil {
		t.Fatal(err)
	}
	<-done
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("Close took %v", d)
	}
	if err := srv.Listen("127.0.0.1:0"); err == nil {
		t.Fatal("Listen after Close should fail: a Server serves once")
	}
}

func TestChunking(t *testing.T) {
	for _, s := range []string{"", "one", "a b c d e f g", "  spaced  out  ", "héllo wörld ünïcode"} {
		if got := strings.Join(chunkWords(s, 3), ""); got != s {
			t.Fatalf("chunkWords(%q) joined %q", s, got)
		}
		parts := chunkBytes(s, 4)
		if got := strings.Join(parts, ""); got != s {
			t.Fatalf("chunkBytes(%q) joined %q", s, got)
		}
		for _, p := range parts {
			if !utf8Valid(p) {
				t.Fatalf("chunkBytes(%q) split a rune: %q", s, p)
			}
		}
	}
}

func utf8Valid(s string) bool { return strings.ToValidUTF8(s, "\uFFFD") == s }

func ExampleServer() {
	srv := New(Options{})
	if err := srv.Listen("127.0.0.1:0"); err != nil {
		panic(err)
	}
	defer srv.Close()
	resp, err := http.Post(srv.URL()+"/v1/messages", "application/json",
		strings.NewReader(`{"model":"m","messages":[{"role":"user","content":"hi"}]}`))
	if err != nil {
		panic(err)
	}
	defer resp.Body.Close()
	var m struct {
		Content []struct{ Text string } `json:"content"`
	}
	json.NewDecoder(resp.Body).Decode(&m)
	fmt.Println(m.Content[0].Text)
	// Output:
	// echo: hi
	// history: 1 user messages
}

func TestStripReminders(t *testing.T) {
	for in, want := range map[string]string{
		"e2e-42\n<system-reminder> <total_tokens>9 left</total_tokens>\n</system-reminder>": "e2e-42",
		"a <system-reminder>x</system-reminder> b<system-reminder>y":                        "a  b",
		"plain": "plain",
	} {
		if got := stripReminders(in); got != want {
			t.Errorf("stripReminders(%q) = %q, want %q", in, got, want)
		}
	}
}
