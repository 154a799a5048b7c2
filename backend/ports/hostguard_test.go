package ports

import (
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/loopat/desktop/backend/link"
)

// forwardThroughGuard is one forwarded connection: client ↔ guard ↔ upstream (the loop's
// server), spliced as pipe() does. It returns the client end and the upstream end.
func forwardThroughGuard(t *testing.T, hostname string) (client, upstream net.Conn, refusedHost chan string) {
	t.Helper()
	client, hostSide := net.Pipe()
	loopSide, upstream := net.Pipe()
	refusedHost = make(chan string, 1)
	g := newHostGuard(hostSide, func(h string) { refusedHost <- h })
	g.hostname = hostname
	go link.Splice(g, loopSide)
	t.Cleanup(func() { client.Close(); upstream.Close() })
	return client, upstream, refusedHost
}

func readAll(t *testing.T, c net.Conn, want int) string {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 0, want)
	chunk := make([]byte, 4096)
	for len(buf) < want {
		n, err := c.Read(chunk)
		buf = append(buf, chunk[:n]...)
		if err != nil {
			break
		}
	}
	return string(buf)
}

func TestHostGuardRefusesRequestsForOtherNames(t *testing.T) {
	for _, req := range []string{
		"GET / HTTP/1.1\r\nHost: rebind.example:5173\r\n\r\n",
		"POST /api HTTP/1.1\r\nhost: attacker.test\r\nContent-Length: 2\r\n\r\nhi",
		"GET / HTTP/1.1\r\nHost: localhost:5173\r\nHost: evil.example\r\n\r\n", // two Hosts: ambiguous
		"GET / HTTP/1.1\r\nHost: localhost.evil.example\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: [::1\r\n\r\n",
	} {
		client, upstream, refused := forwardThroughGuard(t, "devbox")
		go func() {
			// Sent in two writes, the method split, as TCP may deliver it.
			_, _ = client.Write([]byte(req[:2]))
			_, _ = client.Write([]byte(req[2:]))
		}()
		got := make(chan string, 1)
		go func() { b, _ := io.ReadAll(upstream); got <- string(b) }()
		resp := readAll(t, client, 400)
		if !strings.HasPrefix(resp, "HTTP/1.1 421 ") || !strings.Contains(resp, "DNS rebinding") {
			t.Fatalf("%q: answer %q", req, resp)
		}
		select {
		case h := <-refused:
			if h == "" {
				t.Fatalf("%q: refused without naming the host", req)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("%q: refusal not reported", req)
		}
		client.Close()
		if b := <-got; b != "" {
			t.Fatalf("%q: the loop's server received %q", req, b)
		}
	}
}

func TestHostGuardPassesLocalNamesAndOtherProtocols(t *testing.T) {
	for _, req := range []string{
		"GET / HTTP/1.1\r\nHost: localhost:5173\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: 127.0.0.1:41000\r\nAccept: */*\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: [::1]:41000\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: app.localhost:41000\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: DEVBOX.local:41000\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: 192.168.1.20:41000\r\n\r\n", // shared on the network, opened by address
		"POST /x HTTP/1.1\r\nHost: localhost\r\nContent-Length: 5\r\n\r\nhello and more bytes after the head",
		"GET / HTTP/1.0\r\n\r\n",
		"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", // a TLS ClientHello
		"*2\r\n$4\r\nPING\r\n",                       // redis
	} {
		client, upstream, _ := forwardThroughGuard(t, "devbox")
		go func() { _, _ = client.Write([]byte(req)) }()
		if got := readAll(t, upstream, len(req)); got != req {
			t.Fatalf("upstream got %q, want %q", got, req)
		}
		// And the answer comes back.
		go func() { _, _ = upstream.Write([]byte("reply")) }()
		if got := readAll(t, client, 5); got != "reply" {
			t.Fatalf("%q: client got %q", req, got)
		}
	}
}

// A protocol where the server speaks first (ssh, mysql) still works: the guard only
// holds the client's direction until the client's first bytes.
func TestHostGuardLetsTheServerSpeakFirst(t *testing.T) {
	client, upstream, _ := forwardThroughGuard(t, "")
	go func() { _, _ = upstream.Write([]byte("SSH-2.0-OpenSSH_9.2\r\n")) }()
	if got := readAll(t, client, 21); got != "SSH-2.0-OpenSSH_9.2\r\n" {
		t.Fatalf("greeting: %q", got)
	}
	go func() { _, _ = client.Write([]byte("SSH-2.0-client\r\n")) }()
	if got := readAll(t, upstream, 16); got != "SSH-2.0-client\r\n" {
		t.Fatalf("client hello: %q", got)
	}
}
