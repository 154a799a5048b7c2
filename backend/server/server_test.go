package server

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/fstest"
	"time"

	"github.com/coder/websocket"

	"github.com/loopat/desktop/backend/events"
	"github.com/loopat/desktop/backend/rpc"
)

// Echo counts its calls, so a test can tell a refused request from one that ran.
type Echo struct{ calls atomic.Int64 }

func (e *Echo) Say(s string) (string, error) {
	e.calls.Add(1)
	return "said " + s, nil
}

type testServer struct {
	*httptest.Server
	bus  *events.Bus
	echo *Echo
	logs *syncBuffer
}

func newTestServer(t *testing.T) (*httptest.Server, *events.Bus) {
	ts := newServer(t)
	return ts.Server, ts.bus
}

func newServer(t *testing.T) *testServer {
	t.Helper()
	ts := &testServer{bus: events.New(), echo: &Echo{}, logs: &syncBuffer{}}
	s := New(Options{
		Registry: rpc.NewRegistry(ts.echo), Bus: ts.bus, Token: "sekrit",
		Assets: fstest.MapFS{"index.html": {Data: []byte("<html>app</html>")}, "a.js": {Data: []byte("js")}},
		Health: func() any { return map[string]any{"ok": true, "workspace": "ws1"} },
		Log:    slog.New(slog.NewTextHandler(ts.logs, nil)),
	})
	ts.Server = httptest.NewServer(s.Handler())
	t.Cleanup(ts.Close)
	return ts
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

func do(t *testing.T, method, url, body string, hdr map[string]string) (*http.Response, string) {
	t.Helper()
	req, _ := http.NewRequest(method, url, strings.NewReader(body))
	for k, v := range hdr {
		if k == "Host" {
			req.Host = v
			continue
		}
		req.Header.Set(k, v)
	}
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

// The API needs the token; pages and assets (the public frontend) need none, and a page
// load with ?token= sets no cookie (the page keeps the token in its own storage).
func TestTokenGuardsTheAPI(t *testing.T) {
	ts, _ := newTestServer(t)
	for _, p := range []string{"/api/health", "/api/events"} {
		if resp, _ := do(t, "GET", ts.URL+p, "", nil); resp.StatusCode != 401 {
			t.Errorf("GET %s without token: %d", p, resp.StatusCode)
		}
	}
	if resp, _ := do(t, "POST", ts.URL+"/api/rpc/Echo/Say", `["x"]`, map[string]string{"Content-Type": "application/json"}); resp.StatusCode != 401 {
		t.Errorf("RPC without token: %d", resp.StatusCode)
	}
	if resp, _ := do(t, "GET", ts.URL+"/api/health", "", map[string]string{"Authorization": "Bearer wrong"}); resp.StatusCode != 401 {
		t.Errorf("wrong token accepted: %d", resp.StatusCode)
	}
	resp, body := do(t, "GET", ts.URL+"/api/health", "", map[string]string{"Authorization": "Bearer sekrit"})
	if resp.StatusCode != 200 || !strings.Contains(body, `"workspace":"ws1"`) {
		t.Fatalf("health: %d %s", resp.StatusCode, body)
	}
	resp, body = do(t, "GET", ts.URL+"/?token=sekrit", "", nil)
	if resp.StatusCode != 200 || body != "<html>app</html>" || len(resp.Cookies()) != 0 {
		t.Fatalf("token page: %d %q cookies %v", resp.StatusCode, body, resp.Cookies())
	}
	resp, body = do(t, "GET", ts.URL+"/loop/abc", "", nil)
	if resp.StatusCode != 200 || body != "<html>app</html>" {
		t.Fatalf("SPA fallback: %d %q", resp.StatusCode, body)
	}
}

func TestRejectsForeignHost(t *testing.T) {
	ts, _ := newTestServer(t)
	if resp, _ := do(t, "GET", ts.URL+"/api/health", "", map[string]string{"Authorization": "Bearer sekrit", "Host": "evil.example"}); resp.StatusCode != 403 {
		t.Fatalf("foreign Host: %d", resp.StatusCode)
	}
}

func TestRPC(t *testing.T) {
	ts, _ := newTestServer(t)
	auth := map[string]string{"Authorization": "Bearer sekrit", "Content-Type": "application/json"}
	resp, body := do(t, "POST", ts.URL+"/api/rpc/Echo/Say", `["hi"]`, auth)
	if resp.StatusCode != 200 || strings.TrimSpace(body) != `{"result":"said hi"}` {
		t.Fatalf("rpc: %d %s", resp.StatusCode, body)
	}
	for _, c := range []struct {
		path, body string
		status     int
	}{{"/api/rpc/Echo/Nope", `[]`, 404}, {"/api/rpc/Echo/Say", `{bad`, 400}, {"/api/rpc/Echo/Say", `[1]`, 400}, {"/api/nope", ``, 404}} {
		resp, body := do(t, "POST", ts.URL+c.path, c.body, auth)
		var e map[string]string
		if resp.StatusCode != c.status || json.Unmarshal([]byte(body), &e) != nil || e["error"] == "" {
			t.Errorf("%s %s: %d %s", c.path, c.body, resp.StatusCode, body)
		}
	}
	big := `["` + strings.Repeat("x", maxBodyBytes) + `"]`
	if resp, _ := do(t, "POST", ts.URL+"/api/rpc/Echo/Say", big, auth); resp.StatusCode != 413 {
		t.Fatalf("oversized body: %d", resp.StatusCode)
	}
}

func TestEventsWebSocket(t *testing.T) {
	ts, bus := newTestServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	url := "ws" + strings.TrimPrefix(ts.URL, "http") + "/api/events"
	if _, _, err := websocket.Dial(ctx, url, nil); err == nil {
		t.Fatal("websocket without token accepted")
	}
	c, _, err := websocket.Dial(ctx, url, &websocket.DialOptions{HTTPHeader: http.Header{"Authorization": {"Bearer sekrit"}}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseNow()
	go func() {
		time.Sleep(50 * time.Millisecond)
		bus.Publish("engine:state", map[string]string{"phase": "ready"})
	}()
	_, data, err := c.Read(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var ev struct {
		Topic string            `json:"topic"`
		Data  map[string]string `json:"data"`
	}
	if err := json.Unmarshal(data, &ev); err != nil || ev.Topic != "engine:state" || ev.Data["phase"] != "ready" {
		t.Fatalf("event: %s %v", data, err)
	}
}
