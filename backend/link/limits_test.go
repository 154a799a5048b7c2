package link

import (
	"bytes"
	"errors"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/yamux"
)

// TestFullLinkResetsExtraStreamsAndRecovers: a relay opening far more streams than
// MaxStreams (a replaced loopat-host ignores its own open limits) makes the host
// hold at most MaxStreams+AcceptBacklog of them; the rest are reset at once (not
// queued), and the link serves again once streams end.
func TestFullLinkResetsExtraStreamsAndRecovers(t *testing.T) {
	sess, hostile := hostilePair(t)
	release := make(chan struct{})
	var mu sync.Mutex
	running, peak := 0, 0
	sess.Handle(TagHostExec, func(c net.Conn) {
		mu.Lock()
		running++
		peak = max(peak, running)
		mu.Unlock()
		<-release
		c.Write([]byte("ok"))
		c.Close()
		mu.Lock()
		running--
		mu.Unlock()
	})
	const opened = MaxStreams + AcceptBacklog + 40
	conns := make([]net.Conn, 0, opened)
	for i := 0; i < opened; i++ {
		c, err := hostile.OpenStream()
		if err != nil {
			t.Fatalf("open %d: %v", i, err)
		}
		c.Write([]byte{TagHostExec})
		conns = append(conns, c)
	}
	// Past the capacity, streams are reset at once: their reads fail right away
	// (the held ones time out, their handlers are blocked on purpose).
	var wg sync.WaitGroup
	var resetMu sync.Mutex
	reset := 0
	for _, c := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.SetReadDeadline(time.Now().Add(2 * time.Second))
			start := time.Now()
			_, err := c.Read(make([]byte, 1))
			if errors.Is(err, yamux.ErrConnectionReset) && time.Since(start) < time.Second {
				resetMu.Lock()
				reset++
				resetMu.Unlock()
			}
		}()
	}
	wg.Wait()
	if reset < opened-MaxStreams-AcceptBacklog-1 {
		t.Fatalf("%d of %d streams reset at once; the host may hold only %d+%d", reset, opened, MaxStreams, AcceptBacklog)
	}
	if got := sess.NumStreams(); got > MaxStreams+AcceptBacklog+1 {
		t.Fatalf("host holds %d streams, limit %d+%d", got, MaxStreams, AcceptBacklog)
	}
	mu.Lock()
	if peak > MaxStreams+1 {
		t.Fatalf("%d handlers ran at once, limit %d", peak, MaxStreams)
	}
	mu.Unlock()
	close(release)
	for _, c := range conns {
		c.Close()
	}
	// Once the backlog drained (its streams were served and closed), new streams are served.
	waitUntil(t, 10*time.Second, func() bool { return sess.NumStreams() == 0 })
	c, err := hostile.OpenStream()
	if err != nil {
		t.Fatal(err)
	}
	c.Write([]byte{TagHostExec})
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if got, err := io.ReadAll(c); string(got) != "ok" {
		t.Fatalf("after the flood: %q %v", got, err)
	}
}

// hostilePair is a host session and a raw yamux client without open limits.
func hostilePair(t *testing.T) (*Session, *yamux.Session) {
	t.Helper()
	a, b := socketPair(t)
	sess, err := Serve(a, nil)
	if err != nil {
		t.Fatal(err)
	}
	cfg := yamux.DefaultConfig()
	cfg.LogOutput = io.Discard
	cfg.AcceptBacklog = 4096
	cfg.StreamOpenTimeout = 0
	c, err := yamux.Client(b, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close(); sess.Close() })
	return sess, c
}

