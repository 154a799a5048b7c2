// Package agent runs the Claude Code CLI as one long-lived stream-json process per loop
// and turns its output lines into typed events.
package agent

import (
	"encoding/json"
	"fmt"
)

// Usage is one model's token count, as the CLI reports in result.modelUsage.
type Usage struct {
	InputTokens              int64   `json:"inputTokens"`
	OutputTokens             int64   `json:"outputTokens"`
	CacheReadInputTokens     int64   `json:"cacheReadInputTokens"`
	CacheCreationInputTokens int64   `json:"cacheCreationInputTokens"`
	CostUSD                  float64 `json:"costUSD"`
}

// Add accumulates o into u.
func (u Usage) Add(o Usage) Usage {
	u.InputTokens += o.InputTokens
	u.OutputTokens += o.OutputTokens
	u.CacheReadInputTokens += o.CacheReadInputTokens
	u.CacheCreationInputTokens += o.CacheCreationInputTokens
	u.CostUSD += o.CostUSD
	return u
}

// Delta is a streamed fragment (from --include-partial-messages); shown live, never stored.
type Delta struct {
	Kind string `json:"kind"` // text | thinking | tool_input
	Text string `json:"text"`
}

// Result ends a turn.
type Result struct {
	Subtype string           `json:"subtype"`
	IsError bool             `json:"isError"`
	Text    string           `json:"text"`
	Usage   map[string]Usage `json:"usage"` // by model
}

// Line is one parsed stdout line of the CLI.
type Line struct {
	Raw       json.RawMessage
	Type      string
	Subtype   string
	SessionID string
	Delta     *Delta  // set for stream_event lines carrying text
	Result    *Result // set for result lines
	// Control is set for control_request and control_cancel_request lines (see control.go).
	Control *ControlRequest
}

// Ephemeral reports whether the line is only shown live and not kept in the transcript.
func (l Line) Ephemeral() bool {
	switch l.Type {
	case "stream_event", "control_response", "control_request", "control_cancel_request", "keep_alive":
		return true
	}
	return false
}

type wireLine struct {
	Type       string           `json:"type"`
	Subtype    string           `json:"subtype"`
	SessionID  string           `json:"session_id"`
	IsError    bool             `json:"is_error"`
	Result     string           `json:"result"`
	ModelUsage map[string]Usage `json:"modelUsage"`
	Usage      *struct {
		InputTokens              int64 `json:"input_tokens"`
		OutputTokens             int64 `json:"output_tokens"`
		CacheReadInputTokens     int64 `json:"cache_read_input_tokens"`
		CacheCreationInputTokens int64 `json:"cache_creation_input_tokens"`
	} `json:"usage"`
	TotalCostUSD float64 `json:"total_cost_usd"`
	Event        *struct {
		Type  string `json:"type"`
		Delta *struct {
			Type        string `json:"type"`
			Text        string `json:"text"`
			Thinking    string `json:"thinking"`
			PartialJSON string `json:"partial_json"`
		} `json:"delta"`
	} `json:"event"`
	Errors []string `json:"errors"`
}

// ParseLine decodes one stdout line. Unknown types are returned with Type set and kept.
// fallbackModel names the model for a result without modelUsage.
func ParseLine(b []byte, fallbackModel string) (Line, error) {
	var w wireLine
	if err := json.Unmarshal(b, &w); err != nil {
		return Line{}, fmt.Errorf("parse agent output line: %w", err)
	}
	if w.Type == "" {
		return Line{}, fmt.Errorf("parse agent output line: no type")
	}
	l := Line{Raw: append(json.RawMessage(nil), b...), Type: w.Type, Subtype: w.Subtype, SessionID: w.SessionID}
	switch w.Type {
	case "stream_event":
		if w.Event != nil && w.Event.Type == "content_block_delta" && w.Event.Delta != nil {
			d := w.Event.Delta
			switch d.Type {
			case "text_delta":
				l.Delta = &Delta{Kind: "text", Text: d.Text}
			case "thinking_delta":
				l.Delta = &Delta{Kind: "thinking", Text: d.Thinking}
			case "input_json_delta":
				l.Delta = &Delta{Kind: "tool_input", Text: d.PartialJSON}
			}
		}
	case "result":
		r := &Result{Subtype: w.Subtype, IsError: w.IsError, Text: w.Result, Usage: map[string]Usage{}}
		if r.Text == "" && len(w.Errors) > 0 {
			r.Text = w.Errors[0]
		}
		for model, u := range w.ModelUsage {
			r.Usage[model] = u
		}
		if len(r.Usage) == 0 && w.Usage != nil && fallbackModel != "" {
			r.Usage[fallbackModel] = Usage{
				InputTokens: w.Usage.InputTokens, OutputTokens: w.Usage.OutputTokens,
				CacheReadInputTokens: w.Usage.CacheReadInputTokens, CacheCreationInputTokens: w.Usage.CacheCreationInputTokens,
				CostUSD: w.TotalCostUSD,
			}
		}
		l.Result = r
	case "control_request", "control_cancel_request":
		l.Control = parseControl(w.Type, b)
	}
	return l, nil
}

// UserLine is the stdin line that starts a turn.
func UserLine(text string) []byte {
	b, _ := json.Marshal(map[string]any{
		"type":    "user",
		"message": map[string]any{"role": "user", "content": text},
	})
	return b
}

// ControlLine is a stream-json control request (interrupt, set_permission_mode).
func ControlLine(requestID string, request map[string]any) []byte {
	b, _ := json.Marshal(map[string]any{"type": "control_request", "request_id": requestID, "request": request})
	return b
}
