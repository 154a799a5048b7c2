// Package gateway is the host-side model gateway for one loop. The agent in the
// sandbox holds only a placeholder API key; the gateway checks it, swaps in the real
// key and forwards to the provider, streaming the response as it arrives. The real key
// never enters the sandbox, the logs or the gateway's error bodies.
package gateway

import (
	"bytes"
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
	"time"

	"github.com/loopat/desktop/backend/secrets"
)

// PlaceholderPrefix starts every placeholder key, so it is recognisable in a sandbox.
const PlaceholderPrefix = "loopat-placeholder-"

// NewPlaceholder returns a fresh random placeholder key for one loop.
func NewPlaceholder() string {
	b := make([]byte, 24)
	_, _ = rand.Read(b)
	return PlaceholderPrefix + hex.EncodeToString(b)
}

// Gateway is an http.Handler forwarding authenticated requests to one provider.
type Gateway struct {
	target      *url.URL
	placeholder []byte
	log         *slog.Logger
	scrub       *secrets.Scrubber
	proxy       *httputil.ReverseProxy
}

// New returns a gateway to target (the provider's base URL, e.g. https://api.anthropic.com)
// that accepts requests carrying placeholder and sends them on with realKey.
func New(target, realKey, placeholder string, log *slog.Logger) (*Gateway, error) {
	u, err := url.Parse(target)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("gateway target %q: want an http(s) base URL", target)
	}
	if realKey == "" {
		return nil, errors.New("gateway: empty API key")
	}
	if len(placeholder) < 16 || placeholder == realKey {
		return nil, errors.New("gateway: placeholder must be a random string of 16+ bytes, distinct from the key")
	}
	if log == nil {
		log = slog.Default()
	}
	scrub := secrets.New(realKey)
	log = slog.New(secrets.NewLogHandler(log.Handler(), scrub)).With("component", "gateway", "target", u.Redacted())
	g := &Gateway{target: u, placeholder: []byte(placeholder), log: log, scrub: scrub}
	g.proxy = &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(u) // joins base path and request path, merges queries, sets Host
			h := pr.Out.Header
			h.Del("Authorization")
			h.Del("Proxy-Authorization")
			h.Del("X-Api-Key")
			h.Set("X-Api-Key", realKey)
			// Let Go's transport negotiate compression and decode it, so the response
			// scrubber below sees plain text.
			h.Del("Accept-Encoding")
		},
		FlushInterval:  -1, // flush after every write: SSE must not be buffered
		Transport:      newTransport(),
		ModifyResponse: g.scrubResponse,
		ErrorHandler:   g.upstreamError,
		ErrorLog:       slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	return g, nil
}

func newTransport() *http.Transport {
	return &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: 15 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          16,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   15 * time.Second,
		ResponseHeaderTimeout: 10 * time.Minute, // long non-streaming completions
	}
}

// Serve answers HTTP on l (e.g. the loop's yamux stream listener) until l is closed.
// There is no write timeout: model responses stream for minutes.
func (g *Gateway) Serve(l net.Listener) error {
	srv := &http.Server{Handler: g, ReadHeaderTimeout: 30 * time.Second, IdleTimeout: 5 * time.Minute,
		ErrorLog: slog.NewLogLogger(g.log.Handler(), slog.LevelWarn)}
	if err := srv.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) && !errors.Is(err, net.ErrClosed) {
		return fmt.Errorf("gateway serve: %w", err)
	}
	return nil
}

// ServeHTTP checks the placeholder and forwards the request.
func (g *Gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	if !g.authorized(r) {
		g.log.Warn("rejected request without the loop's placeholder key", "method", r.Method, "path", r.URL.Path)
		writeError(w, http.StatusUnauthorized, "authentication_error",
			"loopat gateway: invalid or missing API key; requests must carry this loop's placeholder key")
		return
	}
	if !forwardable(r) {
		// The path is hostile input: quoted and clipped in the log, never sent upstream.
		g.log.Warn("refused a path outside the Messages API", "method", r.Method, "path", clip(r.URL.EscapedPath()))
		writeError(w, http.StatusNotFound, "not_found_error",
			"loopat gateway: only POST /v1/messages, POST /v1/messages/count_tokens and GET /v1/models are forwarded")
		return
	}
	// A proxy reads the request body (in the Transport's writer goroutine) while it
	// writes the response. Go's HTTP/1 server by default assumes the opposite: when the
	// first response bytes are flushed it drains and closes the request body. Even a fully
	// sent body is then read once more by the Transport (its check for bytes past
	// Content-Length); that read fails with "invalid Read on closed Body", and the
	// Transport closes the upstream connection, cutting the streamed reply after its first
	// event. If the body is still arriving, the server instead drains it itself before
	// relaying anything, and the reply stalls. Full duplex leaves the body to the
	// Transport; what is forwarded is unchanged. HTTP/2 is always full duplex and answers
	// ErrNotSupported, which is fine.
	_ = http.NewResponseController(w).EnableFullDuplex()
	rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
	g.proxy.ServeHTTP(rec, r)
	g.log.Info("model request", "method", r.Method, "path", r.URL.Path, "status", rec.status,
		"bytes", rec.bytes, "duration", time.Since(start).Round(time.Millisecond))
}

