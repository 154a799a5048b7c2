package hostexec

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"sort"
	"sync"
	"time"

	"github.com/containers/podman/v5/pkg/bindings/containers"

	"github.com/loopat/desktop/backend/link"
)

// LinkService is a link service served by another package (the model gateway, promote):
// Serve takes one stream of the loop whose link carried it, Refuse answers a stream past
// the loop's cap in the service's own terms.
type LinkService interface {
	ServeConn(loopID string, c net.Conn)
	Refuse(c net.Conn, reason string)
}

// HandleGateway makes every link attached from now on carry the model gateway: the relay
// listens on addr inside the sandbox and each connection reaches gw as a link.TagGateway
// stream of that loop, at most MaxGatewayConns at once.
func (s *Server) HandleGateway(addr string, gw LinkService) {
	s.GatewayAddr = addr
	s.HandleTag(link.TagGateway, TagHandler{Name: "open model gateway connections",
		Serve: gw.ServeConn, Max: MaxGatewayConns, Refuse: gw.Refuse})
}

// HandlePromote serves `loopat-host promote` streams (link.TagPromote) with p, one at a
// time per loop (MaxPromotes).
func (s *Server) HandlePromote(p LinkService) {
	s.HandleTag(link.TagPromote, TagHandler{Name: "promote running",
		Serve: p.ServeConn, Max: MaxPromotes, Refuse: p.Refuse})
}

// LinksOptions configure a Links supervisor.
type LinksOptions struct {
	// Server serves the links' streams.
	Server *Server
	// Policy is a loop's host-exec policy, asked at every attach and RefreshPolicies.
	Policy func(loopID string) Policy
	// Conn returns a fresh engine connection for a re-attach (the one a link was made
	// with may belong to a finished request). Nil: re-attach with that one.
	Conn func(ctx context.Context) (context.Context, error)
	Log  *slog.Logger
	// ReattachDelay is the first wait before a re-attach (doubling, 6 tries); default 500ms.
	ReattachDelay time.Duration
}

// Links keeps one host link per running loop container: attached when the agent starts
// or the app finds the container running (Attach, the loops.Options.AfterContainerStart
// hook), attached again when the link ends while the container still runs. Links live
// as long as ctx (the app), not the request that started the container.
type Links struct {
	ctx context.Context
	o   LinksOptions

	mu      sync.Mutex // guards current and attaching, never held across podman calls
	current map[string]linked
	// attaching serialises the attaches of one loop; different loops attach in parallel
	// (an attach waits for the relay's exec and hello: holding one lock for all loops
	// made 8 loops started at once link one after another).
	attaching map[string]*sync.Mutex
}

type linked struct {
	sess        *link.Session
	containerID string
}

// NewLinks returns a supervisor whose links and watchers end with ctx.
func NewLinks(ctx context.Context, o LinksOptions) *Links {
	if o.Log == nil {
		o.Log = slog.Default()
	}
	if o.Policy == nil {
		o.Policy = func(string) Policy { return Policy{} }
	}
	if o.ReattachDelay <= 0 {
		o.ReattachDelay = 500 * time.Millisecond
	}
	return &Links{ctx: ctx, o: o, current: map[string]linked{}, attaching: map[string]*sync.Mutex{}}
}

func alive(s *link.Session) bool {
	if s == nil {
		return false
	}
	select {
	case <-s.Done():
		return false
	default:
		return true
	}
}

// Attach links loopID's container unless its live link already serves that very
// container; the host-exec policy is refreshed either way. The loop is the caller's
// (the container it started), never anything the relay says.
func (l *Links) Attach(_ context.Context, conn context.Context, loopID, container string) error {
	policy := l.o.Policy(loopID)
	info, err := containers.Inspect(conn, container, nil)
	if err != nil {
		return fmt.Errorf("link loop %s: %w", loopID, err)
	}
	loopMu := l.loopLock(loopID)
	loopMu.Lock()
	defer loopMu.Unlock()
	l.mu.Lock()
	cur, ok := l.current[loopID]
	l.mu.Unlock()
	if ok && cur.containerID == info.ID && alive(cur.sess) {
		l.o.Server.SetPolicy(loopID, policy)
		return nil
	}
	sess, err := l.o.Server.Attach(l.ctx, conn, loopID, container, policy)
	if err != nil {
		return err
	}
	l.mu.Lock()
	l.current[loopID] = linked{sess: sess, containerID: info.ID}
	l.mu.Unlock()
	go l.watch(conn, loopID, container, sess)
	return nil
}

// loopLock is loopID's attach lock.
func (l *Links) loopLock(loopID string) *sync.Mutex {
	l.mu.Lock()
	defer l.mu.Unlock()
	m := l.attaching[loopID]
	if m == nil {
		m = &sync.Mutex{}
		l.attaching[loopID] = m
	}
	return m
}

// Linked lists the loops that have a link, sorted.
func (l *Links) Linked() []string {
	l.mu.Lock()
	ids := make([]string, 0, len(l.current))
	for id := range l.current {
		ids = append(ids, id)
	}
	l.mu.Unlock()
	sort.Strings(ids)
	return ids
}

// RefreshPolicies gives every linked loop the policy Policy computes now (after a
// settings change); calls already running keep theirs.
func (l *Links) RefreshPolicies() {
	for _, id := range l.Linked() {
		l.o.Server.SetPolicy(id, l.o.Policy(id))
	}
}

// watch re-attaches when sess ends (relay killed, exec session lost) while the
// container still runs; a stopped or recreated container ends it.
func (l *Links) watch(conn context.Context, loopID, container string, sess *link.Session) {
	select {
	case <-sess.Done():
	case <-l.ctx.Done():
		return
	}
	delay := l.o.ReattachDelay
	for attempt := 0; attempt < 6; attempt++ {
		select {
		case <-time.After(delay):
		case <-l.ctx.Done():
			return
		}
		delay *= 2
		l.mu.Lock()
		cur := l.current[loopID]
		l.mu.Unlock()
		if cur.sess != sess {
			return // replaced by a newer link
		}
		c := conn
		if l.o.Conn != nil {
			var err error
			if c, err = l.o.Conn(l.ctx); err != nil {
				l.o.Log.Warn("re-attach host link: engine not available", "loop", loopID, "attempt", attempt+1, "err", err)
				continue
			}
		}
		info, err := containers.Inspect(c, container, nil)
		if err != nil || info.State == nil || !info.State.Running || info.ID != cur.containerID {
			l.mu.Lock()
			if l.current[loopID].sess == sess {
				delete(l.current, loopID)
			}
			l.mu.Unlock()
			return // stopped or recreated: the next start links it
		}
		ctx, cancel := context.WithTimeout(l.ctx, time.Minute)
		err = l.Attach(ctx, c, loopID, container)
		cancel()
		if err == nil {
			l.o.Log.Info("host link re-attached", "loop", loopID)
			return
		}
		l.o.Log.Warn("re-attach host link", "loop", loopID, "attempt", attempt+1, "err", err)
	}
}
