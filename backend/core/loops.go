package core

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/containers/podman/v5/pkg/bindings/containers"

	"github.com/loopat/desktop/backend/config"
	"github.com/loopat/desktop/backend/contextrepo"
	"github.com/loopat/desktop/backend/gateway"
	"github.com/loopat/desktop/backend/hostexec"
	"github.com/loopat/desktop/backend/images"
	"github.com/loopat/desktop/backend/link"
	"github.com/loopat/desktop/backend/loops"
	"github.com/loopat/desktop/backend/services"
	"github.com/loopat/desktop/backend/terminal"
	"github.com/loopat/desktop/backend/vault"
	"github.com/loopat/desktop/backend/workdir"
)

// GatewayAddr is where the agent finds its model inside every sandbox: the relay
// listens there and carries each connection over the loop's link to the host gateway.
const GatewayAddr = "127.0.0.1:4141"

// tagPromote is the link tag of `loopat-host promote` (cmd/loopat-host TagPromote).
const tagPromote byte = 'p'

// PromoteCommand is how the agent promotes its context from inside the sandbox.
const PromoteCommand = "loopat-host promote"

// agentInstructions tell the agent about its context mounts and how to promote.
var agentInstructions = strings.ReplaceAll(contextrepo.AgentInstructions, contextrepo.PromoteCommand, PromoteCommand)

// loopMiseToml is a loop's own toolchain file (LOOPAT_HOME/loops/<id>/mise.toml); its
// [host].clis table opts the loop into host-exec.
func (c *Core) loopMiseToml(id string) ([]byte, error) {
	data, err := os.ReadFile(filepath.Join(c.Workspace.LoopsDir(), id, "mise.toml"))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	return data, err
}

// openLoops builds the loop manager, the host link (gateway, host exec, promote) and
// the loop-facing services.
func (c *Core) openLoops() ([]any, error) {
	c.HostExec = hostexec.NewServer(c.Workspace, c.Bus)
	c.HostExec.SetScrubber(c.Scrub.String)
	c.HostExec.GatewayAddr = GatewayAddr
	gw := newModelGateway(c.Log)
	c.closers = append(c.closers, gw.Shutdown)
	// Per-loop caps (hostexec.Max*): past them the sandbox gets the service's own error at once.
	c.HostExec.HandleTag(link.TagGateway, hostexec.TagHandler{Name: "open model gateway connections",
		Serve: gw.ServeConn, Max: hostexec.MaxGatewayConns, Refuse: refuseGateway})
	c.HostExec.HandleTag(tagPromote, hostexec.TagHandler{Name: "promote running",
		Serve: c.servePromote, Max: hostexec.MaxPromotes, Refuse: refusePromote})
	links := &loopLinks{c: c, current: map[string]loopLink{}}
	c.links = links // core.applyConfig refreshes their host-exec policies

	lm, err := loops.NewManager(loops.Options{
		Workspace: c.Workspace,
		Config:    c.System.CurrentConfig,
		Conn:      c.Engine,
		Images: loops.ImageFunc(func(ctx, conn context.Context, m loops.Meta) (string, string, error) {
			toml, err := c.loopMiseToml(m.ID)
			if err != nil {
				return "", "", fmt.Errorf("read the loop's mise.toml: %w", err)
			}
			return c.Images.EnsureLoopImage(ctx, conn, toml, nil)
		}),
		Secrets:             c.Vault,
		HostCredentials:     c.remoteCredentials,
		Events:              c.Bus,
		Log:                 c.Log,
		PartialMessages:     true,
		Gateway:             gw,
		Scrub:               c.Scrub,
		Context:             c.loopContext,
		AfterContainerStart: links.attach,
	})
	if err != nil {
		return nil, fmt.Errorf("open loops: %w", err)
	}
	c.Loops = lm
	c.closers = append(c.closers, func() error { lm.Close(); return nil })
	tm := terminal.NewManager(terminal.ManagerRunner{M: lm}, c.Bus, c.Log)
	return []any{
		services.NewLoopService(lm, c.HostExec),
		services.NewTerminalService(c.ctx, tm),
		services.NewWorkdirService(lm, workdir.Author{}),
	}, nil
}

