package ports

import (
	"errors"
	"fmt"
	"hash/fnv"
	"net"
	"strconv"
	"syscall"
	"time"
)

// maxProbes bounds how far a pick walks the range looking for a free port.
const maxProbes = 2048

// HostPortFree reports whether nothing listens on port on this host, on any address.
// Like the seed's `ss -tlnH` / `lsof -iTCP -sTCP:LISTEN`, a socket of another user or
// one bound to a single address counts as taken: binding the loopback and both
// wildcards conflicts with any listener on Linux; on BSD/macOS, where SO_REUSEADDR
// lets a more specific bind succeed beside a wildcard one, a connect finds it.
func HostPortFree(port int) bool {
	if port < 1 || port > 65535 {
		return false
	}
	p := strconv.Itoa(port)
	for _, a := range []struct{ network, host string }{
		{"tcp4", "127.0.0.1"}, {"tcp4", "0.0.0.0"}, {"tcp6", "::1"}, {"tcp6", "::"},
	} {
		l, err := net.Listen(a.network, net.JoinHostPort(a.host, p))
		if err == nil {
			l.Close()
			continue
		}
		if a.network == "tcp6" && !errors.Is(err, syscall.EADDRINUSE) && !errors.Is(err, syscall.EACCES) {
			continue // no IPv6 on this host: nothing can listen there
		}
		return false
	}
	for _, host := range []string{"127.0.0.1", "::1"} {
		c, err := net.DialTimeout("tcp", net.JoinHostPort(host, p), 200*time.Millisecond)
		if err == nil {
			c.Close()
			return false
		}
	}
	return true
}

// rangeStart is where loopID's pick for containerPort starts walking [lo, hi]: a hash
// of both, so the same loop and port land on the same host port every time.
func rangeStart(loopID string, containerPort, lo, hi int) int {
	h := fnv.New64a()
	fmt.Fprintf(h, "%s:%d", loopID, containerPort)
	return int(h.Sum64() % uint64(hi-lo+1))
}

// minSameNumber: below it a container port never keeps its number on the host. A
// loop must not take a privileged port (22, 53, 80, 443...) on the host's loopback
// when the app runs as root and the port happens to be free.
const minSameNumber = 1024

// Pick chooses the host port for loopID's containerPort: prev (the persisted mapping)
// if it is still usable, else the container's own number (1024 and up), else the
// first usable port of [lo, hi] from a per-loop, per-port start, walking forward.
func Pick(loopID string, containerPort, prev, lo, hi int, usable func(int) bool) (int, error) {
	if prev >= minSameNumber && usable(prev) {
		return prev, nil
	}
	if containerPort >= minSameNumber && usable(containerPort) {
		return containerPort, nil
	}
	n := hi - lo + 1
	start := rangeStart(loopID, containerPort, lo, hi)
	for i := 0; i < n && i < maxProbes; i++ {
		if p := lo + (start+i)%n; usable(p) {
			return p, nil
		}
	}
	return 0, fmt.Errorf("no free host port for container port %d in %d-%d", containerPort, lo, hi)
}
