// Package wire is the byte protocol spoken on one host-exec stream between the
// in-sandbox forwarder (loopat-host) and the host server.
//
// Every message is a frame: 1 byte type, 4 bytes big-endian payload length, payload.
// The first frame from the forwarder is a Request; after it both sides exchange
// stdio/signal frames until the host sends Exit. Strings inside a Request are
// length-prefixed raw bytes, so any argv byte sequence (quotes, newlines, invalid
// UTF-8) arrives exactly.
package wire

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"sync"
)

// Frame types.
const (
	TypeRequest  byte = 'R' // forwarder -> host, first frame
	TypeStdin    byte = 'i' // forwarder -> host, stdin bytes
	TypeStdinEOF byte = 'e' // forwarder -> host, stdin closed
	TypeSignal   byte = 's' // forwarder -> host, 1 byte signal number
	TypeStdout   byte = 'o' // host -> forwarder
	TypeStderr   byte = 'r' // host -> forwarder
	TypeExit     byte = 'x' // host -> forwarder, int32 code + message; last frame
)

// Version of the Request encoding.
const Version = 1

// Limits on what a loop may send. Every length on the wire is checked against
// one of these before anything of that size is allocated.
const (
	// MaxRequest caps the Request frame (argv + env + cwd). Linux ARG_MAX is 2 MiB
	// by default; more stack raises it, so leave room.
	MaxRequest = 4 << 20
	// MaxData caps stdio/signal/exit frames.
	MaxData = 64 << 10
	// ChunkSize is what writers put in one stdio frame.
	ChunkSize = 32 << 10
	// MaxArgs bounds the argument count (a request of 4 MiB of empty args would
	// otherwise allocate millions of strings).
	MaxArgs = 64 << 10
	// MaxArgBytes bounds one argument: Linux refuses longer ones to execve
	// (MAX_ARG_STRLEN), so no real argv has them.
	MaxArgBytes = 128 << 10
	// MaxEnv bounds the forwarded environment entries, MaxEnvBytes each entry.
	MaxEnv      = 64
	MaxEnvBytes = 4 << 10
	// MaxLoopID and MaxCwd bound the informational fields.
	MaxLoopID = 256
	MaxCwd    = 4 << 10
)

// ErrTooLarge means a frame exceeded the reader's limit.
var ErrTooLarge = errors.New("frame too large")

// Request is what the forwarder asks the host to run.
type Request struct {
	// LoopID is optional: the link already identifies the loop. When set, it must
	// match the link's loop or the host refuses.
	LoopID string
	// Argv[0] is the CLI name, the rest its arguments, as raw bytes.
	Argv []string
	// Cwd is the forwarder's working directory inside the sandbox (informational).
	Cwd string
	// Env holds KEY=VALUE entries the forwarder offers (the host keeps an allow-list).
	Env []string
}

// Exit is the host's final answer.
type Exit struct {
	Code    int32
	Message string // non-empty: a host-side error to show on stderr
}

// WriteFrame writes one frame.
func WriteFrame(w io.Writer, typ byte, payload []byte) error {
	// One write per frame keeps frames intact for writers shared under a mutex.
	_, err := w.Write(AppendFrame(make([]byte, 0, 5+len(payload)), typ, payload))
	return err
}

// AppendFrame appends one encoded frame to b, so several frames can leave in one
// write (every write is a hop through the relay, conmon and the podman service).
func AppendFrame(b []byte, typ byte, payload []byte) []byte {
	b = append(b, typ)
	b = binary.BigEndian.AppendUint32(b, uint32(len(payload)))
	return append(b, payload...)
}

// eagerAlloc is the largest payload allocated up front; bigger ones grow as their
// bytes actually arrive, so a header that announces megabytes and then stalls
// costs nothing.
const eagerAlloc = 64 << 10

// ReadFrame reads one frame whose payload may be at most max bytes. The limit is
// checked before anything is allocated.
func ReadFrame(r io.Reader, max int) (byte, []byte, error) {
	var hdr [5]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return 0, nil, err
	}
	n := binary.BigEndian.Uint32(hdr[1:])
	if uint64(n) > uint64(max) {
		return hdr[0], nil, fmt.Errorf("%w: %q frame of %d bytes (limit %d)", ErrTooLarge, hdr[0], n, max)
	}
	var p []byte
	var err error
	if n <= eagerAlloc {
		p = make([]byte, n)
		_, err = io.ReadFull(r, p)
	} else {
		p, err = io.ReadAll(io.LimitReader(r, int64(n)))
		if err == nil && len(p) < int(n) {
			err = io.ErrUnexpectedEOF
		}
	}
	if err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return hdr[0], nil, err
	}
	return hdr[0], p, nil
}

