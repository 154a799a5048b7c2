// Package procnet reads the TCP sockets listening in the current network namespace
// from /proc/net/tcp and /proc/net/tcp6, so the relay inside a loop's sandbox finds
// the agent's servers without any extra tool. It has no dependencies beyond the
// standard library: cmd/loopat-host links it.
package procnet

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"fmt"
	"io"
	"net/netip"
	"os"
	"sort"
	"strconv"
	"strings"
)

// stateListen is TCP_LISTEN in the st column.
const stateListen = "0A"

// maxLines bounds one table: a namespace with more sockets than this is cut off
// rather than read forever.
const maxLines = 65536

// Listener is one listening TCP socket.
type Listener struct {
	Addr  netip.Addr // bind address (unspecified = any); v4-mapped v6 is unmapped
	Port  uint16
	Inode uint64 // socket inode, to find the owning process
}

// Parse reads a /proc/net/tcp{,6} table and returns its LISTEN entries. Malformed
// lines are skipped (the kernel's format is fixed; anything else is not trusted).
func Parse(r io.Reader) []Listener {
	var out []Listener
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 512), 4096)
	for n := 0; sc.Scan() && n < maxLines; n++ {
		if n == 0 && bytes.Contains(sc.Bytes(), []byte("local_address")) {
			continue
		}
		if l, ok := parseLine(sc.Text()); ok {
			out = append(out, l)
		}
	}
	return out
}

// parseLine parses "  sl  local_address rem_address   st tx:rx tr:when retrnsmt uid timeout inode ...".
func parseLine(line string) (Listener, bool) {
	f := strings.Fields(line)
	if len(f) < 10 || f[3] != stateListen {
		return Listener{}, false
	}
	host, port, ok := strings.Cut(f[1], ":")
	if !ok {
		return Listener{}, false
	}
	p, err := strconv.ParseUint(port, 16, 16)
	if err != nil || p == 0 {
		return Listener{}, false
	}
	addr, ok := parseAddr(host)
	if !ok {
		return Listener{}, false
	}
	inode, err := strconv.ParseUint(f[9], 10, 64)
	if err != nil {
		return Listener{}, false
	}
	return Listener{Addr: addr, Port: uint16(p), Inode: inode}, true
}

// parseAddr decodes the kernel's hex address: 4 bytes (v4) or 16 bytes (v6), each
// 32-bit word in host byte order (little-endian on every platform podman runs on).
func parseAddr(h string) (netip.Addr, bool) {
	if len(h) != 8 && len(h) != 32 {
		return netip.Addr{}, false
	}
	b, err := hex.DecodeString(h)
	if err != nil {
		return netip.Addr{}, false
	}
	for i := 0; i+4 <= len(b); i += 4 {
		b[i], b[i+1], b[i+2], b[i+3] = b[i+3], b[i+2], b[i+1], b[i]
	}
	if len(b) == 4 {
		return netip.AddrFrom4([4]byte(b)), true
	}
	return netip.AddrFrom16([16]byte(b)).Unmap(), true
}

// Read returns the listening sockets of the namespace whose /proc is procRoot
// ("/proc" in production). A missing table (no IPv6) is not an error.
func Read(procRoot string) ([]Listener, error) {
	var out []Listener
	for _, name := range []string{"net/tcp", "net/tcp6"} {
		f, err := os.Open(procRoot + "/" + name)
		if err != nil {
			if os.IsNotExist(err) && name == "net/tcp6" {
				continue
			}
			return nil, fmt.Errorf("read %s: %w", name, err)
		}
		out = append(out, Parse(f)...)
		f.Close()
	}
	return out, nil
}

// Ports is the sorted set of distinct listening ports.
func Ports(ls []Listener) []uint16 {
	seen := map[uint16]bool{}
	var out []uint16
	for _, l := range ls {
		if !seen[l.Port] {
			seen[l.Port] = true
			out = append(out, l.Port)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

// DialAddr is where a connection to port should go inside the namespace, if
// anything listens on it: the loopback of a wildcard or loopback bind (IPv4 first),
// else the one local address it is bound to. ok is false when nothing listens on
// port, so a caller never dials a port that is not a local listener.
func DialAddr(ls []Listener, port uint16) (netip.AddrPort, bool) {
	var best netip.AddrPort
	rank := 99
	for _, l := range ls {
		if l.Port != port {
			continue
		}
		var a netip.Addr
		r := 0
		switch {
		case l.Addr.Is4() && (l.Addr.IsUnspecified() || l.Addr.IsLoopback()):
			a, r = netip.AddrFrom4([4]byte{127, 0, 0, 1}), 0
		case l.Addr.Is6() && (l.Addr.IsUnspecified() || l.Addr.IsLoopback()):
			a, r = netip.IPv6Loopback(), 1
		default:
			a, r = l.Addr, 2
		}
		if r < rank {
			best, rank = netip.AddrPortFrom(a, port), r
		}
	}
	return best, rank != 99
}

// Processes maps socket inodes to the name (comm) of a process holding them, reading
// procRoot/<pid>/fd. Best effort: processes of other users are skipped when their fds
// are not readable. At most maxProcs processes are looked at.
func Processes(procRoot string, inodes map[uint64]bool) map[uint64]string {
	const maxProcs = 4096
	out := map[uint64]string{}
	if len(inodes) == 0 {
		return out
	}
	ents, err := os.ReadDir(procRoot)
	if err != nil {
		return out
	}
	seen := 0
	for _, e := range ents {
		pid := e.Name()
		if _, err := strconv.Atoi(pid); err != nil {
			continue
		}
		if seen++; seen > maxProcs || len(out) == len(inodes) {
			break
		}
		fds, err := os.ReadDir(procRoot + "/" + pid + "/fd")
		if err != nil {
			continue
		}
		var comm string
		for _, fd := range fds {
			target, err := os.Readlink(procRoot + "/" + pid + "/fd/" + fd.Name())
			if err != nil || !strings.HasPrefix(target, "socket:[") {
				continue
			}
			ino, err := strconv.ParseUint(strings.TrimSuffix(strings.TrimPrefix(target, "socket:["), "]"), 10, 64)
			if err != nil || !inodes[ino] {
				continue
			}
			if _, done := out[ino]; done {
				continue
			}
			if comm == "" {
				b, _ := os.ReadFile(procRoot + "/" + pid + "/comm")
				comm = strings.TrimSpace(string(b))
			}
			if comm != "" {
				out[ino] = comm
			}
		}
	}
	return out
}