// messagesAPI is everything the agent may reach with the real key: the Messages API and
// the model list, by method. Any other path (another product API, an admin route, a path
// that an upstream or proxy would normalise into one) is answered here with 404.
var messagesAPI = map[string][]string{
	"/v1/messages":              {http.MethodPost},
	"/v1/messages/count_tokens": {http.MethodPost},
	"/v1/models":                {http.MethodGet, http.MethodHead},
}

// forwardable checks the path as sent on the wire, not as decoded: it must be exactly one
// of messagesAPI's, so "..", "%2e", "%2f", "//", a trailing slash or an absolute-form
// target never match. The query is free (e.g. ?beta=true).
func forwardable(r *http.Request) bool {
	u := r.URL
	if u == nil || u.Opaque != "" || u.User != nil || u.Host != "" || u.Fragment != "" {
		return false
	}
	methods, ok := messagesAPI[u.EscapedPath()]
	if !ok || u.Path != u.EscapedPath() {
		return false
	}
	for _, m := range methods {
		if r.Method == m {
			return true
		}
	}
	return false
}

// clip bounds a value the sandbox chose before it is logged.
func clip(s string) string {
	if len(s) > 200 {
		return s[:200] + "…"
	}
	return s
}

func (g *Gateway) authorized(r *http.Request) bool {
	got := r.Header.Get("X-Api-Key")
	if got == "" {
		if auth := r.Header.Get("Authorization"); len(auth) > 7 && strings.EqualFold(auth[:7], "bearer ") {
			got = auth[7:]
		}
	}
	return got != "" && subtle.ConstantTimeCompare([]byte(got), g.placeholder) == 1
}

func (g *Gateway) upstreamError(w http.ResponseWriter, r *http.Request, err error) {
	msg := g.scrub.String(err.Error())
	g.log.Error("provider request failed", "method", r.Method, "path", r.URL.Path, "err", msg)
	status := http.StatusBadGateway
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		status = http.StatusGatewayTimeout
	}
	if r.Context().Err() != nil {
		return // the client went away; nobody reads the answer
	}
	writeError(w, status, "api_error", "loopat gateway: provider unreachable: "+msg)
}

// writeError answers in the Anthropic API's error format, which claude understands.
func writeError(w http.ResponseWriter, status int, typ, msg string) {
	body, _ := json.Marshal(map[string]any{"type": "error", "error": map[string]string{"type": typ, "message": msg}})
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// scrubResponse masks the real key should the provider (or a proxy before it) echo it
// back, so the sandbox cannot learn it that way. Masking changes the length, so the
// response is re-framed.
func (g *Gateway) scrubResponse(resp *http.Response) error {
	sr := &scrubReader{src: resp.Body, rbuf: make([]byte, 32<<10)}
	sr.w = g.scrub.NewWriter(&sr.out)
	resp.Body = sr
	resp.ContentLength = -1
	resp.Header.Del("Content-Length")
	return nil
}

// scrubReader passes a body through a secrets.Writer, read by read, so streaming
// is preserved (the Writer only holds back a possible partial key).
type scrubReader struct {
	src  io.ReadCloser
	w    *secrets.Writer
	out  bytes.Buffer
	eof  bool
	rbuf []byte
}

func (s *scrubReader) Read(p []byte) (int, error) {
	for s.out.Len() == 0 {
		if s.eof {
			return 0, io.EOF
		}
		n, err := s.src.Read(s.rbuf)
		if n > 0 {
			_, _ = s.w.Write(s.rbuf[:n])
		}
		if err == io.EOF {
			s.eof = true
			_ = s.w.Flush()
		} else if err != nil {
			return 0, err
		}
	}
	return s.out.Read(p)
}

func (s *scrubReader) Close() error { return s.src.Close() }

// statusRecorder notes the status and size for the log and keeps flushing working
// (ReverseProxy finds the Flusher through Unwrap).
type statusRecorder struct {
	http.ResponseWriter
	status int
	bytes  int64
}

func (s *statusRecorder) WriteHeader(code int) {
	s.status = code
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Write(b []byte) (int, error) {
	n, err := s.ResponseWriter.Write(b)
	s.bytes += int64(n)
	return n, err
}

func (s *statusRecorder) Flush() {
	if f, ok := s.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (s *statusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }
