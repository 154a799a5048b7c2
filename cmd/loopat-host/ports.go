package main

import (
	"fmt"
	"log/slog"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/loopat/desktop/backend/link"
	"github.com/loopat/desktop/backend/ports/portwire"
	"github.com/loopat/desktop/backend/ports/procnet"
)

// portPoll is how often the relay looks at the listening sockets.
const portPoll = 500 * time.Millisecond

// procRoot is where the relay reads the namespace's sockets (tests point it elsewhere).
var procRoot = "/proc"

// watchPorts pushes the sandbox's listening TCP ports to the host over a
// link.TagPorts stream whenever they change, re-opening the stream if the host
// closes it (e.g. a refusal while an older link's stream still counts).
func watchPorts(rel *link.Relay, log *slog.Logger) {
	for {
		st, err := rel.Open(link.TagPorts)
		if err == nil {
			err = pushPorts(st, rel)
			st.Close()
		}
		select {
		case <-rel.Done():
			return
		case <-time.After(2 * time.Second):
		}
		log.Debug("port stream ended; reopening", "err", err)
	}
}

func pushPorts(st net.Conn, rel *link.Relay) error {
	var last []procnet.Listener
	first := true
	tick := time.NewTicker(portPoll)
	defer tick.Stop()
	for {
		ls, err := procnet.Read(procRoot)
		if err != nil {
			return err
		}
		slices.SortFunc(ls, func(a, b procnet.Listener) int {
			if a.Port != b.Port {
				return int(a.Port) - int(b.Port)
			}
			return int(a.Inode - b.Inode)
		})
		if first || !slices.Equal(ls, last) {
			if err := portwire.WriteUpdate(st, describe(ls)); err != nil {
				return err
			}
			last, first = ls, false
		}
		select {
		case <-rel.Done():
			return nil
		case <-tick.C:
		}
	}
}

// ownSockets are the socket inodes this relay holds (its model gateway listener):
// app plumbing, not something the user asked to see or forward.
func ownSockets() map[uint64]bool {
	out := map[uint64]bool{}
	ents, err := os.ReadDir(procRoot + "/self/fd")
	if err != nil {
		return out
	}
	for _, e := range ents {
		t, err := os.Readlink(procRoot + "/self/fd/" + e.Name())
		if err != nil || !strings.HasPrefix(t, "socket:[") || !strings.HasSuffix(t, "]") {
			continue
		}
		if n, err := strconv.ParseUint(t[len("socket:["):len(t)-1], 10, 64); err == nil {
			out[n] = true
		}
	}
	return out
}

// describe names each listening port with a process holding one of its sockets; the
// relay's own listeners are left out.
func describe(ls []procnet.Listener) portwire.Update {
	own := ownSockets()
	ls = slices.DeleteFunc(slices.Clone(ls), func(l procnet.Listener) bool { return own[l.Inode] })
	inodes := map[uint64]bool{}
	for _, l := range ls {
		inodes[l.Inode] = true
	}
	names := procnet.Processes(procRoot, inodes)
	u := portwire.Update{Ports: []portwire.Port{}}
	for _, p := range procnet.Ports(ls) {
		wp := portwire.Port{Port: int(p)}
		for _, l := range ls {
			if l.Port == p && names[l.Inode] != "" {
				wp.Process = names[l.Inode]
				break
			}
		}
		u.Ports = append(u.Ports, wp)
		if len(u.Ports) == portwire.MaxPorts {
			break
		}
	}
	return u
}

// serveForwards answers the streams the host opens: one forwarded connection each.
func serveForwards(rel *link.Relay, log *slog.Logger) {
	for {
		st, err := rel.Accept()
		if err != nil {
			return
		}
		go func() {
			if err := forwardOne(st); err != nil {
				log.Debug("forward", "err", err)
			}
		}()
	}
}

// forwardOne dials the requested port inside the sandbox, but only a port with a
// listener right now and only on a local address of that listener (loopback for a
// wildcard bind): the relay never becomes a proxy to other hosts.
func forwardOne(st net.Conn) error {
	_ = st.SetReadDeadline(time.Now().Add(10 * time.Second))
	tag, err := link.ReadTag(st)
	if err != nil || tag != link.TagForward {
		st.Close()
		return fmt.Errorf("host stream with tag %q: %v", tag, err)
	}
	port, err := portwire.ReadPort(st)
	if err != nil {
		st.Close()
		return err
	}
	_ = st.SetReadDeadline(time.Time{})
	ls, err := procnet.Read(procRoot)
	if err != nil {
		_, _ = st.Write([]byte{portwire.StatusNotListen})
		st.Close()
		return err
	}
	addr, ok := procnet.DialAddr(ls, uint16(port))
	if !ok {
		_, _ = st.Write([]byte{portwire.StatusNotListen})
		st.Close()
		return fmt.Errorf("port %d: nothing listens on it", port)
	}
	c, err := net.DialTimeout("tcp", addr.String(), 5*time.Second)
	if err != nil {
		_, _ = st.Write([]byte{portwire.StatusDialFailed})
		st.Close()
		return fmt.Errorf("dial %s: %w", addr, err)
	}
	if _, err := st.Write([]byte{portwire.StatusOK}); err != nil {
		c.Close()
		st.Close()
		return err
	}
	link.Splice(st, c)
	return nil
}
