// Package ports forwards the TCP ports a loop's processes listen on to 127.0.0.1 on
// the host, over the loop's link (like `kubectl port-forward`): no podman port
// publishing, so it works rootful, rootless and through the macOS podman VM.
//
// The relay inside the sandbox reports the listening set (link.TagPorts); that report
// is hostile input, validated by portwire and bounded here: it only ever changes the
// forwards of the loop whose link carried it, at most portwire.MaxPorts of them, each
// a listener on the host's loopback. A forwarded connection is a host-opened
// link.TagForward stream, at most MaxConns per loop at once.
package ports

import (
	"fmt"
	"log/slog"
	"net"
	"regexp"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/loopat/desktop/backend/config"
	"github.com/loopat/desktop/backend/link"
	"github.com/loopat/desktop/backend/ports/portwire"
)

const (
	// MaxConns is how many forwarded connections one loop carries at once; past it a
	// new connection is closed at once.
	MaxConns = 16
	// MaxStreams is how many port-report streams one loop may hold (an old link's
	// stream may linger while the new relay opens its own).
	MaxStreams = 2
	// minApply spaces the updates a loop's relay can make the host act on.
	minApply = 200 * time.Millisecond
	// statusTimeout bounds the relay's answer to a forward.
	statusTimeout = 10 * time.Second
)

var loopIDPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$`)

// Forward is one port of a loop as the UI shows it.
type Forward struct {
	ContainerPort int    `json:"containerPort"`
	HostPort      int    `json:"hostPort"`          // 0: not forwarded
	URL           string `json:"url"`               // http://127.0.0.1:<hostPort>/ when forwarded
	Process       string `json:"process,omitempty"` // process name inside the sandbox, if known
	Detected      bool   `json:"detected"`          // something listens on it in the sandbox now
	Network       bool   `json:"network"`           // the user shared it on the network: bound on 0.0.0.0, not only loopback
	Error         string `json:"error,omitempty"`   // why it is not forwarded
}

// Options wire a Manager.
type Options struct {
	LoopsDir string                                // LOOPAT_HOME/loops: mappings persist in <id>/ports.json
	Config   func() config.Ports                   // the settings in force
	Open     func(loopID string) (net.Conn, error) // a link.TagForward stream to loopID's relay
	Changed  func(loopID string, ports []Forward)  // the loop's ports changed (event)
	Log      *slog.Logger
	// Free reports a host port as free (default HostPortFree); tests replace it.
	Free func(port int) bool
}

// Manager keeps every loop's forwards.
type Manager struct {
	o      Options
	mu     sync.Mutex
	loops  map[string]*loopPorts
	shares map[string]*shareState // static shares (share.go)
}

type loopPorts struct {
	gen      int
	stream   net.Conn       // the report stream in force; a newer one closes it
	detected map[int]string // container port -> process
	fwd      map[int]*forward
	errs     map[int]string
	mapping  map[int]mapping
	loaded   bool
	conns    int
}

type forward struct {
	host    int
	network bool // bound on 0.0.0.0 (the user's per-port choice), else 127.0.0.1
	ln      net.Listener
}

// New returns a manager.
func New(o Options) *Manager {
	if o.Log == nil {
		o.Log = slog.Default()
	}
	if o.Free == nil {
		o.Free = HostPortFree
	}
	if o.Config == nil {
		o.Config = func() config.Ports { return config.Default().Ports }
	}
	return &Manager{o: o, loops: map[string]*loopPorts{}}
}

func (m *Manager) loop(id string) *loopPorts {
	lp := m.loops[id]
	if lp == nil {
		lp = &loopPorts{detected: map[int]string{}, fwd: map[int]*forward{}, errs: map[int]string{}, mapping: map[int]mapping{}}
		m.loops[id] = lp
	}
	if !lp.loaded {
		lp.loaded = true
		ms, err := load(m.o.LoopsDir, id)
		if err != nil {
			m.o.Log.Warn("port mappings", "loop", id, "err", err)
		}
		lp.mapping = ms
	}
	return lp
}

// ServeConn reads loopID's port reports from one link.TagPorts stream until it ends;
// then the loop's detected set is empty again (unless a newer stream took over).
func (m *Manager) ServeConn(loopID string, c net.Conn) {
	defer c.Close()
	if !loopIDPattern.MatchString(loopID) {
		return
	}
	m.mu.Lock()
	lp := m.loop(loopID)
	lp.gen++
	gen := lp.gen
	old := lp.stream
	lp.stream = c
	m.mu.Unlock()
	if old != nil {
		old.Close() // the newest report stream wins; the old one frees its slot
	}
	br := portwire.NewReader(c)
	for {
		u, truncated, err := portwire.ReadUpdate(br)
		if err != nil {
			m.o.Log.Debug("port reports ended", "loop", loopID, "err", err)
			break
		}
		if truncated {
			m.o.Log.Warn("port report had invalid or too many entries; kept the first valid ones", "loop", loopID, "kept", len(u.Ports))
		}
		if !m.apply(loopID, gen, u.Ports) {
			return
		}
		time.Sleep(minApply)
	}
	m.apply(loopID, gen, nil)
}

// Refuse closes a port-report stream past the loop's cap.
func (m *Manager) Refuse(c net.Conn, _ string) { c.Close() }

// apply makes loopID's forwards follow the detected set; false if a newer stream owns it.
func (m *Manager) apply(loopID string, gen int, ports []portwire.Port) bool {
	m.mu.Lock()
	lp := m.loop(loopID)
	if lp.gen != gen {
		m.mu.Unlock()
		return false
	}
	lp.detected = map[int]string{}
	for _, p := range ports {
		lp.detected[p.Port] = p.Process
	}
	changed := m.sync(loopID, lp)
	list := m.list(lp)
	m.mu.Unlock()
	if changed && m.o.Changed != nil {
		m.o.Changed(loopID, list)
	}
	return true
}

// sync opens and closes listeners (m.mu held); true if anything the UI shows changed.
// It reads the settings in force each time, so a changed auto_forward applies at once.
func (m *Manager) sync(loopID string, lp *loopPorts) bool {
	auto := m.o.Config().AutoForward
	changed := false
	want := map[int]bool{}
	for cp := range lp.detected {
		if auto && !lp.mapping[cp].Stopped {
			want[cp] = true
		}
	}
	for cp, mp := range lp.mapping {
		if mp.Pinned && !mp.Stopped {
			want[cp] = true
		}
	}
	for cp, f := range lp.fwd {
		mp := lp.mapping[cp]
		// A changed exposure closes the listener; it is opened again below on the new address.
		if !want[cp] || f.network != mp.Network {
			f.ln.Close()
			delete(lp.fwd, cp)
			changed = true
		}
		if !want[cp] && mp.Network {
			mp.Network = false
			lp.mapping[cp] = mp
		}
	}
	for cp := range lp.errs {
		if !want[cp] {
			delete(lp.errs, cp)
		}
	}
	persist := false
	for cp := range want {
		if lp.fwd[cp] != nil {
			continue
		}
		changed = true
		f, err := m.listen(loopID, lp, cp)
		if err != nil {
			lp.errs[cp] = err.Error()
			continue
		}
		delete(lp.errs, cp)
		lp.fwd[cp] = f
		if mp := lp.mapping[cp]; mp.Host != f.host {
			mp.Container, mp.Host = cp, f.host
			lp.mapping[cp] = mp
			persist = true
		}
	}
	if len(lp.detected) > 0 || len(lp.fwd) > 0 {
		changed = true // process names and detection are shown too
	}
	if persist {
		if err := save(m.o.LoopsDir, loopID, lp.mapping); err != nil {
			m.o.Log.Warn("save port mappings", "loop", loopID, "err", err)
		}
	}
	return changed
}

// listen picks loopID's host port for cp and listens on 127.0.0.1, or on 0.0.0.0 when
// the user shared that port on the network (mapping.Network, never set by a report).
func (m *Manager) listen(loopID string, lp *loopPorts, cp int) (*forward, error) {
	lo, hi, err := config.ParsePortRange(m.o.Config().Range)
	if err != nil {
		lo, hi, _ = config.ParsePortRange(config.Default().Ports.Range)
	}
	usable := func(p int) bool { return !m.heldByUs(p) && m.o.Free(p) }
	for try := 0; try < 3; try++ {
		host, err := Pick(loopID, cp, lp.mapping[cp].Host, lo, hi, usable)
		if err != nil {
			return nil, err
		}
		network := lp.mapping[cp].Network
		bind := "127.0.0.1"
		if network {
			bind = "0.0.0.0"
		}
		ln, err := net.Listen("tcp4", net.JoinHostPort(bind, strconv.Itoa(host)))
		if err != nil {
			mp := lp.mapping[cp]
			mp.Host = 0 // taken since the check: pick again (the user's choices stay)
			lp.mapping[cp] = mp
			continue
		}
		f := &forward{host: host, network: network, ln: ln}
		go m.accept(loopID, cp, ln)
		m.o.Log.Info("port forwarded", "loop", loopID, "container_port", cp, "host", ln.Addr().String())
		return f, nil
	}
	return nil, fmt.Errorf("could not listen for container port %d", cp)
}

// heldByUs: another forward of any loop already has host port p (m.mu held).
func (m *Manager) heldByUs(p int) bool {
	for _, lp := range m.loops {
		for _, f := range lp.fwd {
			if f.host == p {
				return true
			}
		}
	}
	return false
}

func (m *Manager) accept(loopID string, cp int, ln net.Listener) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		if !m.acquire(loopID) {
			m.o.Log.Warn("forwarded connection refused: too many at once", "loop", loopID, "limit", MaxConns)
			c.Close()
			continue
		}
		go func() {
			defer m.release(loopID)
			if err := m.pipe(loopID, cp, c); err != nil {
				m.o.Log.Debug("forwarded connection", "loop", loopID, "container_port", cp, "err", err)
			}
		}()
	}
}

func (m *Manager) acquire(loopID string) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	lp := m.loops[loopID]
	if lp == nil || lp.conns >= MaxConns {
		return false
	}
	lp.conns++
	return true
}

func (m *Manager) release(loopID string) {
	m.mu.Lock()
	if lp := m.loops[loopID]; lp != nil && lp.conns > 0 {
		lp.conns--
	}
	m.mu.Unlock()
}

// pipe carries one host connection to cp inside loopID's sandbox.
func (m *Manager) pipe(loopID string, cp int, c net.Conn) error {
	st, err := m.o.Open(loopID)
	if err != nil {
		c.Close()
		return err
	}
	fail := func(err error) error { st.Close(); c.Close(); return err }
	if err := portwire.WritePort(st, cp); err != nil {
		return fail(err)
	}
	_ = st.SetReadDeadline(time.Now().Add(statusTimeout))
	var status [1]byte
	if _, err := st.Read(status[:]); err != nil {
		return fail(fmt.Errorf("relay answer: %w", err))
	}
	if status[0] != portwire.StatusOK {
		return fail(fmt.Errorf("relay refused port %d (status %d)", cp, status[0]))
	}
	_ = st.SetReadDeadline(time.Time{})
	link.Splice(newHostGuard(c, func(host string) {
		m.o.Log.Warn("forwarded request refused: its Host is not this machine's (DNS rebinding?)", "loop", loopID, "container_port", cp, "host", host)
	}), st)
	return nil
}

// list is the UI view of lp (m.mu held), by container port.
func (m *Manager) list(lp *loopPorts) []Forward {
	seen := map[int]bool{}
	out := []Forward{}
	add := func(cp int) {
		if seen[cp] {
			return
		}
		seen[cp] = true
		proc, det := lp.detected[cp]
		f := Forward{ContainerPort: cp, Process: proc, Detected: det, Error: lp.errs[cp]}
		if fw := lp.fwd[cp]; fw != nil {
			f.HostPort, f.Network = fw.host, fw.network
			f.URL = "http://127.0.0.1:" + strconv.Itoa(fw.host) + "/"
		}
		out = append(out, f)
	}
	for cp := range lp.detected {
		add(cp)
	}
	for cp := range lp.fwd {
		add(cp)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ContainerPort < out[j].ContainerPort })
	return out
}

// Ports lists loopID's detected and forwarded ports.
func (m *Manager) Ports(loopID string) ([]Forward, error) {
	if !loopIDPattern.MatchString(loopID) {
		return nil, fmt.Errorf("invalid loop id %q", loopID)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	lp := m.loops[loopID]
	if lp == nil {
		return []Forward{}, nil
	}
	return m.list(lp), nil
}

// Forward forwards container port cp of loopID (detected or not) until stopped.
func (m *Manager) Forward(loopID string, cp int) ([]Forward, error) {
	return m.setUser(loopID, cp, false)
}

// Stop stops forwarding cp of loopID; it is not auto-forwarded again until Forward.
func (m *Manager) Stop(loopID string, cp int) ([]Forward, error) {
	return m.setUser(loopID, cp, true)
}

func (m *Manager) setUser(loopID string, cp int, stop bool) ([]Forward, error) {
	if !loopIDPattern.MatchString(loopID) {
		return nil, fmt.Errorf("invalid loop id %q", loopID)
	}
	if cp < 1 || cp > 65535 {
		return nil, fmt.Errorf("port %d is not between 1 and 65535", cp)
	}
	m.mu.Lock()
	lp := m.loop(loopID)
	mp := lp.mapping[cp]
	if mp.Host == 0 && len(lp.mapping) >= maxMappings {
		m.mu.Unlock()
		return nil, fmt.Errorf("loop %s already remembers %d ports", loopID, maxMappings)
	}
	mp.Container, mp.Stopped, mp.Pinned = cp, stop, !stop
	if mp.Host == 0 {
		mp.Host = cp // placeholder until listen picks; only used if free
	}
	lp.mapping[cp] = mp
	m.sync(loopID, lp)
	if err := save(m.o.LoopsDir, loopID, lp.mapping); err != nil {
		m.o.Log.Warn("save port mappings", "loop", loopID, "err", err)
	}
	list := m.list(lp)
	errMsg := lp.errs[cp]
	m.mu.Unlock()
	if m.o.Changed != nil {
		m.o.Changed(loopID, list)
	}
	if !stop && errMsg != "" {
		return list, fmt.Errorf("forward port %d: %s", cp, errMsg)
	}
	return list, nil
}

// ShareOnNetwork binds cp's forward on 0.0.0.0 (on) so other machines of the network
// reach it, or back on 127.0.0.1 only (off). Only the user calls it (LoopService): a
// loop's report never changes an exposure. The port must be forwarded already.
func (m *Manager) ShareOnNetwork(loopID string, cp int, on bool) ([]Forward, error) {
	if !loopIDPattern.MatchString(loopID) {
		return nil, fmt.Errorf("invalid loop id %q", loopID)
	}
	m.mu.Lock()
	lp := m.loop(loopID)
	if lp.fwd[cp] == nil {
		m.mu.Unlock()
		return nil, fmt.Errorf("port %d is not forwarded", cp)
	}
	mp := lp.mapping[cp]
	mp.Container, mp.Network = cp, on
	if mp.Host == 0 {
		mp.Host = lp.fwd[cp].host
	}
	lp.mapping[cp] = mp
	m.sync(loopID, lp)
	if err := save(m.o.LoopsDir, loopID, lp.mapping); err != nil {
		m.o.Log.Warn("save port mappings", "loop", loopID, "err", err)
	}
	list := m.list(lp)
	errMsg := lp.errs[cp]
	m.mu.Unlock()
	m.o.Log.Info("port exposure changed", "loop", loopID, "container_port", cp, "network", on)
	if m.o.Changed != nil {
		m.o.Changed(loopID, list)
	}
	if errMsg != "" {
		return list, fmt.Errorf("forward port %d: %s", cp, errMsg)
	}
	return list, nil
}

// Reconfigure applies changed settings ([ports] auto_forward) to every loop now,
// without waiting for a loop's next report.
func (m *Manager) Reconfigure() {
	type change struct {
		id   string
		list []Forward
	}
	var changes []change
	m.mu.Lock()
	for id, lp := range m.loops {
		if m.sync(id, lp) {
			changes = append(changes, change{id, m.list(lp)})
		}
	}
	m.mu.Unlock()
	if m.o.Changed != nil {
		for _, c := range changes {
			m.o.Changed(c.id, c.list)
		}
	}
}

// Close stops every forward and share.
func (m *Manager) Close() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for id, st := range m.shares {
		_ = st.stop()
		delete(m.shares, id)
	}
	for _, lp := range m.loops {
		for cp, f := range lp.fwd {
			f.ln.Close()
			delete(lp.fwd, cp)
		}
	}
	return nil
}
