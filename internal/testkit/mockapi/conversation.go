package mockapi

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
)

// MessagesRequest is the part of a /v1/messages request body the mock reads.
type MessagesRequest struct {
	Model    string            `json:"model"`
	Stream   bool              `json:"stream"`
	Messages []Message         `json:"messages"`
	Tools    []json.RawMessage `json:"tools,omitempty"`
}

// Message is one conversation message. Content is either a string or an array of blocks
// on the wire; UnmarshalJSON normalises both to blocks.
type Message struct {
	Role    string         `json:"role"`
	Content []ContentBlock `json:"-"`
}

// ContentBlock is a request content block (text, tool_result, tool_use, thinking, image...).
type ContentBlock struct {
	Type      string          `json:"type"`
	Text      string          `json:"text,omitempty"`
	ToolUseID string          `json:"tool_use_id,omitempty"`
	IsError   bool            `json:"is_error,omitempty"`
	Content   json.RawMessage `json:"content,omitempty"` // tool_result: string or blocks
	Name      string          `json:"name,omitempty"`
	Input     json.RawMessage `json:"input,omitempty"`
}

// UnmarshalJSON accepts content as a plain string or as an array of blocks.
func (m *Message) UnmarshalJSON(b []byte) error {
	var raw struct {
		Role    string          `json:"role"`
		Content json.RawMessage `json:"content"`
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	m.Role = raw.Role
	m.Content = nil
	c := strings.TrimSpace(string(raw.Content))
	switch {
	case c == "" || c == "null":
	case strings.HasPrefix(c, `"`):
		var s string
		if err := json.Unmarshal(raw.Content, &s); err != nil {
			return fmt.Errorf("message content: %w", err)
		}
		m.Content = []ContentBlock{{Type: "text", Text: s}}
	default:
		if err := json.Unmarshal(raw.Content, &m.Content); err != nil {
			return fmt.Errorf("message content: %w", err)
		}
	}
	return nil
}

// ToolResult is a tool_result block answering the latest assistant message, text flattened.
type ToolResult struct {
	ToolUseID string
	IsError   bool
	Text      string
}

// Conversation is what a Scenario sees: the request and what the mock derived from it.
type Conversation struct {
	Marker      string // scenario name from the marker, "" when there is none
	Arg         string // text after "name:" in the marker
	Turn        int    // assistant messages so far
	Step        int    // assistant messages since the latest prompt
	Prompts     []string
	ToolResults []ToolResult // tool_result blocks after the latest assistant message
	Model       string
	Stream      bool
	Request     *MessagesRequest
}

// FirstPrompt is the text of the conversation's first user prompt.
func (c Conversation) FirstPrompt() string {
	if len(c.Prompts) == 0 {
		return ""
	}
	return c.Prompts[0]
}

// LastPrompt is the text of the latest user prompt.
func (c Conversation) LastPrompt() string {
	if len(c.Prompts) == 0 {
		return ""
	}
	return c.Prompts[len(c.Prompts)-1]
}

// markerRe matches "[[name]]" or "[[name:arg]]"; arg may contain anything but "]]".
var markerRe = regexp.MustCompile(`\[\[([A-Za-z0-9_-]+)(?::(.*?))?\]\]`)

func findMarker(text string) (name, arg string, ok bool) {
	m := markerRe.FindStringSubmatch(text)
	if m == nil {
		return "", "", false
	}
	return strings.ToLower(m[1]), strings.TrimSpace(m[2]), true
}

// userText joins the text blocks of a user message, skipping the CLI's injected
// <system-reminder> blocks and interrupt notices, which are not what the user typed.
func userText(m Message) string {
	var parts []string
	for _, b := range m.Content {
		if b.Type != "text" {
			continue
		}
		t := strings.TrimSpace(b.Text)
		// The CLI records an interrupt as a "[Request interrupted by user...]" text block.
		if t == "" || strings.HasPrefix(t, "<system-reminder>") || strings.HasPrefix(t, "[Request interrupted by user") {
			continue
		}
		parts = append(parts, t)
	}
	return strings.Join(parts, "\n")
}

// toolResultText flattens a tool_result's content (string or text blocks).
func toolResultText(raw json.RawMessage) string {
	if len(raw) == 0 {
		return ""
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	var blocks []ContentBlock
	if json.Unmarshal(raw, &blocks) == nil {
		var parts []string
		for _, b := range blocks {
			if b.Type == "text" {
				parts = append(parts, b.Text)
			}
		}
		return strings.Join(parts, "\n")
	}
	return string(raw)
}

// derive builds the Conversation for a request, statelessly.
func derive(req *MessagesRequest) Conversation {
	c := Conversation{Model: req.Model, Stream: req.Stream, Request: req}
	for _, m := range req.Messages {
		switch m.Role {
		case "assistant":
			c.Turn++
			c.Step++
		case "user":
			if t := userText(m); t != "" {
				c.Prompts = append(c.Prompts, t)
				c.Step = 0
			}
		}
	}
	// Tool results answer the latest assistant message. The CLI may put a "system" message
	// after them (e.g. a prompt typed mid-turn), so look at every message after it.
	after := len(req.Messages)
	for after > 0 && req.Messages[after-1].Role != "assistant" {
		after--
	}
	for _, m := range req.Messages[after:] {
		for _, b := range m.Content {
			if b.Type == "tool_result" {
				c.ToolResults = append(c.ToolResults, ToolResult{
					ToolUseID: b.ToolUseID, IsError: b.IsError, Text: toolResultText(b.Content),
				})
			}
		}
	}
	first, latest := c.FirstPrompt(), c.LastPrompt()
	if name, _, ok := findMarker(latest); ok && name == "echo" {
		c.Marker = "echo"
		return c
	}
	if name, arg, ok := findMarker(first); ok {
		c.Marker, c.Arg = name, arg
	} else if name, arg, ok := findMarker(latest); ok {
		c.Marker, c.Arg = name, arg
	}
	return c
}
