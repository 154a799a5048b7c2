package gateway

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

const realKey = "sk-ant-REAL-key-0123456789abcdef"

type seen struct {
	mu                       sync.Mutex
	key, auth, path, rawQ, b string
	hits                     int
}

func (s *seen) record(r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.key, s.auth, s.path, s.rawQ, s.b = r.Header.Get("X-Api-Key"), r.Header.Get("Authorization"), r.URL.Path, r.URL.RawQuery, string(body)
	s.hits++
}

func newGateway(t *testing.T, upstream string) (*httptest.Server, string, *bytes.Buffer) {
	t.Helper()
	var logs bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	ph := NewPlaceholder()
	g, err := New(upstream, realKey, ph, log)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(g)
	t.Cleanup(srv.Close)
	return srv, ph, &logs
}

func post(t *testing.T, url string, hdr map[string]string, body string) *http.Response {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	// A client of its own: httptest.Server.Close closes idle connections of the shared
	// DefaultTransport, which other tests' cleanups run while this stream is open.
	c := &http.Client{Transport: &http.Transport{}}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close(); c.CloseIdleConnections() })
	return resp
}

func TestStreamsSSEWithTheRealKey(t *testing.T) {
	var s seen
	release := make(chan struct{})
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.record(r)
		w.Header().Set("Content-Type", "text/event-stream")
		fmt.Fprint(w, "event: message_start\ndata: {\"type\":\"message_start\"}\n\n")
		w.(http.Flusher).Flush()
		select { // the rest only after the client saw the first event
		case <-release:
		case <-time.After(10 * time.Second):
		}
		fmt.Fprint(w, "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n")
	}))
	defer upstream.Close()
	gw, ph, logs := newGateway(t, upstream.URL+"/anthropic")

	resp := post(t, gw.URL+"/v1/messages?beta=true", map[string]string{
		"x-api-key": ph, "Authorization": "Bearer " + ph, "anthropic-version": "2023-06-01",
	}, `{"stream":true}`)
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("status %d %v", resp.StatusCode, resp.Header)
	}
	first := make(chan string, 1)
	br := bufio.NewReader(resp.Body)
	go func() {
		line, _ := br.ReadString('\n')
		first <- line
	}()
	select {
	case line := <-first:
		if line != "event: message_start\n" {
			t.Fatalf("first line %q", line)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("first SSE event did not arrive before the upstream finished: the gateway buffers")
	}
	close(release)
	rest, err := io.ReadAll(br)
	if !strings.Contains(string(rest), "message_stop") {
		t.Fatalf("rest of stream: %q (%v)", rest, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.key != realKey || s.auth != "" || s.path != "/anthropic/v1/messages" || s.rawQ != "beta=true" || s.b != `{"stream":true}` {
		t.Fatalf("upstream saw key=%q auth=%q path=%q query=%q body=%q", s.key, s.auth, s.path, s.rawQ, s.b)
	}
	if strings.Contains(logs.String(), realKey) || strings.Contains(logs.String(), ph) {
		t.Fatalf("logs leak a key:\n%s", logs)
	}
	if !strings.Contains(logs.String(), "model request") {
		t.Fatalf("request not logged:\n%s", logs)
	}
}

// The gateway relays the response while the request body is still being forwarded.
// Go's HTTP/1 server, unless told the handler is full duplex, drains and closes the
// request body as soon as the first response bytes are flushed; the Transport then
// fails its read of the body and closes the upstream connection mid-stream (rarely
// seen in TestStreamsSSEWithTheRealKey, where the Transport's last read of a fully sent
// body loses the race). Here the upstream starts its stream before reading the body and
// the client sends the second half only after it saw the first event, so a half-duplex
// gateway deadlocks or cuts the stream every time.
func TestStreamsWhileTheRequestBodyIsStillForwarded(t *testing.T) {
	got := make(chan string, 1)
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rc := http.NewResponseController(w)
		if err := rc.EnableFullDuplex(); err != nil {
			t.Errorf("upstream full duplex: %v", err)
		}
		_ = rc.SetReadDeadline(time.Now().Add(5 * time.Second)) // a failing gateway must not hang the test
		w.Header().Set("Content-Type", "text/event-stream")
		fmt.Fprint(w, "event: message_start\ndata: {}\n\n")
		w.(http.Flusher).Flush()
		body, err := io.ReadAll(r.Body)
		got <- fmt.Sprintf("%s (%v)", body, err)
		fmt.Fprint(w, "event: message_stop\ndata: {}\n\n")
	}))
	defer upstream.Close()
	gw, ph, logs := newGateway(t, upstream.URL)

	const half1, half2 = `{"stream":true,`, `"max_tokens":1}`
	// A raw connection: the client sends exactly half the body, then waits.
	conn, err := net.Dial("tcp", strings.TrimPrefix(gw.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(5 * time.Second)) // a failing gateway must not hang the test
	fmt.Fprintf(conn, "POST /v1/messages HTTP/1.1\r\nHost: gw\r\nX-Api-Key: %s\r\nContent-Length: %d\r\n\r\n%s",
		ph, len(half1+half2), half1)
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("no response while the body is half sent: %v\n%s", err, logs)
	}
	defer resp.Body.Close()
	br = bufio.NewReader(resp.Body)
	if line, err := br.ReadString('\n'); line != "event: message_start\n" {
		t.Fatalf("first line %q (%v)", line, err)
	}
	if _, err := io.WriteString(conn, half2); err != nil {
		t.Fatalf("sending the rest of the body: %v", err)
	}
	rest, err := io.ReadAll(br)
	if !strings.Contains(string(rest), "message_stop") {
		t.Fatalf("rest of stream: %q (%v)\n%s", rest, err, logs)
	}
	if b := <-got; b != half1+half2+" (<nil>)" {
		t.Fatalf("upstream got body %s", b)
	}
}

