// Package link is the host<->sandbox channel of one loop: a yamux session carried
// over any byte pipe (in production the stdio of a `loopat-host relay` process
// started with `podman exec`, which crosses the podman machine VM boundary on macOS
// the same way it works on Linux). Every stream starts with a one-byte service tag
// so one link carries several services (host exec, model gateway, ...).
//
// The relay (inside the sandbox) opens streams; the host accepts them. The host never
// learns a loop identity from the stream itself: it knows which container the relay
// runs in, so whatever arrives on a Session acts as that loop only.
package link

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/hashicorp/yamux"
)

// Service tags.
const (
	TagHello    byte = 'h' // relay -> host once listening: JSON Hello, then closed
	TagHostExec byte = 'x' // one host-exec call (backend/hostexec/wire)
	TagGateway  byte = 'g' // one TCP connection to the model gateway (HTTP)
	TagPromote  byte = 'p' // one `loopat-host promote` (backend/contextrepo/promotewire)
	TagPorts    byte = 'o' // relay -> host: the loop's listening TCP ports as they change (backend/ports/portwire)
	// TagForward is the one tag the host opens (host -> relay): one forwarded TCP
	// connection to a port listening inside the sandbox (backend/ports/portwire).
	TagForward byte = 'f'
)

// Hello is what the relay announces when it is ready.
type Hello struct {
	Version int    `json:"version"`
	PID     int    `json:"pid"`
	Socket  string `json:"socket"`            // host-exec unix socket inside the sandbox
	Gateway string `json:"gateway,omitempty"` // TCP address inside the sandbox, if any
}

// Limits of one link. The relay is inside the sandbox and may be replaced by the
// agent, so every stream and byte it sends is hostile input. Per-service caps with
// a clear error (host processes, gateway connections, promotes) live with the
// services (hostexec.Server); these bound the link itself so that no stream
// pattern can make the host hold more than about
// (MaxStreams+AcceptBacklog) * 256 KiB of buffered data per loop.
const (
	// MaxStreams caps the streams a link keeps at once (open, or closed by the host
	// and waiting for the relay's close). Above it the host stops accepting: new
	// streams wait in the AcceptBacklog, and beyond that yamux resets them at once.
	// It is above the sum of the per-service caps, so well-behaved use never hits it.
	MaxStreams = 64
	// AcceptBacklog is how many new streams may wait while the link is full.
	AcceptBacklog = 16
	// StreamCloseTimeout is how long a stream the host closed may wait for the
	// relay's close before yamux resets it and frees its buffer.
	StreamCloseTimeout = 30 * time.Second
	// MaxHello bounds the relay's hello message.
	MaxHello = 4 << 10
)

// tagTimeout bounds how long a new stream may take to name its service.
const tagTimeout = 10 * time.Second

// fullPoll is how often a full link checks whether streams ended.
const fullPoll = 50 * time.Millisecond

func yamuxConfig() *yamux.Config {
	c := yamux.DefaultConfig()
	c.LogOutput = nil
	c.Logger = slog.NewLogLogger(slog.Default().Handler(), slog.LevelDebug)
	c.EnableKeepAlive = true
	c.KeepAliveInterval = 15 * time.Second
	c.AcceptBacklog = AcceptBacklog
	c.StreamCloseTimeout = StreamCloseTimeout
	return c
}

// Session is the host end of a link. Handlers run one goroutine per stream.
type Session struct {
	mux *yamux.Session
	log *slog.Logger

	mu       sync.Mutex
	handlers map[byte]func(net.Conn)
	hello    *Hello
	ready    chan struct{}
	once     sync.Once
}

// Serve runs the host end over rwc until the peer goes away or Close is called.
func Serve(rwc io.ReadWriteCloser, log *slog.Logger) (*Session, error) {
	if log == nil {
		log = slog.Default()
	}
	mux, err := yamux.Server(newFrameWriter(rwc), yamuxConfig())
	if err != nil {
		return nil, fmt.Errorf("start link session: %w", err)
	}
	s := &Session{mux: mux, log: log, handlers: map[byte]func(net.Conn){}, ready: make(chan struct{})}
	go s.acceptLoop()
	return s, nil
}

