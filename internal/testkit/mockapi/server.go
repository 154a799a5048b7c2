package mockapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Options configure a Server. The zero value is usable.
type Options struct {
	// Scenarios adds or overrides scenarios by marker name ("[[name]]" or "[[name:arg]]").
	Scenarios map[string]Scenario
	// ChunkDelay is slept between streamed deltas, so UIs can be seen streaming.
	ChunkDelay time.Duration
	// Logger receives one line per request; nil discards.
	Logger *slog.Logger
}

// Request is one recorded HTTP request.
type Request struct {
	Method string
	Path   string
	Query  string
	Header http.Header
	Body   []byte
	Time   time.Time
	// RemoteAddr is the client's "ip:port", e.g. to prove a request came from a container.
	RemoteAddr string
}

// Server is the mock Messages API. Use it with Listen/URL/Close, or mount Handler yourself.
type Server struct {
	opts      Options
	scenarios map[string]Scenario
	log       *slog.Logger
	ids       atomic.Int64

	mu       sync.Mutex
	requests []Request
	ln       net.Listener
	http     *http.Server
	done     chan struct{}
}

// New returns a server with the built-in scenarios plus opts.Scenarios.
func New(opts Options) *Server {
	s := &Server{opts: opts, scenarios: builtins(), log: opts.Logger}
	for name, sc := range opts.Scenarios {
		s.scenarios[strings.ToLower(name)] = sc
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	return s
}

// Listen starts serving on addr (e.g. "127.0.0.1:0" or "<gateway-ip>:0") in the background.
func (s *Server) Listen(addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("mock api listen %s: %w", addr, err)
	}
	hs := &http.Server{Handler: s.Handler(), ReadHeaderTimeout: 10 * time.Second}
	done := make(chan struct{})
	s.mu.Lock()
	if s.ln != nil {
		s.mu.Unlock()
		ln.Close()
		return errors.New("mock api: Listen called twice (a Server serves once)")
	}
	s.ln, s.http, s.done = ln, hs, done
	s.mu.Unlock()
	go func() {
		defer close(done)
		if err := hs.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Error("mock api serve", "err", err)
		}
	}()
	return nil
}

// URL is the base URL to put in ANTHROPIC_BASE_URL ("" before Listen).
func (s *Server) URL() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ln == nil {
		return ""
	}
	return "http://" + s.ln.Addr().String()
}

// Close stops the server and drops open connections (including open streams).
func (s *Server) Close() error {
	s.mu.Lock()
	hs, done := s.http, s.done
	s.http = nil
	s.mu.Unlock()
	if hs == nil {
		return nil
	}
	err := hs.Close()
	<-done
	return err
}

// Requests returns a copy of every request received so far, in arrival order.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Request, len(s.requests))
	copy(out, s.requests)
	return out
}

// MessagesRequests returns the recorded POSTs to /v1/messages (not count_tokens).
func (s *Server) MessagesRequests() []Request {
	var out []Request
	for _, r := range s.Requests() {
		if r.Method == http.MethodPost && r.Path == "/v1/messages" {
			out = append(out, r)
		}
	}
	return out
}

// Handler is the mock's HTTP handler.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/messages", s.handleMessages)
	mux.HandleFunc("POST /v1/messages/count_tokens", s.handleCountTokens)
	mux.HandleFunc("GET /v1/models", s.handleModels)
	mux.HandleFunc("GET /v1/models/{id}", s.handleModel)
	mux.HandleFunc("/", s.handleOther)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(io.LimitReader(r.Body, 64<<20))
		if err != nil {
			writeError(w, &APIError{http.StatusBadRequest, "invalid_request_error", "read body: " + err.Error()})
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		s.mu.Lock()
		s.requests = append(s.requests, Request{
			Method: r.Method, Path: r.URL.Path, Query: r.URL.RawQuery,
			Header: r.Header.Clone(), Body: body, Time: time.Now(), RemoteAddr: r.RemoteAddr,
		})
		s.mu.Unlock()
		s.log.Debug("mock api request", "method", r.Method, "path", r.URL.Path, "bytes", len(body))
		w.Header().Set("request-id", fmt.Sprintf("req_mock_%d", s.ids.Add(1)))
		mux.ServeHTTP(w, r)
	})
}

func (s *Server) handleOther(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodHead || (r.Method == http.MethodGet && r.URL.Path == "/") {
		w.WriteHeader(http.StatusOK)
		return
	}
	writeError(w, &APIError{http.StatusNotFound, "not_found_error", fmt.Sprintf("mock: no route for %s %s", r.Method, r.URL.Path)})
}

