package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"
)

// SandboxAddr is where the agent finds its model inside every sandbox: the relay
// listens there and carries each connection over the loop's link to the Router.
const SandboxAddr = "127.0.0.1:4141"

// Router serves every loop's model traffic arriving over the loops' links: one HTTP
// server whose connections carry the loop of the link they came on, routed to that
// loop's Gateway (provider URL, real key, the placeholder its agent holds). The loop is
// always the link's, never anything the request says.
type Router struct {
	log *slog.Logger
	srv *http.Server

	mu     sync.Mutex
	routes map[string]*Gateway
	// placeholders stay the same for a loop across routes: the agent and terminals
	// opened earlier keep working when another exec routes the loop again.
	placeholders map[string]string

	conns chan net.Conn
	done  chan struct{}
	once  sync.Once
}

type loopIDKey struct{}

// loopConn is a gateway stream and the loop its link belongs to.
type loopConn struct {
	net.Conn
	loopID string
}

// NewRouter starts the router's server; Shutdown ends it.
func NewRouter(log *slog.Logger) *Router {
	if log == nil {
		log = slog.Default()
	}
	r := &Router{log: log.With("component", "gateway"), routes: map[string]*Gateway{},
		placeholders: map[string]string{}, conns: make(chan net.Conn), done: make(chan struct{})}
	r.srv = &http.Server{
		Handler: r, ReadHeaderTimeout: 30 * time.Second, IdleTimeout: 5 * time.Minute,
		ErrorLog: slog.NewLogLogger(r.log.Handler(), slog.LevelWarn),
		ConnContext: func(ctx context.Context, c net.Conn) context.Context {
			if lc, ok := c.(*loopConn); ok {
				return context.WithValue(ctx, loopIDKey{}, lc.loopID)
			}
			return ctx
		},
	}
	go func() {
		if err := r.srv.Serve(r); err != nil && !errors.Is(err, http.ErrServerClosed) && !errors.Is(err, net.ErrClosed) {
			r.log.Error("model gateway stopped", "err", err)
		}
	}()
	return r
}

// Route points loopID's model traffic at baseURL with the real key and returns what
// the agent gets instead: the in-sandbox URL and the loop's placeholder key.
func (r *Router) Route(loopID, baseURL, key string) (agentURL, placeholder string, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	ph := r.placeholders[loopID]
	if ph == "" {
		ph = NewPlaceholder()
	}
	gw, err := New(baseURL, key, ph, r.log.With("loop", loopID))
	if err != nil {
		return "", "", err
	}
	r.routes[loopID], r.placeholders[loopID] = gw, ph
	return "http://" + SandboxAddr, ph, nil
}

// Forget drops a deleted loop's route and the key it held.
func (r *Router) Forget(loopID string) {
	r.mu.Lock()
	delete(r.routes, loopID)
	delete(r.placeholders, loopID)
	r.mu.Unlock()
}

// ServeConn takes one gateway stream of loopID's link (hostexec.Server.HandleGateway).
func (r *Router) ServeConn(loopID string, c net.Conn) {
	select {
	case r.conns <- &loopConn{Conn: c, loopID: loopID}:
	case <-r.done:
		c.Close()
	}
}

// Refuse answers a gateway stream past the loop's cap with an Anthropic-style 503
// the agent reports (and retries), without reading the request.
func (r *Router) Refuse(c net.Conn, reason string) {
	body, _ := json.Marshal(map[string]any{"type": "error", "error": map[string]string{
		"type": "overloaded_error", "message": "loopat gateway: " + reason}})
	fmt.Fprintf(c, "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nConnection: close\r\nRetry-After: 1\r\nContent-Length: %d\r\n\r\n%s", len(body), body)
}

func (r *Router) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	loopID, _ := req.Context().Value(loopIDKey{}).(string)
	r.mu.Lock()
	gw := r.routes[loopID]
	r.mu.Unlock()
	if gw == nil {
		writeError(w, http.StatusServiceUnavailable, "api_error",
			"loopat gateway: this loop has no model route yet; send the message again from the app")
		return
	}
	gw.ServeHTTP(w, req)
}

// Accept, Close and Addr make the Router the listener of its own server.
func (r *Router) Accept() (net.Conn, error) {
	select {
	case c := <-r.conns:
		return c, nil
	case <-r.done:
		return nil, net.ErrClosed
	}
}

// Close stops accepting streams (http.Server.Shutdown calls it too).
func (r *Router) Close() error {
	r.once.Do(func() { close(r.done) })
	return nil
}

// Shutdown ends the server and its connections (app close).
func (r *Router) Shutdown() error {
	r.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := r.srv.Shutdown(ctx); err != nil {
		return r.srv.Close()
	}
	return nil
}

func (r *Router) Addr() net.Addr { return linkAddr{} }

type linkAddr struct{}

func (linkAddr) Network() string { return "link" }
func (linkAddr) String() string  { return SandboxAddr }