// Handle routes streams tagged tag to h (replacing any previous handler).
func (s *Session) Handle(tag byte, h func(net.Conn)) {
	s.mu.Lock()
	s.handlers[tag] = h
	s.mu.Unlock()
}

// Ready is closed once the relay said Hello.
func (s *Session) Ready() <-chan struct{} { return s.ready }

// Hello returns the relay's announcement (nil before Ready).
func (s *Session) Hello() *Hello {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.hello
}

// Open starts a host-opened stream for service tag (TagForward); the relay accepts it
// with Relay.Accept. It counts towards MaxStreams like any other stream.
func (s *Session) Open(tag byte) (net.Conn, error) {
	st, err := s.mux.OpenStream()
	if err != nil {
		return nil, fmt.Errorf("open link stream: %w", err)
	}
	if _, err := st.Write([]byte{tag}); err != nil {
		st.Close()
		return nil, fmt.Errorf("open link stream: %w", err)
	}
	return st, nil
}

// Done is closed when the session ends.
func (s *Session) Done() <-chan struct{} { return s.mux.CloseChan() }

// Close ends the session and every stream on it.
func (s *Session) Close() error { return s.mux.Close() }

// NumStreams reports open streams (for tests and diagnostics).
func (s *Session) NumStreams() int { return s.mux.NumStreams() }

func (s *Session) acceptLoop() {
	for {
		if !s.waitForRoom() {
			return
		}
		st, err := s.mux.AcceptStream()
		if err != nil {
			if !s.mux.IsClosed() {
				s.log.Debug("link accept", "err", err)
			}
			return
		}
		go s.dispatch(st)
	}
}

// waitForRoom blocks while the link holds MaxStreams streams (yamux keeps the next
// AcceptBacklog waiting and resets the rest); false once the session ended.
func (s *Session) waitForRoom() bool {
	warned := false
	for s.mux.NumStreams() > MaxStreams {
		if !warned {
			s.log.Warn("link full: new streams wait or are reset", "streams", s.mux.NumStreams(), "limit", MaxStreams)
			warned = true
		}
		select {
		case <-time.After(fullPoll):
		case <-s.mux.CloseChan():
			return false
		}
	}
	return true
}

func (s *Session) dispatch(st *yamux.Stream) {
	_ = st.SetReadDeadline(time.Now().Add(tagTimeout))
	tag, err := ReadTag(st)
	if err != nil {
		s.log.Warn("link stream without service tag", "err", err)
		st.Close()
		return
	}
	if tag == TagHello {
		s.readHello(st)
		return
	}
	_ = st.SetReadDeadline(time.Time{})
	s.mu.Lock()
	h := s.handlers[tag]
	s.mu.Unlock()
	if h == nil {
		s.log.Warn("link stream for unknown service", "tag", fmt.Sprintf("%q", tag))
		st.Close()
		return
	}
	h(st)
}

// ReadTag reads the one-byte service tag that starts every stream.
func ReadTag(r io.Reader) (byte, error) {
	var tag [1]byte
	if _, err := io.ReadFull(r, tag[:]); err != nil {
		return 0, fmt.Errorf("read service tag: %w", err)
	}
	return tag[0], nil
}

// DecodeHello reads the relay's hello: one JSON object of at most MaxHello bytes
// whose strings fit in it (they only end up in log lines).
func DecodeHello(r io.Reader) (Hello, error) {
	var h Hello
	if err := json.NewDecoder(io.LimitReader(r, MaxHello)).Decode(&h); err != nil {
		return Hello{}, fmt.Errorf("decode hello: %w", err)
	}
	if h.Version != 1 {
		return Hello{}, fmt.Errorf("hello version %d, want 1", h.Version)
	}
	return h, nil
}

func (s *Session) readHello(st net.Conn) {
	defer st.Close()
	h, err := DecodeHello(st)
	if err != nil {
		s.log.Warn("link hello", "err", err)
		return
	}
	s.mu.Lock()
	s.hello = &h
	s.mu.Unlock()
	s.once.Do(func() { close(s.ready) })
}

