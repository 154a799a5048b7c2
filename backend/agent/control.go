// The CLI's control protocol for tool permission (started with
// --permission-prompt-tool stdio): the CLI asks with a can_use_tool control_request on
// stdout and waits for our control_response on stdin; it may withdraw a question with
// control_cancel_request. Shapes as the Claude Agent SDKs speak them
// (claude-agent-sdk-python _internal/query.py):
//
//	in:  {"type":"control_request","request_id":R,"request":{"subtype":"can_use_tool",
//	      "tool_name":T,"input":{..},"permission_suggestions":[..],"tool_use_id":U}}
//	in:  {"type":"control_cancel_request","request_id":R}
//	out: {"type":"control_response","response":{"subtype":"success","request_id":R,
//	      "response":{"behavior":"allow","updatedInput":{..}} | {"behavior":"deny","message":M}}}
//	out: {"type":"control_response","response":{"subtype":"error","request_id":R,"error":M}}
//
// Everything in a request is process output of the sandbox: sizes are bounded, and the
// answer goes only to the process that asked (ControlRequest keeps its Session).

package agent

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"unicode/utf8"
)

// Bounds on what one control request may carry.
const (
	MaxControlLine   = 1 << 20 // a whole control_request line
	MaxControlIDLen  = 128     // request_id and tool_use_id
	MaxToolNameLen   = 128
	maxErrorReplyLen = 1024
)

// ControlRequest is one control_request (or control_cancel_request) of the CLI.
type ControlRequest struct {
	RequestID   string
	Subtype     string          // can_use_tool, or "cancel" for control_cancel_request
	ToolName    string          // can_use_tool only
	ToolUseID   string          // can_use_tool only
	Input       json.RawMessage // can_use_tool only: a JSON object
	Suggestions json.RawMessage // permission_suggestions as sent (may be null)
	// Err says why the line is not a usable request; RequestID is set when it was readable.
	Err error

	sess *Session
}

// ErrMalformedControl marks a control line that cannot be answered as asked.
var ErrMalformedControl = errors.New("malformed control message from the agent")

func malformed(format string, a ...any) error {
	return fmt.Errorf("%w: %s", ErrMalformedControl, fmt.Sprintf(format, a...))
}

// parseControl reads a control_request / control_cancel_request line; never fails:
// problems are in Err so the caller can show them and unblock the CLI.
func parseControl(typ string, b []byte) *ControlRequest {
	c := &ControlRequest{}
	if len(b) > MaxControlLine {
		c.Err = malformed("control line of %d bytes (limit %d)", len(b), MaxControlLine)
		return c
	}
	var w struct {
		RequestID json.RawMessage `json:"request_id"`
		Request   *struct {
			Subtype     string          `json:"subtype"`
			ToolName    json.RawMessage `json:"tool_name"`
			ToolUseID   string          `json:"tool_use_id"`
			Input       json.RawMessage `json:"input"`
			Suggestions json.RawMessage `json:"permission_suggestions"`
		} `json:"request"`
	}
	if err := json.Unmarshal(b, &w); err != nil {
		c.Err = malformed("undecodable control line: %v", err)
		return c
	}
	var id string
	if err := json.Unmarshal(w.RequestID, &id); err != nil || id == "" || len(id) > MaxControlIDLen || !utf8.ValidString(id) {
		c.Err = malformed("control request without a usable request_id")
		return c
	}
	c.RequestID = id
	if typ == "control_cancel_request" {
		c.Subtype = "cancel"
		return c
	}
	if w.Request == nil {
		c.Err = malformed("control request %q has no request", id)
		return c
	}
	c.Subtype = w.Request.Subtype
	if c.Subtype != "can_use_tool" {
		return c // the caller answers with an error: we serve no other request
	}
	var tool string
	if err := json.Unmarshal(w.Request.ToolName, &tool); err != nil || tool == "" || len(tool) > MaxToolNameLen || !utf8.ValidString(tool) {
		c.Err = malformed("permission request %q without a usable tool_name", id)
		return c
	}
	c.ToolName = tool
	in := bytes.TrimSpace(w.Request.Input)
	if len(in) == 0 || in[0] != '{' {
		c.Err = malformed("permission request %q for %s: input is not a JSON object", id, tool)
		return c
	}
	c.Input = append(json.RawMessage(nil), in...)
	if len(w.Request.ToolUseID) <= MaxControlIDLen {
		c.ToolUseID = w.Request.ToolUseID
	}
	if s := bytes.TrimSpace(w.Request.Suggestions); len(s) > 0 {
		c.Suggestions = append(json.RawMessage(nil), s...)
	}
	return c
}

// SameProcess reports whether c and o came from one CLI process.
func (c *ControlRequest) SameProcess(o *ControlRequest) bool {
	return c.sess != nil && c.sess == o.sess
}

// FromSession reports whether c came from s.
func (c *ControlRequest) FromSession(s *Session) bool { return c.sess != nil && c.sess == s }

// Alive reports whether the process that asked still runs (an answer can reach it).
func (c *ControlRequest) Alive() bool {
	if c.sess == nil {
		return false
	}
	select {
	case <-c.sess.done:
		return false
	default:
		return true
	}
}

// Allow lets the tool run with input (nil: the input as asked).
func (c *ControlRequest) Allow(input json.RawMessage) error {
	if input == nil {
		input = c.Input
	}
	return c.respond(map[string]any{"subtype": "success", "request_id": c.RequestID,
		"response": map[string]any{"behavior": "allow", "updatedInput": input}})
}

// Deny refuses the tool; the CLI gives message to the model as the tool's error result.
func (c *ControlRequest) Deny(message string) error {
	if message == "" {
		message = "The user denied this tool use."
	}
	return c.respond(map[string]any{"subtype": "success", "request_id": c.RequestID,
		"response": map[string]any{"behavior": "deny", "message": message}})
}

// Fail answers with a control error (a request we cannot serve).
func (c *ControlRequest) Fail(message string) error {
	if len(message) > maxErrorReplyLen {
		message = message[:maxErrorReplyLen]
	}
	return c.respond(map[string]any{"subtype": "error", "request_id": c.RequestID, "error": message})
}

func (c *ControlRequest) respond(response map[string]any) error {
	if c.sess == nil {
		return errors.New("control request has no agent process to answer")
	}
	if c.RequestID == "" {
		return errors.New("control request has no request id to answer")
	}
	b, err := json.Marshal(map[string]any{"type": "control_response", "response": response})
	if err != nil {
		return fmt.Errorf("encode control response: %w", err)
	}
	return c.sess.writeLine(b)
}

// SetModel switches the running CLI's model for the next turns (the SDKs' set_model
// control request); the conversation is kept.
func (s *Session) SetModel(model string) error {
	return s.writeLine(ControlLine(s.nextID(), map[string]any{"subtype": "set_model", "model": model}))
}