const mockModel = "claude-mock"

func (s *Server) handleModels(w http.ResponseWriter, r *http.Request) {
	models := []map[string]any{modelInfo("claude-sonnet-4-5"), modelInfo("claude-opus-4-1"), modelInfo("claude-haiku-4-5")}
	writeJSON(w, http.StatusOK, map[string]any{
		"data": models, "has_more": false, "first_id": "claude-sonnet-4-5", "last_id": "claude-haiku-4-5",
	})
}

func (s *Server) handleModel(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, modelInfo(r.PathValue("id")))
}

func modelInfo(id string) map[string]any {
	return map[string]any{"type": "model", "id": id, "display_name": id, "created_at": "2025-01-01T00:00:00Z"}
}

func (s *Server) handleCountTokens(w http.ResponseWriter, r *http.Request) {
	var req MessagesRequest
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		writeError(w, &APIError{http.StatusBadRequest, "invalid_request_error", "bad JSON body: " + err.Error()})
		return
	}
	writeJSON(w, http.StatusOK, map[string]int{"input_tokens": 10 * len(req.Messages)})
}

func (s *Server) handleMessages(w http.ResponseWriter, r *http.Request) {
	var req MessagesRequest
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		writeError(w, &APIError{http.StatusBadRequest, "invalid_request_error", "bad JSON body: " + err.Error()})
		return
	}
	if len(req.Messages) == 0 {
		writeError(w, &APIError{http.StatusBadRequest, "invalid_request_error", "messages: at least one message is required"})
		return
	}
	conv := derive(&req)
	reply := s.reply(conv)
	if reply.Error != nil {
		sleepCtx(r.Context(), reply.Delay)
		writeError(w, reply.Error)
		return
	}
	msg := s.buildMessage(conv, reply)
	if !req.Stream {
		sleepCtx(r.Context(), reply.Delay)
		writeJSON(w, http.StatusOK, msg.wire())
		return
	}
	s.stream(w, r, msg, reply.Delay)
}

func (s *Server) reply(c Conversation) Reply {
	name := c.Marker
	if name == "" {
		name = "echo"
	}
	sc, ok := s.scenarios[name]
	if !ok {
		// An unknown marker is probably a typo in a test: say so in the reply.
		return Reply{Content: []Block{Text(fmt.Sprintf("mock: unknown scenario %q\n%s", name, EchoText(c)))}}
	}
	return sc(c)
}

// message is a fully built assistant message, shared by the JSON and SSE encodings.
type message struct {
	id, model, stopReason string
	blocks                []Block
	usage                 Usage
}

func (s *Server) buildMessage(c Conversation, r Reply) message {
	m := message{id: fmt.Sprintf("msg_mock_%d", s.ids.Add(1)), model: c.Model, stopReason: r.StopReason}
	if m.model == "" {
		m.model = mockModel
	}
	out := 1
	for i, b := range r.Content {
		switch b.Type {
		case "tool_use":
			if b.ID == "" {
				// Deterministic, so a retried request yields the same id.
				b.ID = fmt.Sprintf("toolu_mock_%d_%d", c.Turn, i)
			}
			if b.Input == nil {
				b.Input = map[string]any{}
			}
			if m.stopReason == "" {
				m.stopReason = "tool_use"
			}
			out += 10
		case "thinking":
			out += len(strings.Fields(b.Thinking))
		default:
			out += len(strings.Fields(b.Text))
		}
		m.blocks = append(m.blocks, b)
	}
	if m.stopReason == "" {
		m.stopReason = "end_turn"
	}
	if r.Usage != nil {
		m.usage = *r.Usage
	} else {
		m.usage = Usage{InputTokens: 10 * len(c.Request.Messages), OutputTokens: out}
	}
	return m
}

func (b Block) wire() map[string]any {
	switch b.Type {
	case "tool_use":
		return map[string]any{"type": "tool_use", "id": b.ID, "name": b.Name, "input": b.Input}
	case "thinking":
		return map[string]any{"type": "thinking", "thinking": b.Thinking, "signature": b.Signature}
	default:
		return map[string]any{"type": "text", "text": b.Text}
	}
}

func (m message) wire() map[string]any {
	content := make([]any, len(m.blocks))
	for i, b := range m.blocks {
		content[i] = b.wire()
	}
	return map[string]any{
		"id": m.id, "type": "message", "role": "assistant", "model": m.model,
		"content": content, "stop_reason": m.stopReason, "stop_sequence": nil, "usage": m.usage,
	}
}

