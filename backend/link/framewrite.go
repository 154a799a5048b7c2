package link

import (
	"encoding/binary"
	"io"
	"sync"
)

// yamux frame header: version(1) type(1) flags(2) stream(4) length(4).
const (
	yamuxHeaderSize = 12
	yamuxTypeData   = 0
	// maxMerged is the largest body merged with its header; a bigger one is worth
	// its own write and not worth a copy.
	maxMerged = 16 << 10
)

// frameWriter gives a yamux data frame's header and body to the link in one write.
// yamux's send loop writes them separately, and on a link every write is a hop
// through the relay's pipe, conmon and the podman service before the other end can
// read the frame: a host-exec call's request and its exit each cross in one write
// instead of two. Only yamux's single send loop writes here; the mutex is cheap
// insurance. The header is held only while its body is known to follow (a data
// frame announcing 1..maxMerged bytes); anything unexpected flushes it as it was.
type frameWriter struct {
	io.ReadWriteCloser

	mu   sync.Mutex
	held []byte // a data frame's header waiting for its body
	want int    // that body's announced length
	buf  []byte
}

func newFrameWriter(rwc io.ReadWriteCloser) *frameWriter {
	return &frameWriter{ReadWriteCloser: rwc, held: make([]byte, 0, yamuxHeaderSize)}
}

func (f *frameWriter) Write(p []byte) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.held) > 0 {
		if len(p) == f.want {
			f.buf = append(append(f.buf[:0], f.held...), p...)
			f.held = f.held[:0]
			n, err := f.ReadWriteCloser.Write(f.buf)
			return max(n-yamuxHeaderSize, 0), err
		}
		// Not the body we expected: send the header alone, as yamux meant to.
		held := f.held
		f.held = f.held[:0]
		if _, err := f.ReadWriteCloser.Write(held); err != nil {
			return 0, err
		}
	}
	if len(p) == yamuxHeaderSize && p[1] == yamuxTypeData {
		if n := binary.BigEndian.Uint32(p[8:]); n > 0 && n <= maxMerged {
			f.held = append(f.held, p...)
			f.want = int(n)
			return len(p), nil
		}
	}
	return f.ReadWriteCloser.Write(p)
}