func waitUntil(t *testing.T, d time.Duration, ok func() bool) {
	t.Helper()
	end := time.Now().Add(d)
	for !ok() {
		if time.Now().After(end) {
			t.Fatal("condition not met in time")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestDecodeHelloLimits(t *testing.T) {
	if _, err := DecodeHello(strings.NewReader(`{"version":1,"socket":"` + strings.Repeat("a", MaxHello) + `"}`)); err == nil {
		t.Fatal("hello past MaxHello accepted")
	}
	if _, err := DecodeHello(strings.NewReader(`{"version":2}`)); err == nil {
		t.Fatal("unknown hello version accepted")
	}
	h, err := DecodeHello(strings.NewReader(`{"version":1,"pid":7,"socket":"/run/loopat/host.sock"}`))
	if err != nil || h.PID != 7 {
		t.Fatalf("good hello: %+v %v", h, err)
	}
}

// FuzzStreamHeader: whatever the relay writes first on a stream, the tag and hello
// parsing never panics and a decoded hello is within its limit.
func FuzzStreamHeader(f *testing.F) {
	f.Add([]byte(`h{"version":1,"pid":1,"socket":"/run/loopat/host.sock","gateway":"127.0.0.1:4141"}`))
	f.Add([]byte("x\x00\x00\x00\x00"))
	f.Add([]byte("h{\"version\":1,\"socket\":\"\\u0000\"}"))
	f.Add([]byte("h[[[[[[[[[["))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		r := bytes.NewReader(data)
		tag, err := ReadTag(r)
		if err != nil {
			if len(data) != 0 {
				t.Fatalf("tag of %d bytes refused: %v", len(data), err)
			}
			return
		}
		if tag != data[0] {
			t.Fatalf("tag %q, want %q", tag, data[0])
		}
		if tag == TagHello {
			h, err := DecodeHello(r)
			if err == nil && len(h.Socket)+len(h.Gateway) > MaxHello {
				t.Fatalf("hello past its limit decoded")
			}
		}
	})
}

// FuzzSessionBytes feeds arbitrary bytes to the host end of a link as a hostile
// relay would (yamux frames, stream tags, hello and payloads all at once): the
// session never panics and ends when the bytes run out.
func FuzzSessionBytes(f *testing.F) {
	// A real relay's opening: a hello stream and a host-exec stream with data.
	f.Add(recordRelay(func(r *Relay) {
		r.SayHello(Hello{Version: 1, Socket: "/s"})
		c, _ := r.Open(TagHostExec)
		c.Write([]byte("R\x00\x00\x00\x01x"))
		c.Close()
	}))
	f.Add([]byte("\x00\x01\x00\x01\x00\x00\x00\x01\x00\x00\x00\x00")) // window update SYN, stream 1
	f.Add([]byte("\x00\x00\x00\x01\x00\x00\x00\x01\xff\xff\xff\xff")) // data SYN announcing 4 GiB
	f.Add([]byte("\x00\x03\x00\x00\x00\x00\x00\x00\x00\x00\x00\x01")) // go away
	f.Fuzz(func(t *testing.T, data []byte) {
		host, peer := net.Pipe()
		sess, err := Serve(host, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer sess.Close()
		sess.Handle(TagHostExec, func(c net.Conn) {
			defer c.Close()
			io.Copy(io.Discard, io.LimitReader(c, 1<<20))
		})
		sess.Handle(TagGateway, func(c net.Conn) { c.Close() })
		go io.Copy(io.Discard, peer) // whatever the host answers
		peer.SetWriteDeadline(time.Now().Add(2 * time.Second))
		peer.Write(data)
		peer.Close()
		select {
		case <-sess.Done():
		case <-time.After(5 * time.Second):
			t.Fatal("session outlived its peer")
		}
	})
}

// recordRelay returns the bytes a real relay writes while do runs.
func recordRelay(do func(*Relay)) []byte {
	a, b := net.Pipe()
	var buf bytes.Buffer
	done := make(chan struct{})
	go func() {
		io.Copy(&buf, b)
		close(done)
	}()
	// The relay needs its peer to answer nothing: yamux client writes without waiting.
	r, err := NewRelay(a)
	if err != nil {
		panic(err)
	}
	do(r)
	time.Sleep(50 * time.Millisecond)
	r.Close()
	<-done
	return buf.Bytes()
}

// socketPair is a buffered, connected pair of unix sockets (net.Pipe has no buffer,
// unlike the exec stdio a real link runs over).
func socketPair(t *testing.T) (net.Conn, net.Conn) {
	t.Helper()
	l, err := net.Listen("unix", t.TempDir()+"/s")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, _ := l.Accept()
		accepted <- c
	}()
	b, err := net.Dial("unix", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	a := <-accepted
	if a == nil {
		t.Fatal("accept failed")
	}
	return a, b
}