// stream writes msg as the Messages API's SSE event sequence.
func (s *Server) stream(w http.ResponseWriter, r *http.Request, m message, delay time.Duration) {
	flusher, _ := w.(http.Flusher)
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	ctx := r.Context()
	send := func(event string, data any) bool {
		b, err := marshal(data)
		if err != nil {
			s.log.Error("mock api marshal event", "event", event, "err", err)
			return false
		}
		if _, err := fmt.Fprintf(w, "event: %s\ndata: %s\n\n", event, b); err != nil {
			return false
		}
		if flusher != nil {
			flusher.Flush()
		}
		return ctx.Err() == nil
	}
	delta := func(index int, d map[string]any) bool {
		if !sleepCtx(ctx, s.opts.ChunkDelay) {
			return false
		}
		return send("content_block_delta", map[string]any{"type": "content_block_delta", "index": index, "delta": d})
	}
	if !sleepCtx(ctx, delay) {
		return
	}
	start := m.wire()
	start["content"] = []any{}
	start["stop_reason"] = nil
	start["usage"] = Usage{InputTokens: m.usage.InputTokens, OutputTokens: 1,
		CacheCreationInputTokens: m.usage.CacheCreationInputTokens, CacheReadInputTokens: m.usage.CacheReadInputTokens}
	if !send("message_start", map[string]any{"type": "message_start", "message": start}) ||
		!send("ping", map[string]any{"type": "ping"}) {
		return
	}
	for i, b := range m.blocks {
		var empty map[string]any
		switch b.Type {
		case "tool_use":
			empty = map[string]any{"type": "tool_use", "id": b.ID, "name": b.Name, "input": map[string]any{}}
		case "thinking":
			empty = map[string]any{"type": "thinking", "thinking": ""}
		default:
			empty = map[string]any{"type": "text", "text": ""}
		}
		if !send("content_block_start", map[string]any{"type": "content_block_start", "index": i, "content_block": empty}) {
			return
		}
		ok := true
		switch b.Type {
		case "tool_use":
			js, err := marshal(b.Input)
			if err != nil {
				s.log.Error("mock api marshal tool input", "err", err)
				return
			}
			for _, part := range chunkBytes(string(js), 16) {
				if ok = delta(i, map[string]any{"type": "input_json_delta", "partial_json": part}); !ok {
					break
				}
			}
		case "thinking":
			for _, part := range chunkWords(b.Thinking, 3) {
				if ok = delta(i, map[string]any{"type": "thinking_delta", "thinking": part}); !ok {
					break
				}
			}
			if ok {
				ok = delta(i, map[string]any{"type": "signature_delta", "signature": b.Signature})
			}
		default:
			for _, part := range chunkWords(b.Text, 3) {
				if ok = delta(i, map[string]any{"type": "text_delta", "text": part}); !ok {
					break
				}
			}
		}
		if !ok || !send("content_block_stop", map[string]any{"type": "content_block_stop", "index": i}) {
			return
		}
	}
	if !send("message_delta", map[string]any{
		"type":  "message_delta",
		"delta": map[string]any{"stop_reason": m.stopReason, "stop_sequence": nil},
		"usage": map[string]int{"output_tokens": m.usage.OutputTokens},
	}) {
		return
	}
	send("message_stop", map[string]any{"type": "message_stop"})
}

// chunkWords splits s into pieces of up to n words, keeping all whitespace, so the
// concatenation of the pieces is s.
func chunkWords(s string, n int) []string {
	if s == "" {
		return nil
	}
	words := strings.SplitAfter(s, " ")
	var out []string
	for i := 0; i < len(words); i += n {
		out = append(out, strings.Join(words[i:min(i+n, len(words))], ""))
	}
	return out
}

// chunkBytes splits s into pieces of up to n bytes on rune boundaries.
func chunkBytes(s string, n int) []string {
	var out []string
	for len(s) > 0 {
		end := min(n, len(s))
		for end < len(s) && end > 0 && !utf8RuneStart(s[end]) {
			end--
		}
		if end == 0 {
			end = len(s)
		}
		out = append(out, s[:end])
		s = s[end:]
	}
	return out
}

func utf8RuneStart(b byte) bool { return b&0xC0 != 0x80 }

// marshal is json.Marshal without HTML escaping, so commands like "a > b" read naturally.
func marshal(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := marshal(v)
	if err != nil {
		http.Error(w, "mock: marshal: "+err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}

func writeError(w http.ResponseWriter, e *APIError) {
	writeJSON(w, e.Status, map[string]any{
		"type": "error", "error": map[string]string{"type": e.Type, "message": e.Message},
	})
}

// sleepCtx sleeps d unless ctx ends first; it reports whether ctx is still live.
func sleepCtx(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
