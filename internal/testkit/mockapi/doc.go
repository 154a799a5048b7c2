// Package mockapi is a mock of the Anthropic Messages API for offline tests that drive the
// real Claude Code CLI (ANTHROPIC_BASE_URL=<srv.URL()> ANTHROPIC_API_KEY=x).
//
// It serves:
//   - POST /v1/messages (any query, e.g. ?beta=true): "stream":true gets the standard SSE
//     sequence (message_start, ping, content_block_start, content_block_delta with
//     text_delta / thinking_delta / signature_delta / input_json_delta, content_block_stop,
//     message_delta with stop_reason and usage, message_stop); otherwise one JSON message.
//   - POST /v1/messages/count_tokens, GET /v1/models, GET /v1/models/{id}, HEAD on any path
//     and GET / (200), and an Anthropic-format 404 JSON error for anything else, so a client
//     never hangs on an unexpected call.
//
// Every request is recorded (method, path, query, headers including x-api-key and
// authorization, body) and returned by Server.Requests.
//
// # Scenarios
//
// A scenario is chosen by a marker "[[name]]" or "[[name:arg]]" in the text of the
// conversation's FIRST user prompt. When the first prompt has no marker, a marker in the
// latest prompt is used instead, and "[[echo]]" in the latest prompt always forces the echo
// reply (useful to continue a conversation after [[slow-tool]] was interrupted).
//
// The mock keeps no conversation state: everything is derived from the request's messages,
// so a retried request gets the same reply. Conversation.Turn is the number of assistant
// messages so far; Conversation.Step is the number of assistant messages since the latest
// prompt (a user message with text of its own, not only tool results, <system-reminder>
// blocks or "[Request interrupted by user]" notices), so a tool scenario works in any turn
// of a multi-turn conversation. Messages with role "system", which the CLI sends mid-
// conversation, are not prompts.
//
// Built-in scenarios:
//   - no marker, or [[echo]]: one text block
//     "echo: <latest prompt text>\nhistory: <N> user messages" where N counts the prompts
//     in the conversation, so multi-turn context is testable (see EchoText).
//   - [[thinking]]: a thinking block (with signature) then a text block "thought about it".
//   - [[tool:bash <command>]]: step 0 is a text block and a Bash tool_use
//     {"command": <command>}; the next step is a text reply "tool result: <the tool_result
//     text>" ("tool error: ..." when the result is an error).
//   - [[slow-tool]]: step 0 is a Bash tool_use running SlowCommand for 60 s (the CLI blocks
//     "sleep 60", so it is "timeout 60 tail -f /dev/null; ...") for interrupt tests; then a
//     text reply like the tool scenario. To continue after an interrupt, send "[[echo]] ..."
//     (a plain prompt would start the slow tool again: the first prompt's marker applies).
//   - [[todo]]: step 0 is a TodoWrite tool_use with three todos; then text "todos updated".
//     Claude Code 2.1.328 no longer offers TodoWrite: it answers with an error tool_result
//     ("TodoWrite is disabled for this session"). [[todo:tasks]] instead calls TaskCreate
//     twice ({subject, description, activeForm}), which that CLI runs when started with
//     CLAUDE_CODE_ENABLE_TODO_TOOLS=1; then text "todos updated".
//   - [[error:500]], [[error:401]], [[error:overloaded]] (also [[error:429]], [[error:400]]):
//     an HTTP error with Anthropic's error JSON {"type":"error","error":{"type":..,"message":..}}
//     (500 api_error, 401 authentication_error, 529 overloaded_error, 429 rate_limit_error,
//     400 invalid_request_error). Every attempt fails, so a client's retries end in the error;
//     run the CLI with CLAUDE_CODE_MAX_RETRIES=0 to get its error result without backoff.
//
// An unknown marker name gets the echo reply prefixed with "mock: unknown scenario".
// Options.Scenarios adds or overrides scenarios by marker name: Scenarios["myname"] is chosen
// by "[[myname]]" or "[[myname:arg]]" (names are letters, digits, '-' and '_').
//
// # Usage
//
// Unless a Reply sets Usage, message_start carries input_tokens = 10 × len(messages) and
// message_delta carries output_tokens = 1 + the number of words of text and thinking + 10 per
// tool_use block. The non-streaming JSON message carries the same numbers.
package mockapi
