// Package server is the browser transport of `loopat serve`: the same services the
// desktop window binds, over HTTP (RPC by name) and one WebSocket of bus events.
//
// Every API request needs the access token printed at start (as Jupyter does): a Bearer
// header, or for the event WebSocket (browsers cannot set its headers) the subprotocol
// "loopat.token.<token>". The page takes ?token= from its first URL into its origin's
// localStorage. There is deliberately no cookie: browsers send cookies to every port of
// a host, so one would reach any loopback server the user opens, such as an agent's dev
// server behind a port forward. Browser requests must come from this server's own
// origin; see guard.
package server

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"mime"
	"net"
	"net/http"
	"net/url"
	"path"
	"strings"
	"time"

	"github.com/coder/websocket"

	"github.com/loopat/desktop/backend/events"
	"github.com/loopat/desktop/backend/rpc"
)

const (
	maxBodyBytes = 8 << 20
	// wsProtocol is the event socket's subprotocol; wsTokenPrefix+token, offered beside
	// it, carries the token (the server answers with wsProtocol only, never the token).
	wsProtocol    = "loopat"
	wsTokenPrefix = "loopat.token."
)

// Options configures the HTTP transport.
type Options struct {
	Registry *rpc.Registry
	Bus      *events.Bus
	Assets   fs.FS // the built frontend (index.html at its root); nil = API only
	Token    string
	Health   func() any
	Log      *slog.Logger
}

// Server serves the API, events and frontend.
type Server struct {
	o   Options
	mux *http.ServeMux
}

// NewToken returns a random 24-byte hex access token.
func NewToken() (string, error) {
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return hex.EncodeToString(b), nil
}

// New builds the handler tree.
func New(o Options) *Server {
	if o.Log == nil {
		o.Log = slog.Default()
	}
	s := &Server{o: o, mux: http.NewServeMux()}
	s.mux.HandleFunc("GET /api/health", s.health)
	s.mux.HandleFunc("POST /api/rpc/{service}/{method}", s.rpc)
	s.mux.HandleFunc("GET /api/events", s.events)
	s.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/api/") || o.Assets == nil || r.Method != http.MethodGet {
			writeJSON(w, http.StatusNotFound, map[string]string{"error": "no such route: " + r.Method + " " + r.URL.Path})
			return
		}
		s.static(w, r)
	})
	return s
}

// Handler returns the guarded handler.
func (s *Server) Handler() http.Handler { return s.guard(s.mux) }

// guard is the browser boundary. In order:
//  1. the Host is a loopback name (DNS-rebinding defence);
//  2. a browser request (it carries Origin or Sec-Fetch-Site) comes from this server's
//     own origin;
//  3. an API request carries the token (authenticated); pages and assets need none;
//  4. POST bodies are application/json, so no form or text/plain "simple request" (which
//     a browser sends cross-origin without a preflight) is ever accepted.
//
// Refusals are 403 JSON, logged with the request's shape but never a credential.
func (s *Server) guard(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		setSecurityHeaders(w.Header())
		if !allowedHost(r.Host) {
			s.refuse(w, r, "forbidden host: loopat serve answers only loopback names (localhost, 127.0.0.1, [::1])")
			return
		}
		browser := isBrowserRequest(r)
		if browser {
			if msg := checkBrowserOrigin(r); msg != "" {
				s.refuse(w, r, msg)
				return
			}
		}
		if !s.authenticated(w, r) {
			return
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead && !isJSON(r.Header.Get("Content-Type")) {
			s.refuse(w, r, "Content-Type must be application/json")
			return
		}
		next.ServeHTTP(w, r)
	})
}

// authenticated checks the token on the API and answers 401 itself when the request
// must not go on. Pages and assets need none: they are the public frontend, which
// holds no data and reads the token from its own URL (?token=) or localStorage.
func (s *Server) authenticated(w http.ResponseWriter, r *http.Request) bool {
	if !strings.HasPrefix(r.URL.Path, "/api/") {
		return true
	}
	if h := r.Header.Get("Authorization"); strings.HasPrefix(h, "Bearer ") {
		if s.tokenOK(strings.TrimPrefix(h, "Bearer ")) {
			return true
		}
		s.unauthorized(w)
		return false
	}
	if t, ok := subprotocolToken(r); ok && r.URL.Path == "/api/events" && s.tokenOK(t) {
		return true
	}
	s.unauthorized(w)
	return false
}

// subprotocolToken returns the token a browser's WebSocket offers as a subprotocol.
func subprotocolToken(r *http.Request) (string, bool) {
	for _, h := range r.Header.Values("Sec-WebSocket-Protocol") {
		for _, p := range strings.Split(h, ",") {
			if t, ok := strings.CutPrefix(strings.TrimSpace(p), wsTokenPrefix); ok {
				return t, true
			}
		}
	}
	return "", false
}