func TestBearerPlaceholderIsAccepted(t *testing.T) {
	var s seen
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { s.record(r) }))
	defer upstream.Close()
	gw, ph, _ := newGateway(t, upstream.URL)
	if resp := post(t, gw.URL+"/v1/messages", map[string]string{"Authorization": "Bearer " + ph}, "{}"); resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	if s.key != realKey || s.auth != "" {
		t.Fatalf("upstream saw key=%q auth=%q", s.key, s.auth)
	}
}

func TestRejectsWrongOrMissingPlaceholder(t *testing.T) {
	var s seen
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { s.record(r) }))
	defer upstream.Close()
	gw, ph, _ := newGateway(t, upstream.URL)
	for name, hdr := range map[string]map[string]string{
		"missing":      {},
		"wrong":        {"x-api-key": NewPlaceholder()},
		"real key":     {"x-api-key": realKey},
		"prefix":       {"x-api-key": ph[:len(ph)-1]},
		"basic header": {"Authorization": "Basic " + ph},
	} {
		resp := post(t, gw.URL+"/v1/messages", hdr, "{}")
		body, _ := io.ReadAll(resp.Body)
		var e struct {
			Type  string `json:"type"`
			Error struct{ Type, Message string }
		}
		if resp.StatusCode != 401 || json.Unmarshal(body, &e) != nil || e.Type != "error" || e.Error.Type != "authentication_error" {
			t.Errorf("%s: %d %s", name, resp.StatusCode, body)
		}
		if strings.Contains(string(body), realKey) || strings.Contains(string(body), ph) {
			t.Errorf("%s: error body leaks a key: %s", name, body)
		}
	}
	if s.hits != 0 {
		t.Fatalf("upstream reached %d times by rejected requests", s.hits)
	}
}

func TestUpstreamDownGives502WithoutKey(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	gw, ph, logs := newGateway(t, "http://"+addr)
	resp := post(t, gw.URL+"/v1/messages", map[string]string{"x-api-key": ph}, "{}")
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 502 || !strings.Contains(string(body), `"api_error"`) || !strings.Contains(string(body), "provider unreachable") {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}
	if strings.Contains(string(body), realKey) || strings.Contains(logs.String(), realKey) {
		t.Fatalf("key leaked: body %s logs %s", body, logs)
	}
}

func TestEchoedKeyIsMasked(t *testing.T) {
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// A misbehaving proxy that echoes the request headers, split across flushes.
		k := r.Header.Get("X-Api-Key")
		w.Header().Set("Content-Length", fmt.Sprint(len(k)+20))
		fmt.Fprintf(w, "echo: %s", k[:7])
		w.(http.Flusher).Flush()
		fmt.Fprintf(w, "%s and more!!", k[7:])
	}))
	defer upstream.Close()
	gw, ph, _ := newGateway(t, upstream.URL)
	resp := post(t, gw.URL+"/v1/messages", map[string]string{"x-api-key": ph}, "{}")
	body, _ := io.ReadAll(resp.Body)
	if string(body) != "echo: *** and more!!" {
		t.Fatalf("body %q", body)
	}
}

func TestNewValidates(t *testing.T) {
	for _, c := range []struct{ target, key, ph string }{
		{"ftp://x", realKey, NewPlaceholder()},
		{"http://x", "", NewPlaceholder()},
		{"http://x", realKey, "short"},
		{"http://x", realKey, realKey},
	} {
		if _, err := New(c.target, c.key, c.ph, nil); err == nil {
			t.Errorf("New(%q, key, %q) accepted", c.target, c.ph)
		} else if strings.Contains(err.Error(), realKey) {
			t.Errorf("error leaks key: %v", err)
		}
	}
	if p := NewPlaceholder(); !strings.HasPrefix(p, PlaceholderPrefix) || len(p) < 40 || p == NewPlaceholder() {
		t.Fatalf("placeholder %q", p)
	}
}

