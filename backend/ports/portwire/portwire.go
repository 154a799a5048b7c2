// Package portwire is what the host and the relay say about a loop's ports.
//
// Detection (link.TagPorts, relay -> host): one stream the relay keeps open; each
// change of the listening set is one JSON line (Update). The host reads it as
// hostile input: DecodeUpdate bounds the line, the count and every field.
//
// Forwarding (link.TagForward, host -> relay): the host opens one stream per
// accepted connection and writes the container port as 2 bytes big-endian; the relay
// answers one status byte (StatusOK, then raw bytes both ways) after dialing the port
// on a local address where it currently sees a listener, or a refusal and a close.
package portwire

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"unicode"
)

const (
	// MaxPorts caps the ports one update may list; the host ignores the rest.
	MaxPorts = 64
	// MaxLine bounds one update line (64 ports with names fit many times over).
	MaxLine = 16 << 10
	// MaxProcess bounds a process name (Linux comm is 15 bytes).
	MaxProcess = 32
)

// Forward statuses (the relay's one-byte answer).
const (
	StatusOK         byte = 0
	StatusNotListen  byte = 1 // nothing listens on that port inside the sandbox
	StatusDialFailed byte = 2
)

// Port is one listening port inside the sandbox.
type Port struct {
	Port    int    `json:"port"`
	Process string `json:"process,omitempty"`
}

// Update is the full listening set at one moment.
type Update struct {
	Ports []Port `json:"ports"`
}

// ErrLineTooLong is returned for an update line above MaxLine.
var ErrLineTooLong = errors.New("port update line too long")

// NewReader reads update lines of at most MaxLine bytes.
func NewReader(r io.Reader) *bufio.Reader { return bufio.NewReaderSize(r, MaxLine) }

// ReadUpdate reads and validates the next update. Invalid entries (port outside
// 1-65535, duplicates) are dropped, names outside printable ASCII are cleared, and
// only the MaxPorts lowest ports are kept: truncated says some were dropped.
func ReadUpdate(br *bufio.Reader) (u Update, truncated bool, err error) {
	line, err := br.ReadSlice('\n')
	if errors.Is(err, bufio.ErrBufferFull) {
		return Update{}, false, ErrLineTooLong
	}
	if err != nil {
		return Update{}, false, err
	}
	return DecodeUpdate(line)
}

// DecodeUpdate validates one update line (see ReadUpdate).
func DecodeUpdate(line []byte) (Update, bool, error) {
	if len(line) > MaxLine {
		return Update{}, false, ErrLineTooLong
	}
	var raw struct {
		Ports []struct {
			Port    json.Number `json:"port"`
			Process string      `json:"process"`
		} `json:"ports"`
	}
	if err := json.Unmarshal(line, &raw); err != nil {
		return Update{}, false, fmt.Errorf("decode port update: %w", err)
	}
	seen := map[int]bool{}
	var out []Port
	truncated := false
	for _, p := range raw.Ports {
		n, err := p.Port.Int64()
		if err != nil || n < 1 || n > 65535 || seen[int(n)] {
			truncated = true
			continue
		}
		seen[int(n)] = true
		out = append(out, Port{Port: int(n), Process: cleanName(p.Process)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Port < out[j].Port })
	if len(out) > MaxPorts {
		out, truncated = out[:MaxPorts], true
	}
	return Update{Ports: out}, truncated, nil
}

// cleanName keeps a process name only if it is short printable ASCII.
func cleanName(s string) string {
	if len(s) > MaxProcess {
		return ""
	}
	for _, r := range s {
		if r > unicode.MaxASCII || !unicode.IsPrint(r) {
			return ""
		}
	}
	return s
}

// WriteUpdate writes u as one line.
func WriteUpdate(w io.Writer, u Update) error {
	b, err := json.Marshal(u)
	if err != nil {
		return err
	}
	_, err = w.Write(append(b, '\n'))
	return err
}

// WritePort writes the forward request (after the tag).
func WritePort(w io.Writer, port int) error {
	if port < 1 || port > 65535 {
		return fmt.Errorf("port %d out of range", port)
	}
	var b [2]byte
	binary.BigEndian.PutUint16(b[:], uint16(port))
	_, err := w.Write(b[:])
	return err
}

// ReadPort reads the forward request.
func ReadPort(r io.Reader) (int, error) {
	var b [2]byte
	if _, err := io.ReadFull(r, b[:]); err != nil {
		return 0, fmt.Errorf("read forward port: %w", err)
	}
	p := int(binary.BigEndian.Uint16(b[:]))
	if p == 0 {
		return 0, errors.New("forward port 0")
	}
	return p, nil
}
