package link

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

func pair(t *testing.T) (*Session, *Relay) {
	t.Helper()
	a, b := net.Pipe()
	sess, err := Serve(a, nil)
	if err != nil {
		t.Fatal(err)
	}
	relay, err := NewRelay(b)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sess.Close(); relay.Close() })
	return sess, relay
}

func TestHelloAndTaggedStreams(t *testing.T) {
	sess, relay := pair(t)
	sess.Handle(TagHostExec, func(c net.Conn) {
		defer c.Close()
		line, _ := bufio.NewReader(c).ReadString('\n')
		io.WriteString(c, "exec:"+line)
	})
	if err := relay.SayHello(Hello{Version: 1, Socket: "/run/loopat/host.sock"}); err != nil {
		t.Fatal(err)
	}
	select {
	case <-sess.Ready():
	case <-time.After(5 * time.Second):
		t.Fatal("no hello")
	}
	if h := sess.Hello(); h == nil || h.Socket != "/run/loopat/host.sock" {
		t.Fatalf("hello = %+v", h)
	}
	c, err := relay.Open(TagHostExec)
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(c, "hi\n")
	got, _ := io.ReadAll(c)
	if string(got) != "exec:hi\n" {
		t.Fatalf("got %q", got)
	}
}

func TestUnknownTagIsClosed(t *testing.T) {
	_, relay := pair(t)
	c, err := relay.Open('?')
	if err != nil {
		t.Fatal(err)
	}
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if n, err := c.Read(make([]byte, 1)); err != io.EOF {
		t.Fatalf("unknown tag: read %d, %v; want EOF", n, err)
	}
}

func TestListenerServesHTTP(t *testing.T) {
	sess, relay := pair(t)
	l := sess.Listener(TagGateway)
	go http.Serve(l, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "gateway "+r.URL.Path)
	}))
	client := &http.Client{Transport: &http.Transport{
		DialContext: func(_ context.Context, _, _ string) (net.Conn, error) { return relay.Open(TagGateway) },
	}}
	resp, err := client.Get("http://sandbox/v1/messages")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(body) != "gateway /v1/messages" {
		t.Fatalf("body %q", body)
	}
	l.Close()
	if _, err := l.Accept(); err == nil {
		t.Fatal("accept after close succeeded")
	}
}

func TestSessionEndsWhenPeerGoes(t *testing.T) {
	sess, relay := pair(t)
	relay.Close()
	select {
	case <-sess.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("session did not notice the relay closing")
	}
}

func TestSpliceHalfClose(t *testing.T) {
	// unix socket on one side: the reply after the client's EOF must still arrive.
	dir := t.TempDir()
	l, err := net.Listen("unix", dir+"/s")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	sess, relay := pair(t)
	sess.Handle(TagHostExec, func(c net.Conn) {
		defer c.Close()
		b, _ := io.ReadAll(c)
		io.WriteString(c, strings.ToUpper(string(b)))
	})
	go func() {
		uc, err := l.Accept()
		if err != nil {
			return
		}
		st, err := relay.Open(TagHostExec)
		if err != nil {
			uc.Close()
			return
		}
		Splice(uc, st)
	}()
	c, err := net.Dial("unix", dir+"/s")
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(c, "abc")
	c.(*net.UnixConn).CloseWrite()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	got, err := io.ReadAll(c)
	if err != nil || string(got) != "ABC" {
		t.Fatalf("got %q, %v", got, err)
	}
}