func TestServeOnAListener(t *testing.T) {
	var s seen
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { s.record(r) }))
	defer upstream.Close()
	ph := NewPlaceholder()
	g, err := New(upstream.URL, realKey, ph, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- g.Serve(l) }()
	resp := post(t, "http://"+l.Addr().String()+"/v1/messages", map[string]string{"x-api-key": ph}, "{}")
	if resp.StatusCode != 200 || s.key != realKey {
		t.Fatalf("status %d, upstream key %q", resp.StatusCode, s.key)
	}
	l.Close()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Serve after close: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Serve did not return after the listener closed")
	}
}

// rawRequest sends exactly requestTarget on the wire (no client-side cleaning) and
// returns the status and body.
func rawRequest(t *testing.T, addr, method, requestTarget, placeholder string) (int, string) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	fmt.Fprintf(c, "%s %s HTTP/1.1\r\nHost: 127.0.0.1:4141\r\nX-Api-Key: %s\r\nContent-Type: application/json\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}",
		method, requestTarget, placeholder)
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("%s %s: %v", method, requestTarget, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

// Only the Messages API reaches the provider with the real key; every other path, or a
// path that an upstream would normalise into another one, is answered 404 on the host.
func TestForwardsOnlyTheMessagesAPI(t *testing.T) {
	var s seen
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { s.record(r) }))
	defer upstream.Close()
	gw, ph, logs := newGateway(t, upstream.URL+"/base")
	addr := strings.TrimPrefix(gw.URL, "http://")

	for _, c := range []struct{ method, target, upstreamPath, query string }{
		{"POST", "/v1/messages", "/base/v1/messages", ""},
		{"POST", "/v1/messages?beta=true", "/base/v1/messages", "beta=true"},
		{"POST", "/v1/messages/count_tokens?beta=true", "/base/v1/messages/count_tokens", "beta=true"},
		{"GET", "/v1/models", "/base/v1/models", ""},
		{"GET", "/v1/models?limit=5&after_id=x", "/base/v1/models", "limit=5&after_id=x"},
	} {
		before := s.hits
		if status, body := rawRequest(t, addr, c.method, c.target, ph); status != 200 {
			t.Errorf("%s %s: %d %s", c.method, c.target, status, body)
			continue
		}
		s.mu.Lock()
		if s.hits != before+1 || s.path != c.upstreamPath || s.rawQ != c.query || s.key != realKey {
			t.Errorf("%s %s reached upstream as path %q query %q (hits %d)", c.method, c.target, s.path, s.rawQ, s.hits-before)
		}
		s.mu.Unlock()
	}

	hits := s.hits
	for _, c := range []struct{ method, target string }{
		{"GET", "/v1/../admin"},
		{"POST", "/v1/messages/../../x"},
		{"POST", "/v1/messages/../messages"},
		{"GET", "/%2e%2e/"},
		{"GET", "/v1/%2e%2e/admin"},
		{"POST", "/v1/messages%2fcount_tokens"},
		{"POST", "/v1/messages%2Fcount_tokens"},
		{"POST", "/v1/%6dessages"},
		{"POST", "/v1//messages"},
		{"POST", "//v1/messages"},
		{"POST", "/v1/messages/"},
		{"POST", "/v1/messages/."},
		{"POST", "/v1/./messages"},
		{"POST", "/v1/Messages"},
		{"POST", "/v1/messages;x=1"},
		{"POST", "/v1/messages/batches"},
		{"GET", "/v1/models/claude-sonnet-4-5"},
		{"POST", "/v1/files"},
		{"GET", "/api/oauth/profile"},
		{"GET", "/"},
		{"HEAD", "/"},
		{"GET", "/v1/messages"},
		{"DELETE", "/v1/models"},
		{"POST", "http://evil.example/v1/messages"},
		{"POST", "*"},
	} {
		status, body := rawRequest(t, addr, c.method, c.target, ph)
		if status != 404 && status != 400 {
			t.Errorf("%s %s: status %d, want 404", c.method, c.target, status)
		}
		if status == 404 && c.method != "HEAD" && !strings.Contains(body, `"not_found_error"`) {
			t.Errorf("%s %s: body %s", c.method, c.target, body)
		}
		if strings.Contains(body, realKey) {
			t.Errorf("%s %s: body leaks the key", c.method, c.target)
		}
	}
	if s.hits != hits {
		t.Fatalf("refused paths reached the upstream %d times (last %q)", s.hits-hits, s.path)
	}
	if !strings.Contains(logs.String(), "refused a path outside the Messages API") || strings.Contains(logs.String(), realKey) {
		t.Fatalf("refusals not logged, or the log leaks the key:\n%s", logs)
	}
}