func (s *Server) unauthorized(w http.ResponseWriter) {
	w.Header().Set("WWW-Authenticate", `Bearer realm="loopat"`)
	writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "missing or wrong access token: open the URL printed by `loopat serve`, or send \"Authorization: Bearer <token>\""})
}

func (s *Server) refuse(w http.ResponseWriter, r *http.Request, msg string) {
	// Path without the query (it may hold ?token=); header values are attacker-chosen, so clipped.
	s.o.Log.Warn("request refused", "reason", msg, "method", r.Method, "path", clip(r.URL.Path),
		"host", clip(r.Host), "origin", clip(r.Header.Get("Origin")), "sec_fetch_site", clip(r.Header.Get("Sec-Fetch-Site")),
		"content_type", clip(r.Header.Get("Content-Type")), "sent_with", credentialKinds(r), "remote", r.RemoteAddr)
	writeJSON(w, http.StatusForbidden, map[string]string{"error": "refused: " + msg})
}

// credentialKinds names (never shows) the credentials a request carried.
func credentialKinds(r *http.Request) string {
	var kinds []string
	if r.Header.Get("Cookie") != "" {
		kinds = append(kinds, "cookie") // never a credential here; named to show what a page sent
	}
	if _, ok := subprotocolToken(r); ok {
		kinds = append(kinds, "subprotocol")
	}
	if strings.HasPrefix(r.Header.Get("Authorization"), "Bearer ") {
		kinds = append(kinds, "bearer")
	}
	if r.URL.Query().Has("token") {
		kinds = append(kinds, "query")
	}
	if len(kinds) == 0 {
		return "none"
	}
	return strings.Join(kinds, ",")
}

// CSP: nothing may frame the app; the app frames only a loop's forwarded port on this
// computer (the Ports tab's preview, shown on the other loopback name than the UI's so
// it is another origin and site, with no access to the UI's storage or the API).
const CSP = "frame-ancestors 'none'; frame-src http://127.0.0.1:* http://localhost:*"

// setSecurityHeaders keeps every response out of other origins' reach: no framing
// (clickjacking the Uninstall button), no cross-origin embedding, no MIME sniffing.
// There are deliberately no Access-Control-* headers: no origin is ever allowed.
func setSecurityHeaders(h http.Header) {
	h.Set("X-Frame-Options", "DENY")
	h.Set("Content-Security-Policy", CSP)
	h.Set("Cross-Origin-Resource-Policy", "same-origin")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
}

// isBrowserRequest: current browsers send Sec-Fetch-Site on every request to a
// loopback origin and Origin on every POST and WebSocket; other clients send neither.
func isBrowserRequest(r *http.Request) bool {
	return r.Header.Get("Origin") != "" || r.Header.Get("Sec-Fetch-Site") != ""
}

// checkBrowserOrigin returns why a browser request is refused, or "" to let it on.
//   - An Origin header must be this server's own origin (scheme, host and port).
//   - Sec-Fetch-Site must be same-origin; "none" (typed URL, bookmark) is fine for a GET.
//   - A page of another origin may navigate the window to the UI (a top-level GET of a
//     page, never /api/): it then runs as this origin, and the other page reads nothing.
//   - A state-changing request needs positive proof: a same-origin Origin or
//     Sec-Fetch-Site: same-origin.
func checkBrowserOrigin(r *http.Request) string {
	origin, site := r.Header.Get("Origin"), r.Header.Get("Sec-Fetch-Site")
	if origin != "" && !sameOrigin(origin, r) {
		return fmt.Sprintf("cross-origin request: Origin %q is not this server's origin", clip(origin))
	}
	read := r.Method == http.MethodGet || r.Method == http.MethodHead
	switch site {
	case "", "same-origin":
	case "none":
		if !read {
			return "Sec-Fetch-Site: none is accepted for page loads only"
		}
	default:
		topLevelPage := read && !strings.HasPrefix(r.URL.Path, "/api/") &&
			r.Header.Get("Sec-Fetch-Mode") == "navigate" && r.Header.Get("Sec-Fetch-Dest") == "document"
		if !topLevelPage {
			return fmt.Sprintf("cross-origin request: Sec-Fetch-Site is %q, want same-origin", clip(site))
		}
	}
	if !read && origin == "" && site != "same-origin" {
		return "a browser request that changes state must carry this server's Origin or Sec-Fetch-Site: same-origin"
	}
	return ""
}

