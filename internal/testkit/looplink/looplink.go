// Package looplink gives loop integration tests the model route the app wires in
// backend/core: every loop container runs the loopat-host relay over a host link (a
// podman exec), the agent calls its model at Addr inside the sandbox, and the host
// forwards each of those connections to the loop's provider with the real key (the
// agent only holds a placeholder). The provider (a mock API) can then listen on host
// loopback, which works rootful and rootless alike: the sandbox never gets a network
// route to it. Test-only wiring; core's modelGateway is the app's.
package looplink

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/containers/podman/v5/pkg/bindings/containers"

	"github.com/loopat/desktop/backend/config"
	"github.com/loopat/desktop/backend/events"
	"github.com/loopat/desktop/backend/gateway"
	"github.com/loopat/desktop/backend/hostexec"
	"github.com/loopat/desktop/backend/link"
)

// Addr is where the agent finds its model inside the sandbox (core.GatewayAddr).
const Addr = "127.0.0.1:4141"

// ForwarderTarget is where the loopat-host binary must be mounted in the loop image.
const ForwarderTarget = "/usr/local/bin/loopat-host"

// Link is the host side of every loop's link in one test workspace.
type Link struct {
	// Forwarder is the loopat-host binary built for this test: mount it read-only at
	// ForwarderTarget in each loop container.
	Forwarder string

	ctx  context.Context
	hx   *hostexec.Server
	log  *slog.Logger
	srv  *http.Server
	conn chan net.Conn
	done chan struct{}
	once sync.Once

	mu           sync.Mutex
	routes       map[string]*gateway.Gateway
	placeholders map[string]string
	attached     map[string]attachment
}

type attachment struct {
	containerID string
	sess        *link.Session
}

type loopIDKey struct{}

type loopConn struct {
	net.Conn
	loopID string
}

// New builds the forwarder and serves the model gateway until the test ends.
func New(t testing.TB, ws config.Workspace) *Link {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	l := &Link{
		Forwarder: buildForwarder(t), ctx: ctx, hx: hostexec.NewServer(ws, events.New()),
		log: slog.Default().With("component", "test-gateway"), conn: make(chan net.Conn), done: make(chan struct{}),
		routes: map[string]*gateway.Gateway{}, placeholders: map[string]string{}, attached: map[string]attachment{},
	}
	l.hx.GatewayAddr = Addr
	l.hx.HandleTag(link.TagGateway, hostexec.TagHandler{Name: "open model gateway connections",
		Max: hostexec.MaxGatewayConns, Serve: l.serveConn})
	l.srv = &http.Server{Handler: http.HandlerFunc(l.serveHTTP), ReadHeaderTimeout: 30 * time.Second,
		ConnContext: func(ctx context.Context, c net.Conn) context.Context {
			if lc, ok := c.(*loopConn); ok {
				return context.WithValue(ctx, loopIDKey{}, lc.loopID)
			}
			return ctx
		}}
	go func() { _ = l.srv.Serve(l) }()
	t.Cleanup(func() {
		cancel()
		l.Close()
		sctx, scancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer scancel()
		if l.srv.Shutdown(sctx) != nil {
			l.srv.Close()
		}
	})
	return l
}

// Route points loopID's model traffic at baseURL with key and returns what the agent
// gets instead: the in-sandbox gateway URL and the loop's placeholder key.
func (l *Link) Route(loopID, baseURL, key string) (agentURL, placeholder string, err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	ph := l.placeholders[loopID]
	if ph == "" {
		ph = gateway.NewPlaceholder()
	}
	gw, err := gateway.New(baseURL, key, ph, l.log.With("loop", loopID))
	if err != nil {
		return "", "", err
	}
	l.routes[loopID], l.placeholders[loopID] = gw, ph
	return "http://" + Addr, ph, nil
}

// Forget drops a deleted loop's route.
func (l *Link) Forget(loopID string) {
	l.mu.Lock()
	delete(l.routes, loopID)
	delete(l.placeholders, loopID)
	l.mu.Unlock()
}

// Attach links loopID's container unless its live link already serves that container
// (the loops.Options.AfterContainerStart hook, as core's loopLinks.attach).
func (l *Link) Attach(_ context.Context, conn context.Context, loopID, container string) error {
	info, err := containers.Inspect(conn, container, nil)
	if err != nil {
		return fmt.Errorf("link loop %s: %w", loopID, err)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if cur, ok := l.attached[loopID]; ok && cur.containerID == info.ID && alive(cur.sess) {
		return nil
	}
	// The link outlives the start that made it, as in the app.
	sess, err := l.hx.Attach(l.ctx, conn, loopID, container, hostexec.Policy{})
	if err != nil {
		return err
	}
	l.attached[loopID] = attachment{containerID: info.ID, sess: sess}
	return nil
}

func alive(s *link.Session) bool {
	select {
	case <-s.Done():
		return false
	default:
		return true
	}
}

func (l *Link) serveConn(loopID string, c net.Conn) {
	select {
	case l.conn <- &loopConn{Conn: c, loopID: loopID}:
	case <-l.done:
		c.Close()
	}
}

func (l *Link) serveHTTP(w http.ResponseWriter, r *http.Request) {
	loopID, _ := r.Context().Value(loopIDKey{}).(string)
	l.mu.Lock()
	gw := l.routes[loopID]
	l.mu.Unlock()
	if gw == nil {
		http.Error(w, `{"type":"error","error":{"type":"api_error","message":"test gateway: no route for this loop"}}`, http.StatusServiceUnavailable)
		return
	}
	gw.ServeHTTP(w, r)
}

// Accept, Close and Addr make the Link the listener of its own HTTP server.
func (l *Link) Accept() (net.Conn, error) {
	select {
	case c := <-l.conn:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

func (l *Link) Close() error {
	l.once.Do(func() { close(l.done) })
	return nil
}

func (l *Link) Addr() net.Addr { return addr{} }

type addr struct{}

func (addr) Network() string { return "loopat-link" }
func (addr) String() string  { return Addr }

// buildForwarder builds the static loopat-host binary into a temp dir the sandbox
// user can read (the bind mount keeps the file's mode).
func buildForwarder(t testing.TB) string {
	t.Helper()
	dir := t.TempDir()
	bin := filepath.Join(dir, "loopat-host")
	cmd := exec.Command("go", "build", "-o", bin, "github.com/loopat/desktop/cmd/loopat-host")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build loopat-host: %v\n%s", err, out)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(errors.Join(errors.New("forwarder dir"), err))
	}
	return bin
}
