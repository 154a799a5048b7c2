package gateway

import (
	"bufio"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// routerRequest sends one request as a gateway stream of loopID's link and returns
// the response the sandbox would read.
func routerRequest(t *testing.T, r *Router, loopID, key string) (int, string) {
	t.Helper()
	host, sandbox := net.Pipe()
	go r.ServeConn(loopID, host)
	defer sandbox.Close()
	req, _ := http.NewRequest(http.MethodPost, "http://"+SandboxAddr+"/v1/messages", strings.NewReader(`{}`))
	req.Header.Set("X-Api-Key", key)
	req.Close = true
	go func() { _ = req.Write(sandbox) }()
	resp, err := http.ReadResponse(bufio.NewReader(sandbox), req)
	if err != nil {
		t.Fatalf("loop %s: %v", loopID, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

// Each stream reaches the route of the loop whose link carried it, with that loop's
// real key; a loop's placeholder opens no other loop's route, and a forgotten loop has
// none.
func TestRouterRoutesByTheLinksLoop(t *testing.T) {
	keys := make(chan string, 4)
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		keys <- r.Header.Get("X-Api-Key")
		w.Write([]byte(`{"ok":true}`))
	}))
	defer upstream.Close()
	r := NewRouter(nil)
	defer r.Shutdown()

	urlA, phA, err := r.Route("loop-a", upstream.URL, "sk-a-0123456789abcdef")
	if err != nil || urlA != "http://"+SandboxAddr || !strings.HasPrefix(phA, PlaceholderPrefix) {
		t.Fatalf("route a: %q %q %v", urlA, phA, err)
	}
	_, phB, err := r.Route("loop-b", upstream.URL, "sk-b-0123456789abcdef")
	if err != nil || phB == phA {
		t.Fatalf("route b: %q %v", phB, err)
	}
	// Routing a loop again keeps its placeholder (agents started earlier keep working).
	if _, again, _ := r.Route("loop-a", upstream.URL, "sk-a2-0123456789abcdef"); again != phA {
		t.Fatalf("placeholder changed on re-route: %q -> %q", phA, again)
	}

	if code, body := routerRequest(t, r, "loop-a", phA); code != 200 || <-keys != "sk-a2-0123456789abcdef" {
		t.Fatalf("loop a: %d %s", code, body)
	}
	if code, body := routerRequest(t, r, "loop-b", phB); code != 200 || <-keys != "sk-b-0123456789abcdef" {
		t.Fatalf("loop b: %d %s", code, body)
	}
	// Loop b's link with loop a's placeholder reaches loop b's route, which refuses it.
	if code, _ := routerRequest(t, r, "loop-b", phA); code == 200 {
		t.Fatal("loop b's link accepted loop a's placeholder")
	}
	r.Forget("loop-a")
	if code, body := routerRequest(t, r, "loop-a", phA); code != http.StatusServiceUnavailable || !strings.Contains(body, "no model route") {
		t.Fatalf("forgotten loop: %d %s", code, body)
	}
	if len(keys) != 0 {
		t.Fatalf("%d requests reached the provider unexpectedly", len(keys))
	}
}

// The refusal past a loop's gateway cap is a well-formed Anthropic-style 503, so the
// agent shows the reason instead of a protocol error.
func TestRouterRefusalIsWellFormed(t *testing.T) {
	reason := "refused: this loop already has 32 open model gateway connections (limit 32); retry when one ends"
	a, b := net.Pipe()
	go func() {
		(&Router{}).Refuse(a, reason)
		a.Close()
	}()
	resp, err := http.ReadResponse(bufio.NewReader(b), nil)
	if err != nil {
		t.Fatalf("refusal is not HTTP: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	var e struct {
		Type  string `json:"type"`
		Error struct{ Type, Message string }
	}
	if resp.StatusCode != http.StatusServiceUnavailable || json.Unmarshal(body, &e) != nil || e.Type != "error" || !strings.Contains(e.Error.Message, reason) {
		t.Fatalf("refusal: %d %s", resp.StatusCode, body)
	}
}

// After Shutdown a stream is closed, not left hanging.
func TestRouterClosesStreamsAfterShutdown(t *testing.T) {
	r := NewRouter(nil)
	r.Shutdown()
	host, sandbox := net.Pipe()
	go r.ServeConn("loop-a", host)
	if _, err := sandbox.Read(make([]byte, 1)); err == nil {
		t.Fatal("stream still open after shutdown")
	}
}