// sameOrigin reports whether origin is exactly this server's scheme://host:port. The
// Host was already checked to be a loopback name.
func sameOrigin(origin string, r *http.Request) bool {
	u, err := url.Parse(origin)
	if err != nil || u.User != nil || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" || u.Opaque != "" {
		return false
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	if !strings.EqualFold(u.Scheme, scheme) {
		return false
	}
	return canonicalHostPort(u.Host, scheme) == canonicalHostPort(r.Host, scheme)
}

// canonicalHostPort lower-cases the host and fills in the scheme's default port.
func canonicalHostPort(hostport, scheme string) string {
	host, port, err := net.SplitHostPort(hostport)
	if err != nil {
		host, port = hostport, ""
	}
	if port == "" {
		port = map[string]string{"http": "80", "https": "443"}[scheme]
	}
	return strings.ToLower(strings.Trim(host, "[]")) + "|" + port
}

func isJSON(contentType string) bool {
	mt, _, err := mime.ParseMediaType(contentType)
	return err == nil && mt == "application/json"
}

// clip bounds a header value an attacker chose before it reaches the log or an error.
func clip(s string) string {
	const max = 200
	if len(s) > max {
		return s[:max] + "…"
	}
	return s
}

func (s *Server) tokenOK(t string) bool {
	return t != "" && subtle.ConstantTimeCompare([]byte(t), []byte(s.o.Token)) == 1
}

// allowedHost accepts loopback names only; a page on another origin resolving to
// 127.0.0.1 (DNS rebinding) carries its own Host name and is refused.
func allowedHost(hostport string) bool {
	host := hostport
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		host = h
	}
	host = strings.Trim(host, "[]")
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func (s *Server) health(w http.ResponseWriter, r *http.Request) {
	var body any = map[string]bool{"ok": true}
	if s.o.Health != nil {
		body = s.o.Health()
	}
	writeJSON(w, http.StatusOK, body)
}

func (s *Server) rpc(w http.ResponseWriter, r *http.Request) {
	svc, method := r.PathValue("service"), r.PathValue("method")
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBodyBytes+1))
	if err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "read request: " + err.Error()})
		return
	}
	if len(body) > maxBodyBytes {
		writeJSON(w, http.StatusRequestEntityTooLarge, map[string]string{"error": "request body over 8 MiB"})
		return
	}
	res, err := s.o.Registry.Call(svc, method, body)
	if err != nil {
		// The caller's mistakes (typed by the services as rpc kinds) are 4xx with the
		// message and hint written for the user; only the app's own failures are 500.
		status, msg, hint := rpc.Describe(err)
		if status >= http.StatusInternalServerError {
			s.o.Log.Warn("rpc failed", "call", svc+"."+method, "err", err)
		}
		body := map[string]string{"error": msg, "kind": string(rpc.KindOf(status))}
		if hint != "" {
			body["hint"] = hint
		}
		writeJSON(w, status, body)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"result": res})
}

func (s *Server) events(w http.ResponseWriter, r *http.Request) {
	// Same-origin only (the default); the answer names wsProtocol, never the token.
	c, err := websocket.Accept(w, r, &websocket.AcceptOptions{Subprotocols: []string{wsProtocol}})
	if err != nil {
		return
	}
	defer c.CloseNow()
	ch, cancel := s.o.Bus.Subscribe(1024, nil)
	defer cancel()
	ctx := c.CloseRead(r.Context())
	ping := time.NewTicker(20 * time.Second)
	defer ping.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-ping.C:
			pctx, pc := context.WithTimeout(ctx, 10*time.Second)
			err := c.Ping(pctx)
			pc()
			if err != nil {
				return
			}
		case ev := <-ch:
			data, err := json.Marshal(ev)
			if err != nil {
				s.o.Log.Warn("event not serialisable", "topic", ev.Topic, "err", err)
				continue
			}
			wctx, wc := context.WithTimeout(ctx, 10*time.Second)
			err = c.Write(wctx, websocket.MessageText, data)
			wc()
			if err != nil {
				return
			}
		}
	}
}

// static serves the SPA, falling back to index.html for client-side routes.
func (s *Server) static(w http.ResponseWriter, r *http.Request) {
	p := strings.TrimPrefix(path.Clean(r.URL.Path), "/")
	if p == "" {
		p = "index.html"
	}
	if st, err := fs.Stat(s.o.Assets, p); err != nil || st.IsDir() {
		p = "index.html"
	}
	if _, err := fs.Stat(s.o.Assets, "index.html"); err != nil {
		http.Error(w, "frontend not built: run `make build`", http.StatusServiceUnavailable)
		return
	}
	http.ServeFileFS(w, r, s.o.Assets, p)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