// Listener adapts the streams of one tag to a net.Listener, so e.g.
// http.Serve(sess.Listener(link.TagGateway), handler) serves gateway connections.
func (s *Session) Listener(tag byte) net.Listener {
	l := &tagListener{sess: s, conns: make(chan net.Conn), closed: make(chan struct{})}
	s.Handle(tag, func(c net.Conn) {
		select {
		case l.conns <- c:
		case <-l.closed:
			c.Close()
		case <-s.Done():
			c.Close()
		}
	})
	return l
}

type tagListener struct {
	sess   *Session
	conns  chan net.Conn
	closed chan struct{}
	once   sync.Once
}

func (l *tagListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.closed:
		return nil, net.ErrClosed
	case <-l.sess.Done():
		return nil, net.ErrClosed
	}
}

func (l *tagListener) Close() error {
	l.once.Do(func() { close(l.closed) })
	return nil
}

func (l *tagListener) Addr() net.Addr { return l.sess.mux.Addr() }

// Relay is the sandbox end of a link: it opens one tagged stream per connection.
type Relay struct {
	mux *yamux.Session
}

// NewRelay runs the sandbox end over rwc (the relay process's stdin+stdout).
func NewRelay(rwc io.ReadWriteCloser) (*Relay, error) {
	mux, err := yamux.Client(newFrameWriter(rwc), yamuxConfig())
	if err != nil {
		return nil, fmt.Errorf("start link relay: %w", err)
	}
	return &Relay{mux: mux}, nil
}

// Open starts a stream for service tag.
func (r *Relay) Open(tag byte) (net.Conn, error) { return r.OpenWith(tag, nil) }

// OpenWith starts a stream for service tag whose first bytes are first, sent in
// the same frame as the tag (a service whose client speaks first saves a frame).
func (r *Relay) OpenWith(tag byte, first []byte) (net.Conn, error) {
	st, err := r.mux.OpenStream()
	if err != nil {
		return nil, fmt.Errorf("open link stream: %w", err)
	}
	if _, err := st.Write(append([]byte{tag}, first...)); err != nil {
		st.Close()
		return nil, fmt.Errorf("open link stream: %w", err)
	}
	return st, nil
}

// Accept waits for the next stream the host opened (Session.Open); the caller reads
// its tag with ReadTag.
func (r *Relay) Accept() (net.Conn, error) {
	st, err := r.mux.AcceptStream()
	if err != nil {
		return nil, fmt.Errorf("accept link stream: %w", err)
	}
	return st, nil
}

// SayHello announces readiness to the host.
func (r *Relay) SayHello(h Hello) error {
	c, err := r.Open(TagHello)
	if err != nil {
		return err
	}
	defer c.Close()
	return json.NewEncoder(c).Encode(h)
}

// Done is closed when the link ends (host gone).
func (r *Relay) Done() <-chan struct{} { return r.mux.CloseChan() }

// Close ends the link.
func (r *Relay) Close() error { return r.mux.Close() }

// Splice copies both ways between a and b until either side ends, then closes both.
// A read side ending half-closes the other's write side where supported so that
// in-flight replies still arrive.
func Splice(a, b net.Conn) {
	var wg sync.WaitGroup
	wg.Add(2)
	cp := func(dst, src net.Conn) {
		defer wg.Done()
		_, err := io.Copy(dst, src)
		if err == nil {
			switch d := dst.(type) {
			case interface{ CloseWrite() error }:
				_ = d.CloseWrite()
				return
			case *yamux.Stream: // yamux Close only sends FIN: reads continue
				_ = d.Close()
				return
			}
		}
		dst.Close()
		src.Close()
	}
	go cp(a, b)
	go cp(b, a)
	wg.Wait()
	a.Close()
	b.Close()
}

// Pipe bundles a reader and a writer (e.g. the two halves of an exec's stdio)
// into the io.ReadWriteCloser a Session needs. Close closes both.
type Pipe struct {
	io.Reader
	io.Writer
	Closer func() error
}

func (p Pipe) Close() error {
	if p.Closer != nil {
		return p.Closer()
	}
	return nil
}
