// Package server is the browser transport of `loopat serve`: the same services the
// desktop window binds, over HTTP (RPC by name) and one WebSocket of bus events.
//
// Every request needs the access token printed at start (as Jupyter does): a Bearer
// header, or a cookie set when the page is first opened with ?token=.
package server

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"path"
	"strings"
	"time"

	"github.com/coder/websocket"

	"github.com/loopat/desktop/backend/events"
	"github.com/loopat/desktop/backend/rpc"
)

const (
	cookieName   = "loopat_token"
	maxBodyBytes = 8 << 20
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

// guard enforces loopback Host names (DNS-rebinding defence) and the token.
func (s *Server) guard(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !allowedHost(r.Host) {
			http.Error(w, "forbidden host", http.StatusForbidden)
			return
		}
		if q := r.URL.Query().Get("token"); q != "" && s.tokenOK(q) {
			http.SetCookie(w, &http.Cookie{Name: cookieName, Value: q, Path: "/", HttpOnly: true, SameSite: http.SameSiteStrictMode})
			if r.Method == http.MethodGet && !strings.HasPrefix(r.URL.Path, "/api/") {
				u := *r.URL
				qs := u.Query()
				qs.Del("token")
				u.RawQuery = qs.Encode()
				http.Redirect(w, r, u.RequestURI(), http.StatusFound)
				return
			}
			next.ServeHTTP(w, r)
			return
		}
		if !s.tokenOK(requestToken(r)) {
			w.Header().Set("WWW-Authenticate", `Bearer realm="loopat"`)
			writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "missing or wrong access token: open the URL printed by `loopat serve`"})
			return
		}
		next.ServeHTTP(w, r)
	})
}

func requestToken(r *http.Request) string {
	if h := r.Header.Get("Authorization"); strings.HasPrefix(h, "Bearer ") {
		return strings.TrimPrefix(h, "Bearer ")
	}
	if c, err := r.Cookie(cookieName); err == nil {
		return c.Value
	}
	return ""
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
	if host == "localhost" {
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
		status := http.StatusInternalServerError
		var ce *rpc.CallError
		if errors.As(err, &ce) {
			status = http.StatusBadRequest
			if ce.NotFound {
				status = http.StatusNotFound
			}
		} else {
			s.o.Log.Warn("rpc failed", "call", svc+"."+method, "err", err)
		}
		writeJSON(w, status, map[string]string{"error": err.Error()})
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"result": res})
}

func (s *Server) events(w http.ResponseWriter, r *http.Request) {
	c, err := websocket.Accept(w, r, nil) // default: same-origin only
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
