package link

import (
	"bytes"
	"encoding/binary"
	"io"
	"net"
	"sync"
	"testing"
	"time"
)

// writeLog records every Write it is given.
type writeLog struct {
	mu     sync.Mutex
	writes [][]byte
}

func (w *writeLog) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.writes = append(w.writes, append([]byte{}, p...))
	return len(p), nil
}
func (w *writeLog) Read([]byte) (int, error) { return 0, io.EOF }
func (w *writeLog) Close() error             { return nil }

func (w *writeLog) all() []byte {
	w.mu.Lock()
	defer w.mu.Unlock()
	return bytes.Join(w.writes, nil)
}

func hdr(typ byte, stream, length uint32) []byte {
	h := make([]byte, yamuxHeaderSize)
	h[1] = typ
	binary.BigEndian.PutUint32(h[4:], stream)
	binary.BigEndian.PutUint32(h[8:], length)
	return h
}

func TestFrameWriterMergesDataFramesAndKeepsEveryByte(t *testing.T) {
	log := &writeLog{}
	fw := newFrameWriter(log)
	body := []byte("x-request")
	big := bytes.Repeat([]byte{'b'}, maxMerged+1)
	var in [][]byte
	in = append(in,
		hdr(1, 3, 256<<10),                 // window update (a stream's SYN): no body follows
		hdr(0, 3, uint32(len(body))), body, // small data frame: one write
		hdr(0, 3, 0),                     // empty data frame (FIN): no body
		hdr(0, 5, uint32(len(big))), big, // big body: its own write, no copy
		hdr(0, 7, 4), hdr(2, 0, 1), // a body that never came: the header goes out alone, unchanged
	)
	for _, p := range in {
		n, err := fw.Write(p)
		if err != nil || n != len(p) {
			t.Fatalf("Write(%d bytes) = %d, %v", len(p), n, err)
		}
	}
	if got, want := log.all(), bytes.Join(in, nil); !bytes.Equal(got, want) {
		t.Fatalf("the byte stream changed:\n got %x\nwant %x", got, want)
	}
	wantLens := []int{12, 12 + len(body), 12, 12, len(big), 12, 12}
	if len(log.writes) != len(wantLens) {
		t.Fatalf("%d writes, want %d", len(log.writes), len(wantLens))
	}
	for i, w := range log.writes {
		if len(w) != wantLens[i] {
			t.Fatalf("write %d has %d bytes, want %d", i, len(w), wantLens[i])
		}
	}
}

// countingConn counts the writes one end of a link makes.
type countingConn struct {
	net.Conn
	mu     sync.Mutex
	writes int
}

func (c *countingConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	c.writes++
	c.mu.Unlock()
	return c.Conn.Write(p)
}

func (c *countingConn) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.writes
}

// A relay stream opened with its first bytes costs the relay two writes on the
// link (the stream's open and one data frame with tag and bytes), and the host's
// handler sees the bytes after the tag, as with Open.
func TestOpenWithSendsTagAndFirstBytesInOneFrame(t *testing.T) {
	a, b := net.Pipe()
	sess, err := Serve(a, nil)
	if err != nil {
		t.Fatal(err)
	}
	rc := &countingConn{Conn: b}
	relay, err := NewRelay(rc)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sess.Close(); relay.Close() })
	got := make(chan string, 1)
	sess.Handle(TagHostExec, func(c net.Conn) {
		defer c.Close()
		p := make([]byte, 64)
		n, _ := io.ReadAtLeast(c, p, len("request+eof"))
		got <- string(p[:n])
	})
	before := rc.count()
	c, err := relay.OpenWith(TagHostExec, []byte("request+eof"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	select {
	case s := <-got:
		if s != "request+eof" {
			t.Fatalf("handler read %q", s)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the host never got the stream")
	}
	if n := rc.count() - before; n != 2 {
		t.Fatalf("the relay made %d writes to open a stream with its first bytes, want 2 (open, tag+bytes)", n)
	}
}
