package hostexec

import (
	"fmt"
	"net"
	"sync"
	"time"
)

// Per-loop caps on what a loop may run at once over its link. The loop is
// untrusted; past a cap a new stream is refused at once, with an error the
// sandbox side shows, never queued. They count across the loop's links (an old
// link's streams still count until they end), so replacing the relay does not
// reset them. The link itself also caps its streams (link.MaxStreams), above the
// sum of these.
const (
	// MaxHostProcs is how many host-exec calls (host processes) a loop runs at once.
	MaxHostProcs = 8
	// MaxGatewayConns is how many model gateway connections a loop holds at once.
	MaxGatewayConns = 32
	// MaxPromotes: promotes of one loop run one at a time.
	MaxPromotes = 1
	// defaultMaxPerTag applies to a TagHandler that sets no Max.
	defaultMaxPerTag = 4
)

// refuseWriteTimeout bounds writing a refusal or a final exit frame to a peer
// that does not read.
const refuseWriteTimeout = 5 * time.Second

// TagHandler serves one link service other than host exec.
type TagHandler struct {
	// Name says what a stream is in errors, plural ("gateway connections").
	Name string
	// Serve takes one stream of loopID; closing c ends its slot.
	Serve func(loopID string, c net.Conn)
	// Max is how many streams of this service one loop may hold at once
	// (0 = a small default).
	Max int
	// Refuse writes the service's own error for reason on c (nil = just close).
	Refuse func(c net.Conn, reason string)
}

// slots counts the streams each loop holds per service.
type slots struct {
	mu sync.Mutex
	n  map[string]map[byte]int
}

// acquire takes one of max slots of tag for loopID; release gives it back (once).
func (s *slots) acquire(loopID string, tag byte, max int) (release func(), ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.n == nil {
		s.n = map[string]map[byte]int{}
	}
	per := s.n[loopID]
	if per == nil {
		per = map[byte]int{}
		s.n[loopID] = per
	}
	if per[tag] >= max {
		return nil, false
	}
	per[tag]++
	var once sync.Once
	return func() {
		once.Do(func() {
			s.mu.Lock()
			per[tag]--
			if per[tag] == 0 {
				delete(per, tag)
				if len(per) == 0 {
					delete(s.n, loopID)
				}
			}
			s.mu.Unlock()
		})
	}, true
}

// held reports loopID's streams of tag (tests, diagnostics).
func (s *slots) held(loopID string, tag byte) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.n[loopID][tag]
}

// slotConn gives its slot back when closed.
type slotConn struct {
	net.Conn
	release func()
}

func (c *slotConn) Close() error {
	err := c.Conn.Close()
	c.release()
	return err
}

// serveTag runs h for one stream of loopID within h's cap.
func (s *Server) serveTag(loopID string, tag byte, h TagHandler, c net.Conn) {
	max := h.Max
	if max <= 0 {
		max = defaultMaxPerTag
	}
	release, ok := s.slots.acquire(loopID, tag, max)
	if !ok {
		reason := fmt.Sprintf("refused: this loop already has %d %s (limit %d); retry when one ends", max, h.Name, max)
		s.warnRefusal(loopID, reason)
		_ = c.SetWriteDeadline(time.Now().Add(refuseWriteTimeout))
		if h.Refuse != nil {
			h.Refuse(c, reason)
		}
		c.Close()
		return
	}
	h.Serve(loopID, &slotConn{Conn: c, release: release})
}

// warnRefusal logs a cap refusal at most once per loop and reason every 10 s: a
// loop hammering its caps must not flood the app log.
func (s *Server) warnRefusal(loopID, reason string) {
	key := loopID + "\x00" + reason
	now := time.Now()
	s.mu.Lock()
	logIt := now.Sub(s.warned[key]) > 10*time.Second
	if logIt {
		s.warned[key] = now
	}
	s.mu.Unlock()
	if logIt {
		s.log.Warn("link request refused", "loop", loopID, "reason", reason)
	}
}
