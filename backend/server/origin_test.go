package server

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// cookie is what a page of another loopback port could make a browser send: never a
// credential here (browsers send cookies to every port of a host). The UI sends bearer.
const (
	cookie = "loopat_token=sekrit"
	bearer = "Bearer sekrit"
)

// The browser boundary: each rule of guard, as a browser (or a CLI client) would hit it.
// A refused call must not run the method (Echo counts), must be a 403 JSON error and
// must carry no CORS header that would let another origin read it.
func TestBrowserOriginRules(t *testing.T) {
	ts := newServer(t)
	self := ts.URL // http://127.0.0.1:<port>
	u, _ := url.Parse(self)
	otherPort := "http://127.0.0.1:1"
	const rpcPath = "/api/rpc/Echo/Say"
	jsonCT := "application/json"

	cases := []struct {
		name   string
		method string
		path   string
		body   string
		hdr    map[string]string
		status int
	}{
		// The UI itself: fetch() from the page sends Origin and Sec-Fetch-Site: same-origin.
		{"same origin, cookie", "POST", rpcPath, `["x"]`, map[string]string{"Authorization": bearer, "Origin": self, "Sec-Fetch-Site": "same-origin", "Content-Type": jsonCT}, 200},
		{"Sec-Fetch-Site same-origin without Origin", "POST", rpcPath, `["x"]`, map[string]string{"Authorization": bearer, "Sec-Fetch-Site": "same-origin", "Content-Type": jsonCT}, 200},
		{"same Origin without Sec-Fetch-Site", "POST", rpcPath, `["x"]`, map[string]string{"Authorization": bearer, "Origin": self, "Content-Type": jsonCT}, 200},
		{"json with charset", "POST", rpcPath, `["x"]`, map[string]string{"Authorization": bearer, "Origin": self, "Content-Type": "application/json; charset=utf-8"}, 200},
		{"same origin, explicit default-port form", "POST", rpcPath, `["x"]`, map[string]string{"Authorization": bearer, "Origin": "HTTP://127.0.0.1:" + u.Port(), "Content-Type": jsonCT}, 200},

		// Another page on the same machine (another loopback port): same site; even holding the token it is refused.
		{"wrong origin (other port)", "POST", rpcPath, `["x"]`, map[string]string{"Authorization": bearer, "Origin": otherPort, "Sec-Fetch-Site": "same-site", "Content-Type": jsonCT}, 403},
		{"wrong origin even with the bearer token", "POST", rpcPath, `["x"]`, map[string]string{"Authorization": "Bearer sekrit", "Origin": otherPort, "Content-Type": jsonCT}, 403},
		{"wrong origin, lying Sec-Fetch-Site", "POST", rpcPath, `["x"]`, map[string]string{"Authorization": bearer, "Origin": otherPort, "Sec-Fetch-Site": "same-origin", "Content-Type": jsonCT}, 403},
		{"origin localhost vs host 127.0.0.1", "POST", rpcPath, `["x"]`, map[string]string{"Authorization": bearer, "Origin": "http://localhost:" + u.Port(), "Content-Type": jsonCT}, 403},
		{"origin https scheme", "POST", rpcPath, `["x"]`, map[string]string{"Authorization": bearer, "Origin": "https://" + u.Host, "Content-Type": jsonCT}, 403},
		{"origin null (sandboxed frame, file://)", "POST", rpcPath, `["x"]`, map[string]string{"Authorization": bearer, "Origin": "null", "Content-Type": jsonCT}, 403},
		{"origin with a path", "POST", rpcPath, `["x"]`, map[string]string{"Authorization": bearer, "Origin": self + "/evil", "Content-Type": jsonCT}, 403},
		{"no Origin, Sec-Fetch-Site cross-site", "POST", rpcPath, `["x"]`, map[string]string{"Authorization": bearer, "Sec-Fetch-Site": "cross-site", "Content-Type": jsonCT}, 403},
		{"no Origin, Sec-Fetch-Site same-site", "POST", rpcPath, `["x"]`, map[string]string{"Authorization": bearer, "Sec-Fetch-Site": "same-site", "Content-Type": jsonCT}, 403},
		{"no Origin, Sec-Fetch-Site none on a POST", "POST", rpcPath, `["x"]`, map[string]string{"Authorization": bearer, "Sec-Fetch-Site": "none", "Content-Type": jsonCT}, 403},

		// Bodies a browser sends cross-origin without a preflight ("simple requests").
		{"text/plain body, same origin", "POST", rpcPath, `["x"]`, map[string]string{"Authorization": bearer, "Origin": self, "Sec-Fetch-Site": "same-origin", "Content-Type": "text/plain;charset=UTF-8"}, 403},
		{"text/plain body, cross origin", "POST", rpcPath, `["x"]`, map[string]string{"Authorization": bearer, "Origin": otherPort, "Sec-Fetch-Site": "same-site", "Content-Type": "text/plain"}, 403},
		{"form body", "POST", rpcPath, `a=b`, map[string]string{"Authorization": bearer, "Origin": self, "Content-Type": "application/x-www-form-urlencoded"}, 403},
		{"multipart form body", "POST", rpcPath, "--x--\r\n", map[string]string{"Authorization": bearer, "Origin": self, "Content-Type": "multipart/form-data; boundary=x"}, 403},
		{"no content type", "POST", rpcPath, `["x"]`, map[string]string{"Authorization": "Bearer sekrit"}, 403},
		{"text/plain with bearer", "POST", rpcPath, `["x"]`, map[string]string{"Authorization": "Bearer sekrit", "Content-Type": "text/plain"}, 403},

		// Non-browser clients (curl, scripts): no Origin, no Sec-Fetch-Site.
		{"CLI with bearer", "POST", rpcPath, `["x"]`, map[string]string{"Authorization": "Bearer sekrit", "Content-Type": jsonCT}, 200},
		{"CLI with the cookie only", "POST", rpcPath, `["x"]`, map[string]string{"Cookie": cookie, "Content-Type": jsonCT}, 401},
		{"CLI with ?token= on the API", "POST", rpcPath + "?token=sekrit", `["x"]`, map[string]string{"Content-Type": jsonCT}, 401},
		{"CLI health with the cookie only", "GET", "/api/health", "", map[string]string{"Cookie": cookie}, 401},
		{"CLI health with bearer", "GET", "/api/health", "", map[string]string{"Authorization": "Bearer sekrit"}, 200},
		{"same-origin page, cookie only", "POST", rpcPath, `["x"]`, map[string]string{"Cookie": cookie, "Origin": self, "Sec-Fetch-Site": "same-origin", "Content-Type": jsonCT}, 401},
		{"page load without any credential", "GET", "/", "", map[string]string{"Sec-Fetch-Site": "none", "Sec-Fetch-Mode": "navigate", "Sec-Fetch-Dest": "document"}, 200},

		// DNS rebinding: evil.example resolves to 127.0.0.1; the page is "same origin" with itself.
		{"rebinding Host, same-origin page", "POST", rpcPath, `["x"]`, map[string]string{"Host": "evil.example:" + u.Port(), "Authorization": bearer, "Origin": "http://evil.example:" + u.Port(), "Sec-Fetch-Site": "same-origin", "Content-Type": jsonCT}, 403},
		{"rebinding Host, health read", "GET", "/api/health", "", map[string]string{"Host": "evil.example:" + u.Port(), "Authorization": bearer, "Sec-Fetch-Site": "same-origin"}, 403},
		{"rebinding Host, loopback-looking name", "GET", "/api/health", "", map[string]string{"Host": "127.0.0.1.nip.io:" + u.Port(), "Authorization": "Bearer sekrit"}, 403},

		// Reads: data GETs follow the same origin rule; the address bar (none) may read.
		{"health, same origin", "GET", "/api/health", "", map[string]string{"Authorization": bearer, "Sec-Fetch-Site": "same-origin", "Sec-Fetch-Mode": "cors"}, 200},
		{"health, typed in the address bar", "GET", "/api/health", "", map[string]string{"Authorization": bearer, "Sec-Fetch-Site": "none", "Sec-Fetch-Mode": "navigate", "Sec-Fetch-Dest": "document"}, 200},
		{"health, cross-origin fetch", "GET", "/api/health", "", map[string]string{"Authorization": bearer, "Origin": otherPort, "Sec-Fetch-Site": "same-site", "Sec-Fetch-Mode": "cors"}, 403},
		{"health, cross-origin no-cors", "GET", "/api/health", "", map[string]string{"Authorization": bearer, "Sec-Fetch-Site": "same-site", "Sec-Fetch-Mode": "no-cors", "Sec-Fetch-Dest": "script"}, 403},
		{"health, cross-site navigation", "GET", "/api/health", "", map[string]string{"Authorization": bearer, "Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "navigate", "Sec-Fetch-Dest": "document"}, 403},
		{"page, navigated to from another site", "GET", "/", "", map[string]string{"Authorization": bearer, "Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "navigate", "Sec-Fetch-Dest": "document"}, 200},
		{"page, framed by another site", "GET", "/", "", map[string]string{"Authorization": bearer, "Sec-Fetch-Site": "same-site", "Sec-Fetch-Mode": "navigate", "Sec-Fetch-Dest": "iframe"}, 403},
		{"asset, embedded by another site", "GET", "/a.js", "", map[string]string{"Authorization": bearer, "Sec-Fetch-Site": "same-site", "Sec-Fetch-Mode": "no-cors", "Sec-Fetch-Dest": "script"}, 403},
		{"asset, loaded by the UI", "GET", "/a.js", "", map[string]string{"Authorization": bearer, "Sec-Fetch-Site": "same-origin", "Sec-Fetch-Mode": "no-cors", "Sec-Fetch-Dest": "script"}, 200},
		{"preflight from another port", "OPTIONS", rpcPath, "", map[string]string{"Origin": otherPort, "Sec-Fetch-Site": "same-site", "Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "content-type"}, 403},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			before := ts.echo.calls.Load()
			resp, body := do(t, c.method, ts.URL+c.path, c.body, c.hdr)
			if resp.StatusCode != c.status {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, c.status, body)
			}
			for k := range resp.Header {
				if strings.HasPrefix(strings.ToLower(k), "access-control-") {
					t.Errorf("CORS header %s sent", k)
				}
			}
			ran := ts.echo.calls.Load() - before
			if c.status != 200 {
				if ran != 0 {
					t.Fatalf("refused request still ran the method")
				}
				var e map[string]string
				if json.Unmarshal([]byte(body), &e) != nil || e["error"] == "" || resp.Header.Get("Content-Type") != "application/json" {
					t.Fatalf("refusal is not a JSON error: %q", body)
				}
				if strings.Contains(body, "said") || strings.Contains(body, "ws1") {
					t.Fatalf("refusal carries data: %s", body)
				}
			} else if c.path == rpcPath && ran != 1 {
				t.Fatalf("accepted request ran the method %d times", ran)
			}
		})
	}
}

func TestRefusalsAreLoggedWithoutSecrets(t *testing.T) {
	ts := newServer(t)
	resp, body := do(t, "POST", ts.URL+"/api/rpc/Echo/Say?token=sekrit", `["x"]`, map[string]string{
		"Cookie": cookie, "Authorization": "Bearer sekrit", "Origin": "http://127.0.0.1:1", "Content-Type": "text/plain",
	})
	if resp.StatusCode != 403 || !strings.Contains(body, "Origin") {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}
	logs := ts.logs.String()
	if !strings.Contains(logs, "request refused") || !strings.Contains(logs, "http://127.0.0.1:1") || !strings.Contains(logs, "/api/rpc/Echo/Say") ||
		!strings.Contains(logs, "sent_with=cookie,bearer,query") {
		t.Fatalf("refusal not logged with its shape:\n%s", logs)
	}
	if strings.Contains(logs, "sekrit") {
		t.Fatalf("log holds the token:\n%s", logs)
	}
	// A long hostile header is clipped in the log.
	do(t, "POST", ts.URL+"/api/rpc/Echo/Say", `[]`, map[string]string{"Origin": "http://" + strings.Repeat("a", 5000)})
	if strings.Contains(ts.logs.String(), strings.Repeat("a", 1000)) {
		t.Fatal("a 5000-byte Origin went into the log whole")
	}
}

// No cookie, ever: the printed link's ?token= is read by the page itself (into its
// origin's localStorage), so the server sets nothing a browser would send to another
// port of the host, such as an agent's dev server behind a forward.
func TestNoCookieAndSecurityHeaders(t *testing.T) {
	ts := newServer(t)
	resp, _ := do(t, "GET", ts.URL+"/?token=sekrit", "", map[string]string{"Sec-Fetch-Site": "none", "Sec-Fetch-Mode": "navigate", "Sec-Fetch-Dest": "document"})
	if resp.StatusCode != http.StatusOK || len(resp.Cookies()) != 0 || resp.Header.Get("Set-Cookie") != "" {
		t.Fatalf("token page: %d, cookies %v", resp.StatusCode, resp.Cookies())
	}
	for k, want := range map[string]string{
		"X-Frame-Options": "DENY", "Content-Security-Policy": "frame-ancestors 'none'; frame-src http://127.0.0.1:* http://localhost:*",
		"Cross-Origin-Resource-Policy": "same-origin", "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer",
	} {
		if got := resp.Header.Get(k); got != want {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}
	// ?token= never opens the API.
	resp, _ = do(t, "GET", ts.URL+"/api/health?token=sekrit", "", nil)
	if resp.StatusCode != 401 || len(resp.Cookies()) != 0 {
		t.Fatalf("?token= on the API: %d %v", resp.StatusCode, resp.Cookies())
	}
}

// The event socket: a page of another origin cannot open it, even holding the token; the
// UI (same origin, token as a subprotocol) and a CLI client (bearer, no Origin) can.
func TestEventsWebSocketOrigin(t *testing.T) {
	ts := newServer(t)
	u, _ := url.Parse(ts.URL)
	wsURL := "ws://" + u.Host + "/api/events"
	dial := func(hdr map[string]string) (*websocket.Conn, int, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		h := http.Header{}
		for k, v := range hdr {
			h.Set(k, v)
		}
		var protos []string
		if p := hdr["protocols"]; p != "" {
			protos = strings.Split(p, ",")
			h.Del("protocols")
		}
		c, resp, err := websocket.Dial(ctx, wsURL, &websocket.DialOptions{HTTPHeader: h, Subprotocols: protos})
		if err == nil && c.Subprotocol() != "" && c.Subprotocol() != wsProtocol {
			t.Errorf("the server answered subprotocol %q (never the token)", c.Subprotocol())
		}
		status := 0
		if resp != nil {
			status = resp.StatusCode
		}
		return c, status, err
	}
	for name, hdr := range map[string]map[string]string{
		"other port":               {"protocols": "loopat,loopat.token.sekrit", "Origin": "http://127.0.0.1:1", "Sec-Fetch-Site": "same-site", "Sec-Fetch-Mode": "websocket"},
		"same origin, cookie only": {"Cookie": cookie, "Origin": ts.URL, "Sec-Fetch-Site": "same-origin", "Sec-Fetch-Mode": "websocket"},
		"same origin, wrong token": {"protocols": "loopat,loopat.token.wrong", "Origin": ts.URL, "Sec-Fetch-Site": "same-origin"},
		"other port, bearer":       {"Authorization": "Bearer sekrit", "Origin": "http://127.0.0.1:1"},
		"rebinding host":           {"Cookie": cookie, "Host": "evil.example:" + u.Port(), "Origin": "http://evil.example:" + u.Port()},
		"cross-site, no Origin":    {"protocols": "loopat,loopat.token.sekrit", "Sec-Fetch-Site": "cross-site"},
		"cookie without a browser": {"Cookie": cookie},
	} {
		if name == "rebinding host" {
			// websocket.Dial cannot set Host; check the handshake over plain HTTP instead.
			resp, _ := do(t, "GET", ts.URL+"/api/events", "", map[string]string{"Host": hdr["Host"], "Cookie": cookie, "Origin": hdr["Origin"],
				"Connection": "Upgrade", "Upgrade": "websocket", "Sec-WebSocket-Version": "13", "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ=="})
			if resp.StatusCode != 403 {
				t.Errorf("%s: handshake status %d", name, resp.StatusCode)
			}
			continue
		}
		c, status, err := dial(hdr)
		if err == nil {
			c.CloseNow()
			t.Errorf("%s: websocket accepted", name)
			continue
		}
		if status != 403 && status != 401 {
			t.Errorf("%s: handshake status %d (%v)", name, status, err)
		}
	}
	for name, hdr := range map[string]map[string]string{
		"the UI":     {"protocols": "loopat,loopat.token.sekrit", "Origin": ts.URL, "Sec-Fetch-Site": "same-origin", "Sec-Fetch-Mode": "websocket"},
		"CLI bearer": {"Authorization": "Bearer sekrit"},
	} {
		c, status, err := dial(hdr)
		if err != nil {
			t.Errorf("%s: refused (%d): %v", name, status, err)
			continue
		}
		c.CloseNow()
	}
}

func TestSameOrigin(t *testing.T) {
	for _, c := range []struct {
		host, origin string
		want         bool
	}{
		{"127.0.0.1:10001", "http://127.0.0.1:10001", true},
		{"[::1]:10001", "http://[::1]:10001", true},
		{"localhost", "http://localhost:80", true},
		{"localhost:80", "http://LOCALHOST", true},
		{"127.0.0.1:10001", "http://127.0.0.1:10002", false},
		{"127.0.0.1:10001", "http://127.0.0.1", false},
		{"[::1]:10001", "http://127.0.0.1:10001", false},
		{"127.0.0.1:10001", "ws://127.0.0.1:10001", false},
		{"127.0.0.1:10001", "http://user@127.0.0.1:10001", false},
		{"127.0.0.1:10001", "http://127.0.0.1:10001?x", false},
		{"127.0.0.1:10001", "null", false},
		{"127.0.0.1:10001", "", false},
	} {
		r := &http.Request{Host: c.host}
		if got := sameOrigin(c.origin, r); got != c.want {
			t.Errorf("sameOrigin(%q) on Host %q = %v, want %v", c.origin, c.host, got, c.want)
		}
	}
}