// EncodeRequest encodes r as a Request payload.
func EncodeRequest(r Request) []byte {
	b := binary.AppendUvarint(nil, Version)
	b = appendString(b, r.LoopID)
	b = appendString(b, r.Cwd)
	b = binary.AppendUvarint(b, uint64(len(r.Argv)))
	for _, a := range r.Argv {
		b = appendString(b, a)
	}
	b = binary.AppendUvarint(b, uint64(len(r.Env)))
	for _, e := range r.Env {
		b = appendString(b, e)
	}
	return b
}

func appendString(b []byte, s string) []byte {
	return append(binary.AppendUvarint(b, uint64(len(s))), s...)
}

// DecodeRequest parses a Request payload; it never panics on hostile input and
// enforces the Max* limits before allocating strings or slices.
func DecodeRequest(p []byte) (Request, error) {
	d := decoder{p: p}
	v := d.uvarint()
	if d.err == nil && v != Version {
		return Request{}, fmt.Errorf("unsupported request version %d (want %d)", v, Version)
	}
	var r Request
	r.LoopID = d.string("loop id", MaxLoopID)
	r.Cwd = d.string("cwd", MaxCwd)
	n := d.uvarint()
	if d.err == nil && n > MaxArgs {
		return Request{}, fmt.Errorf("malformed request: %d arguments (limit %d)", n, MaxArgs)
	}
	for i := uint64(0); i < n && d.err == nil; i++ {
		r.Argv = append(r.Argv, d.string("argument", MaxArgBytes))
	}
	n = d.uvarint()
	if d.err == nil && n > MaxEnv {
		return Request{}, fmt.Errorf("malformed request: %d env entries (limit %d)", n, MaxEnv)
	}
	for i := uint64(0); i < n && d.err == nil; i++ {
		r.Env = append(r.Env, d.string("env entry", MaxEnvBytes))
	}
	if d.err != nil {
		return Request{}, fmt.Errorf("malformed request: %w", d.err)
	}
	if len(d.p) != 0 {
		return Request{}, fmt.Errorf("malformed request: %d trailing bytes", len(d.p))
	}
	if len(r.Argv) == 0 {
		return Request{}, errors.New("malformed request: empty argv")
	}
	return r, nil
}

type decoder struct {
	p   []byte
	err error
}

func (d *decoder) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.p)
	if n <= 0 {
		d.err = errors.New("bad length prefix")
		return 0
	}
	d.p = d.p[n:]
	return v
}

// string reads one length-prefixed string of at most max bytes.
func (d *decoder) string(what string, max int) string {
	n := d.uvarint()
	if d.err != nil {
		return ""
	}
	if n > uint64(max) {
		d.err = fmt.Errorf("%s of %d bytes (limit %d)", what, n, max)
		return ""
	}
	if n > uint64(len(d.p)) {
		d.err = fmt.Errorf("%s of %d bytes overruns the %d left", what, n, len(d.p))
		return ""
	}
	s := string(d.p[:n])
	d.p = d.p[n:]
	return s
}

// EncodeExit encodes an Exit payload.
func EncodeExit(e Exit) []byte {
	b := binary.BigEndian.AppendUint32(nil, uint32(e.Code))
	msg := e.Message
	if len(msg) > MaxData-4 {
		msg = msg[:MaxData-4]
	}
	return append(b, msg...)
}

// DecodeExit parses an Exit payload.
func DecodeExit(p []byte) (Exit, error) {
	if len(p) < 4 {
		return Exit{}, fmt.Errorf("malformed exit frame of %d bytes", len(p))
	}
	return Exit{Code: int32(binary.BigEndian.Uint32(p)), Message: string(p[4:])}, nil
}

// Writer serialises frames from several goroutines onto one stream.
type Writer struct {
	mu sync.Mutex
	w  io.Writer
}

// NewWriter wraps w.
func NewWriter(w io.Writer) *Writer { return &Writer{w: w} }

// Frame writes one frame atomically.
func (fw *Writer) Frame(typ byte, payload []byte) error {
	fw.mu.Lock()
	defer fw.mu.Unlock()
	return WriteFrame(fw.w, typ, payload)
}

// Frames writes frames already encoded with AppendFrame in one write.
func (fw *Writer) Frames(encoded []byte) error {
	fw.mu.Lock()
	defer fw.mu.Unlock()
	_, err := fw.w.Write(encoded)
	return err
}

// Stream returns an io.Writer that sends each Write as frames of typ.
func (fw *Writer) Stream(typ byte) io.Writer { return streamWriter{fw, typ} }

type streamWriter struct {
	fw  *Writer
	typ byte
}

func (s streamWriter) Write(p []byte) (int, error) {
	written := 0
	for len(p) > 0 {
		n := min(len(p), ChunkSize)
		if err := s.fw.Frame(s.typ, p[:n]); err != nil {
			return written, err
		}
		written += n
		p = p[n:]
	}
	return written, nil
}

// NewReader buffers r for frame reading.
func NewReader(r io.Reader) *bufio.Reader { return bufio.NewReaderSize(r, 64<<10) }
