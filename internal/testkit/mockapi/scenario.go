package mockapi

import (
	"fmt"
	"net/http"
	"strings"
	"time"
)

// Scenario decides the reply to one /v1/messages request.
type Scenario func(c Conversation) Reply

// Reply is one assistant message, or an API error when Error is set.
type Reply struct {
	Content    []Block
	StopReason string        // default: "tool_use" when Content has a tool_use block, else "end_turn"
	Usage      *Usage        // default: see the package doc
	Error      *APIError     // answer with this HTTP error instead of a message
	Delay      time.Duration // wait before answering (after the SSE headers when streaming)
}

// Block is a response content block: Text, Thinking or ToolUse.
type Block struct {
	Type      string // "text", "thinking" or "tool_use"
	Text      string
	Thinking  string
	Signature string
	ID        string // tool_use id; derived from the turn when empty
	Name      string // tool name
	Input     any    // tool input, marshalled to JSON
}

// Text is a text block.
func Text(s string) Block { return Block{Type: "text", Text: s} }

// Thinking is a thinking block with a signature.
func Thinking(s string) Block {
	return Block{Type: "thinking", Thinking: s, Signature: "mock-signature"}
}

// ToolUse is a tool_use block calling tool name with input.
func ToolUse(name string, input any) Block { return Block{Type: "tool_use", Name: name, Input: input} }

// Usage is Anthropic's token usage object.
type Usage struct {
	InputTokens              int `json:"input_tokens"`
	OutputTokens             int `json:"output_tokens"`
	CacheCreationInputTokens int `json:"cache_creation_input_tokens"`
	CacheReadInputTokens     int `json:"cache_read_input_tokens"`
}

// APIError is an HTTP error answered in Anthropic's error JSON format.
type APIError struct {
	Status  int    // HTTP status
	Type    string // e.g. "api_error", "authentication_error", "overloaded_error"
	Message string
}

// NewAPIError returns the Anthropic error for a short code: "500", "401", "429", "400",
// "overloaded" (529). It returns false for an unknown code.
func NewAPIError(code string) (*APIError, bool) {
	switch strings.ToLower(strings.TrimSpace(code)) {
	case "500", "api_error":
		return &APIError{http.StatusInternalServerError, "api_error", "Internal server error (mock)"}, true
	case "401", "authentication_error":
		return &APIError{http.StatusUnauthorized, "authentication_error", "invalid x-api-key (mock)"}, true
	case "429", "rate_limit_error":
		return &APIError{http.StatusTooManyRequests, "rate_limit_error", "Rate limited (mock)"}, true
	case "400", "invalid_request_error":
		return &APIError{http.StatusBadRequest, "invalid_request_error", "Invalid request (mock)"}, true
	case "529", "overloaded", "overloaded_error":
		return &APIError{529, "overloaded_error", "Overloaded (mock)"}, true
	}
	return nil, false
}

// builtins are the scenarios documented in the package doc.
func builtins() map[string]Scenario {
	return map[string]Scenario{
		"echo":      echoScenario,
		"thinking":  thinkingScenario,
		"tool":      toolScenario,
		"slow-tool": slowToolScenario,
		"todo":      todoScenario,
		"error":     errorScenario,
	}
}

// EchoText is the default reply's text for a conversation.
func EchoText(c Conversation) string {
	return fmt.Sprintf("echo: %s\nhistory: %d user messages", c.LastPrompt(), len(c.Prompts))
}

func echoScenario(c Conversation) Reply { return Reply{Content: []Block{Text(EchoText(c))}} }

func thinkingScenario(c Conversation) Reply {
	return Reply{Content: []Block{
		Thinking("The user asked for thinking. Let me think step by step about it."),
		Text("thought about it"),
	}}
}

// toolScenario runs [[tool:bash <command>]]: a Bash tool_use, then a summary of its result.
func toolScenario(c Conversation) Reply {
	tool, command, _ := strings.Cut(c.Arg, " ")
	if !strings.EqualFold(tool, "bash") || strings.TrimSpace(command) == "" {
		return Reply{Content: []Block{Text(fmt.Sprintf("mock: unsupported tool marker %q, want [[tool:bash <command>]]", c.Arg))}}
	}
	return bashThenSummary(c, strings.TrimSpace(command))
}

// SlowCommand is the Bash command of [[slow-tool]]: it runs for 60 s unless interrupted.
// Claude Code 2.1.328 refuses "sleep 60", alone or chained ("Blocked: sleep 60 followed by
// ..."), so it waits on tail instead.
const SlowCommand = "timeout 60 tail -f /dev/null; echo slow tool done"

func slowToolScenario(c Conversation) Reply { return bashThenSummary(c, SlowCommand) }

func bashThenSummary(c Conversation, command string) Reply {
	if c.Step == 0 {
		return Reply{Content: []Block{
			Text("Running the command."),
			ToolUse("Bash", map[string]any{"command": command, "description": "Run the requested command"}),
		}}
	}
	return Reply{Content: []Block{Text(summariseToolResults(c))}}
}

func summariseToolResults(c Conversation) string {
	if len(c.ToolResults) == 0 {
		return "tool result: (none)"
	}
	var parts []string
	for _, r := range c.ToolResults {
		prefix := "tool result: "
		if r.IsError {
			prefix = "tool error: "
		}
		parts = append(parts, prefix+stripReminders(r.Text))
	}
	return strings.Join(parts, "\n")
}

// stripReminders drops the CLI's <system-reminder> blocks, which it appends to tool
// results: they are not the tool's output and would clutter the echoed reply.
func stripReminders(s string) string {
	for {
		i := strings.Index(s, "<system-reminder>")
		if i < 0 {
			return strings.TrimSpace(s)
		}
		j := strings.Index(s[i:], "</system-reminder>")
		if j < 0 {
			return strings.TrimSpace(s[:i])
		}
		s = s[:i] + s[i+j+len("</system-reminder>"):]
	}
}

func todoScenario(c Conversation) Reply {
	if c.Step == 0 && c.Arg == "tasks" {
		return Reply{Content: []Block{
			ToolUse("TaskCreate", map[string]any{"subject": "Read the code", "description": "Read the code first", "activeForm": "Reading the code"}),
			ToolUse("TaskCreate", map[string]any{"subject": "Run the tests", "description": "Then run the tests", "activeForm": "Running the tests"}),
		}}
	}
	if c.Step == 0 {
		todo := func(content, status, active string) map[string]string {
			return map[string]string{"content": content, "status": status, "activeForm": active}
		}
		return Reply{Content: []Block{ToolUse("TodoWrite", map[string]any{"todos": []any{
			todo("Read the code", "completed", "Reading the code"),
			todo("Write the change", "in_progress", "Writing the change"),
			todo("Run the tests", "pending", "Running the tests"),
		}})}}
	}
	return Reply{Content: []Block{Text("todos updated")}}
}

func errorScenario(c Conversation) Reply {
	e, ok := NewAPIError(c.Arg)
	if !ok {
		e = &APIError{http.StatusBadRequest, "invalid_request_error", fmt.Sprintf("mock: unknown error marker %q", c.Arg)}
	}
	return Reply{Error: e}
}
