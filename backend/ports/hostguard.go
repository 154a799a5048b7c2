package ports

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"time"
)

// A forward is a plain TCP pipe to the agent's server, so a web page of any site could
// reach it by DNS rebinding: its own name re-resolved to 127.0.0.1, then its script reads
// the agent's server as same-origin. The browser still sends the page's name as Host. So
// when a connection's first bytes are an HTTP request, its Host must be a name only this
// machine answers to (localhost, *.localhost, this host's name) or an IP literal (which
// a page cannot rebind); otherwise the request gets 421 and never reaches the loop.
// Other protocols (and TLS, whose rebinding fails on the certificate) pass unchanged.

const (
	maxRequestHead  = 32 << 10         // a browser's request head is a few KB
	requestHeadTime = 10 * time.Second // to send the rest of a started request head
)

var errHostRefused = errors.New("request refused: Host is not a loopback name or an IP address")

var httpMethods = []string{"GET", "POST", "PUT", "DELETE", "HEAD", "OPTIONS", "PATCH", "CONNECT", "TRACE"}

// hostGuard checks the first request of a forwarded connection (a browser never sends
// requests for another Host over the same connection: its pools are per origin).
type hostGuard struct {
	net.Conn
	hostname string // this machine's name ("" if unknown)
	checked  bool
	head     []byte // bytes read while checking, handed on first
	err      error  // the read error met while checking, after head
	refused  func(host string)
}

func newHostGuard(c net.Conn, refused func(host string)) *hostGuard {
	name, _ := os.Hostname()
	return &hostGuard{Conn: c, hostname: strings.ToLower(name), refused: refused}
}

func (g *hostGuard) Read(p []byte) (int, error) {
	if !g.checked {
		g.checked = true
		g.head, g.err = g.readHead()
		if host, ok := g.allowed(g.head); !ok {
			g.refuse(host)
			return 0, errHostRefused
		}
	}
	if len(g.head) > 0 {
		n := copy(p, g.head)
		g.head = g.head[n:]
		return n, nil
	}
	if g.err != nil {
		return 0, g.err
	}
	return g.Conn.Read(p)
}

// CloseWrite keeps link.Splice's half-close of the client side.
func (g *hostGuard) CloseWrite() error {
	if cw, ok := g.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return g.Conn.Close()
}

// readHead reads the first bytes and, if they start an HTTP request, the whole request
// head (bounded in size and time once started).
func (g *hostGuard) readHead() ([]byte, error) {
	buf := make([]byte, 0, 4096)
	chunk := make([]byte, 4096)
	started := false
	for {
		n, err := g.Conn.Read(chunk)
		buf = append(buf, chunk[:n]...)
		if err != nil {
			return buf, err
		}
		switch {
		case mayBeMethod(buf):
			// "GE": wait for the method's end.
		case !isHTTPRequest(buf):
			return buf, nil
		case bytes.Contains(buf, []byte("\r\n\r\n")), len(buf) >= maxRequestHead:
			_ = g.Conn.SetReadDeadline(time.Time{})
			return buf, nil
		}
		if !started {
			started = true
			_ = g.Conn.SetReadDeadline(time.Now().Add(requestHeadTime))
		}
	}
}

// mayBeMethod: buf is a strict prefix of "<METHOD> ".
func mayBeMethod(buf []byte) bool {
	for _, m := range httpMethods {
		if len(buf) <= len(m) && strings.HasPrefix(m+" ", string(buf)) {
			return true
		}
	}
	return false
}

func isHTTPRequest(buf []byte) bool {
	for _, m := range httpMethods {
		if bytes.HasPrefix(buf, []byte(m+" ")) {
			return true
		}
	}
	return false
}

// allowed says whether head may go on to the loop, and the Host it named.
func (g *hostGuard) allowed(head []byte) (string, bool) {
	if !isHTTPRequest(head) {
		return "", true
	}
	end := bytes.Index(head, []byte("\r\n\r\n"))
	if end < 0 {
		return "(request head incomplete or over 32 KiB)", false
	}
	var hosts []string
	for _, line := range strings.Split(string(head[:end]), "\r\n")[1:] {
		name, value, ok := strings.Cut(line, ":")
		if ok && strings.EqualFold(strings.TrimSpace(name), "host") {
			hosts = append(hosts, strings.TrimSpace(value))
		}
	}
	switch len(hosts) {
	case 0:
		return "", true // HTTP/1.0 without Host: not a browser
	case 1:
		return hosts[0], g.localName(hosts[0])
	}
	return strings.Join(hosts, ", "), false
}

// localName: a Host only this machine answers to, or an IP literal.
func (g *hostGuard) localName(hostport string) bool {
	host := strings.ToLower(hostport)
	if strings.HasPrefix(host, "[") {
		end := strings.IndexByte(host, ']')
		if end < 0 {
			return false
		}
		return net.ParseIP(host[1:end]) != nil
	}
	if i := strings.LastIndexByte(host, ':'); i >= 0 {
		host = host[:i]
	}
	host = strings.TrimSuffix(host, ".")
	switch {
	case net.ParseIP(host) != nil, host == "localhost", strings.HasSuffix(host, ".localhost"):
		return true
	case g.hostname != "" && (host == g.hostname || host == g.hostname+".local"):
		return true
	}
	return false
}

func (g *hostGuard) refuse(host string) {
	body := fmt.Sprintf("loopat: this port forward answers only requests for localhost, this machine's name or an IP address, not %q.\n"+
		"A web page that points its own name at this machine (DNS rebinding) must not reach the loop's server.\n", host)
	_, _ = fmt.Fprintf(g.Conn, "HTTP/1.1 421 Misdirected Request\r\nContent-Type: text/plain; charset=utf-8\r\n"+
		"Connection: close\r\nContent-Length: %d\r\n\r\n%s", len(body), body)
	if g.refused != nil {
		g.refused(host)
	}
}