// startLoops reconciles loop containers once the engine is ready (running ones are
// linked again by the manager).
func (c *Core) startLoops() {
	go func() {
		if _, err := c.Engine.WaitReady(c.ctx); err != nil {
			return
		}
		if err := c.Loops.Start(c.ctx); err != nil {
			c.Log.Warn("loop start-up reconcile", "err", err)
		}
	}()
}

// remoteCredentials are the context remotes' token and SSH key: the host pushes and
// pulls with them, a sandbox never gets them (a loop would push past review).
func (c *Core) remoteCredentials() ([]vault.HostCredential, error) {
	remotes, err := c.Context.Remotes()
	if err != nil {
		return nil, err
	}
	var out []vault.HostCredential
	for _, r := range remotes {
		out = append(out, vault.HostCredential{Vault: r.Vault, Env: r.TokenEnv, File: r.SSHKeyFile})
	}
	return out, nil
}

// loopContext is the pull edge: the loop's clones of knowledge (read-only), notes and
// personal, with the agent's memory in personal and instructions on how to promote.
func (c *Core) loopContext(ctx context.Context, loopID string) (loops.LoopContext, error) {
	ms, warnings, err := c.Context.PrepareLoopWarnings(ctx, loopID, false)
	if err != nil {
		return loops.LoopContext{}, err
	}
	lc := loops.LoopContext{
		Warnings:     warnings,
		Instructions: agentInstructions,
		Settings:     map[string]any{"autoMemoryDirectory": contextrepo.MemoryDir},
	}
	for _, m := range ms {
		lc.Mounts = append(lc.Mounts, loops.Mount(m))
	}
	return lc, nil
}

// promoteReply is the answer on a promote stream (cmd/loopat-host PromoteReply).
type promoteReply struct {
	Summary  string `json:"summary"`
	Error    string `json:"error,omitempty"`
	Conflict bool   `json:"conflict,omitempty"`
	Failed   bool   `json:"failed,omitempty"`
}

// refusePromote answers a promote stream past the loop's cap (one at a time).
func refusePromote(conn net.Conn, reason string) {
	_ = json.NewEncoder(conn).Encode(promoteReply{Error: reason})
}

// servePromote runs Promote for the loop whose link carried the stream.
func (c *Core) servePromote(loopID string, conn net.Conn) {
	defer conn.Close()
	ctx, cancel := context.WithTimeout(c.ctx, 5*time.Minute)
	defer cancel()
	res, err := c.Context.Promote(ctx, loopID)
	rep := promoteReply{Summary: res.Summary(), Conflict: res.Conflicts()}
	for _, r := range res.Repos {
		c.Bus.Publish("context:changed", map[string]string{"repo": r.Repo})
		rep.Failed = rep.Failed || r.Status == contextrepo.Failed
	}
	if err != nil {
		rep.Error = c.Scrub.String(err.Error())
	}
	c.Log.Info("promote from the sandbox", "loop", loopID, "summary", strings.TrimSpace(rep.Summary), "err", rep.Error)
	if err := json.NewEncoder(conn).Encode(rep); err != nil {
		c.Log.Warn("promote reply", "loop", loopID, "err", err)
	}
}

// loopLinks keeps one host link per running loop container: attached when the agent
// starts or the app finds the container running, attached again when the link ends
// while the container still runs.
type loopLinks struct {
	c       *Core
	mu      sync.Mutex // serialises attaches
	current map[string]loopLink
}

type loopLink struct {
	sess        *link.Session
	containerID string
}

func alive(s *link.Session) bool {
	select {
	case <-s.Done():
		return false
	default:
		return true
	}
}

// attach links loopID's container unless its live link already serves that very
// container; the host-exec policy is refreshed either way.
func (l *loopLinks) attach(_ context.Context, conn context.Context, loopID, container string) error {
	c := l.c
	policy := hostexec.Policy{}
	toml, err := c.loopMiseToml(loopID)
	if err == nil {
		var clis []string
		if clis, err = images.ParseHostCLIs(toml); err == nil {
			policy = hostexec.PolicyFor(c.System.CurrentConfig().HostExec, clis)
		}
	}
	if err != nil {
		// The link is still needed for the model gateway; host exec stays off.
		c.Log.Warn("loop mise.toml unreadable: host exec disabled for this loop", "loop", loopID, "err", err)
	}
	info, err := containers.Inspect(conn, container, nil)
	if err != nil {
		return fmt.Errorf("link loop %s: %w", loopID, err)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if cur, ok := l.current[loopID]; ok && cur.containerID == info.ID && alive(cur.sess) {
		c.HostExec.SetPolicy(loopID, policy)
		return nil
	}
	// The link lives as long as the app, not the request that started the container.
	sess, err := c.HostExec.Attach(c.ctx, conn, loopID, container, policy)
	if err != nil {
		return err
	}
	l.current[loopID] = loopLink{sess: sess, containerID: info.ID}
	go l.watch(loopID, container, sess)
	return nil
}

// watch re-attaches when sess ends (relay killed, exec session lost) while the
// container still runs; a stopped or recreated container ends it.
func (l *loopLinks) watch(loopID, container string, sess *link.Session) {
	c := l.c
	select {
	case <-sess.Done():
	case <-c.ctx.Done():
		return
	}
	delay := 500 * time.Millisecond
	for attempt := 0; attempt < 6; attempt++ {
		select {
		case <-time.After(delay):
		case <-c.ctx.Done():
			return
		}
		delay *= 2
		l.mu.Lock()
		cur := l.current[loopID]
		l.mu.Unlock()
		if cur.sess != sess {
			return // replaced by a newer link
		}
		// A fresh connection: the one the link was made with may belong to a finished request.
		conn, err := c.Engine.Conn(c.ctx)
		if err != nil {
			c.Log.Warn("re-attach host link: engine not available", "loop", loopID, "attempt", attempt+1, "err", err)
			continue
		}
		info, err := containers.Inspect(conn, container, nil)
		if err != nil || info.State == nil || !info.State.Running || info.ID != cur.containerID {
			l.mu.Lock()
			if l.current[loopID].sess == sess {
				delete(l.current, loopID)
			}
			l.mu.Unlock()
			return // stopped or recreated: the next start links it
		}
		ctx, cancel := context.WithTimeout(c.ctx, time.Minute)
		err = l.attach(ctx, conn, loopID, container)
		cancel()
		if err == nil {
			c.Log.Info("host link re-attached", "loop", loopID)
			return
		}
		c.Log.Warn("re-attach host link", "loop", loopID, "attempt", attempt+1, "err", err)
	}
}

// modelGateway serves every loop's model traffic arriving over the links: one HTTP
// server whose connections carry their loop, routed to that loop's gateway.Gateway
// (provider URL, real key, the placeholder its agent holds).
type modelGateway struct {
	log    *slog.Logger
	mu     sync.Mutex
	routes map[string]*gateway.Gateway
	// placeholders stay the same for a loop across routes: the agent and terminals
	// opened earlier keep working when another exec routes the loop again.
	placeholders map[string]string
	conns        chan net.Conn
	done         chan struct{}
	once         sync.Once
	srv          *http.Server
}

type loopIDKey struct{}

// loopConn is a gateway stream and the loop its link belongs to.
type loopConn struct {
	net.Conn
	loopID string
}

func newModelGateway(log *slog.Logger) *modelGateway {
	g := &modelGateway{log: log.With("component", "gateway"), routes: map[string]*gateway.Gateway{},
		placeholders: map[string]string{}, conns: make(chan net.Conn), done: make(chan struct{})}
	g.srv = &http.Server{
		Handler: g, ReadHeaderTimeout: 30 * time.Second, IdleTimeout: 5 * time.Minute,
		ErrorLog: slog.NewLogLogger(g.log.Handler(), slog.LevelWarn),
		ConnContext: func(ctx context.Context, c net.Conn) context.Context {
			if lc, ok := c.(*loopConn); ok {
				return context.WithValue(ctx, loopIDKey{}, lc.loopID)
			}
			return ctx
		},
	}
	go func() {
		if err := g.srv.Serve(g); err != nil && !errors.Is(err, http.ErrServerClosed) && !errors.Is(err, net.ErrClosed) {
			g.log.Error("model gateway stopped", "err", err)
		}
	}()
	return g
}

// Route points loopID's gateway at p with the real key; the loop keeps its placeholder.
func (g *modelGateway) Route(loopID string, p config.Provider, key string) (loops.ModelRoute, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	ph := g.placeholders[loopID]
	if ph == "" {
		ph = gateway.NewPlaceholder()
	}
	gw, err := gateway.New(p.BaseURL, key, ph, g.log.With("loop", loopID))
	if err != nil {
		return loops.ModelRoute{}, err
	}
	g.routes[loopID] = gw
	g.placeholders[loopID] = ph
	return loops.ModelRoute{BaseURL: "http://" + GatewayAddr, APIKey: ph}, nil
}

// Forget drops a deleted loop's route.
func (g *modelGateway) Forget(loopID string) {
	g.mu.Lock()
	delete(g.routes, loopID)
	delete(g.placeholders, loopID)
	g.mu.Unlock()
}

// refuseGateway answers a gateway connection past the loop's cap with an
// Anthropic-style 503 the agent reports (and retries), without reading the request.
func refuseGateway(conn net.Conn, reason string) {
	body, _ := json.Marshal(map[string]any{"type": "error", "error": map[string]string{
		"type": "overloaded_error", "message": "loopat gateway: " + reason}})
	fmt.Fprintf(conn, "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nConnection: close\r\nRetry-After: 1\r\nContent-Length: %d\r\n\r\n%s", len(body), body)
}

// ServeConn takes one gateway stream of loopID's link (hostexec.Server.HandleTag).
func (g *modelGateway) ServeConn(loopID string, c net.Conn) {
	select {
	case g.conns <- &loopConn{Conn: c, loopID: loopID}:
	case <-g.done:
		c.Close()
	}
}

func (g *modelGateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	loopID, _ := r.Context().Value(loopIDKey{}).(string)
	g.mu.Lock()
	gw := g.routes[loopID]
	g.mu.Unlock()
	if gw == nil {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = w.Write([]byte(`{"type":"error","error":{"type":"api_error","message":"loopat gateway: this loop has no model route yet; send the message again from the app"}}`))
		return
	}
	gw.ServeHTTP(w, r)
}

// Accept, Close and Addr make modelGateway the listener of its own server.
func (g *modelGateway) Accept() (net.Conn, error) {
	select {
	case c := <-g.conns:
		return c, nil
	case <-g.done:
		return nil, net.ErrClosed
	}
}

// Close stops accepting streams (http.Server.Shutdown calls it too).
func (g *modelGateway) Close() error {
	g.once.Do(func() { close(g.done) })
	return nil
}

// Shutdown ends the server and its connections (app close).
func (g *modelGateway) Shutdown() error {
	g.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := g.srv.Shutdown(ctx); err != nil {
		return g.srv.Close()
	}
	return nil
}

func (g *modelGateway) Addr() net.Addr { return gatewayNetAddr{} }

type gatewayNetAddr struct{}

func (gatewayNetAddr) Network() string { return "link" }
func (gatewayNetAddr) String() string  { return GatewayAddr }
