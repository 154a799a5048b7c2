// Package secrets masks known secret values in text before it is stored or shown:
// transcripts, logs, the host-exec audit and error messages.
package secrets

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"io"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
)

// Mask replaces every secret occurrence.
const Mask = "***"

// MinLen is the shortest value that is masked: shorter ones ("1", "yes") would mask
// ordinary text everywhere.
const MinLen = 4

// minLineLen is the shortest line of a multi-line secret (a PEM key) masked on its own,
// so a partial print of the key is caught too.
const minLineLen = 16

// StreamWindow bounds how much a Writer holds back waiting for the rest of a secret
// split across writes. Longer secrets are masked only where they appear within one
// write; their lines (and JSON forms) are still caught.
const StreamWindow = 4096

// Scrubber masks registered secret values. It is safe for concurrent use; Add may be
// called at any time (e.g. after a vault rotation; old values stay masked).
type Scrubber struct {
	mu     sync.Mutex
	values map[string]struct{}
	snap   atomic.Pointer[patternSet]
}

// patternSet is an immutable snapshot of the patterns with a filter on their first
// MinLen bytes, so scanning costs one table probe per input byte whatever the number
// of secrets.
type patternSet struct {
	patterns [][]byte // longest first
	stream   [][]byte // patterns no longer than StreamWindow
	maxLen   int      // longest stream pattern
	filter   [filterBits / 64]uint64
	byPrefix map[uint32]*bucket // first 4 bytes -> patterns
}

// bucket holds the patterns sharing their first 4 bytes. Tokens often share a prefix
// (ghp_, sk-ant-), so patterns of 8+ bytes are keyed again by bytes 4..8.
type bucket struct {
	long  map[uint32][][]byte // bytes 4..8 -> patterns, longest first
	short [][]byte            // 4..7 bytes, longest first
}

const filterBits = 1 << 16

func prefixKey(b []byte) uint32 { return binary.LittleEndian.Uint32(b) }

func filterSlot(k uint32) uint32 { return (k * 2654435761) >> 16 }

// New returns a Scrubber that masks values.
func New(values ...string) *Scrubber {
	s := &Scrubber{values: map[string]struct{}{}}
	s.snap.Store(buildPatterns(nil))
	s.Add(values...)
	return s
}

// Add registers secret values (shorter than MinLen are ignored).
func (s *Scrubber) Add(values ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	changed := false
	for _, v := range values {
		if len(v) < MinLen {
			continue
		}
		if _, ok := s.values[v]; !ok {
			s.values[v] = struct{}{}
			changed = true
		}
	}
	if changed {
		s.snap.Store(buildPatterns(s.values))
	}
}

// AddEnv registers the values of env variables whose names look like credentials
// (API_KEY, GITHUB_TOKEN, DB_PASSWORD, ...).
func (s *Scrubber) AddEnv(env map[string]string) {
	var vals []string
	for k, v := range env {
		if LooksSecretName(k) {
			vals = append(vals, v)
		}
	}
	s.Add(vals...)
}

// AddEnvList is AddEnv for "NAME=value" entries (os.Environ, exec env).
func (s *Scrubber) AddEnvList(env []string) {
	m := make(map[string]string, len(env))
	for _, kv := range env {
		if k, v, ok := strings.Cut(kv, "="); ok {
			m[k] = v
		}
	}
	s.AddEnv(m)
}

// LooksSecretName reports whether an env or attribute name suggests a credential.
func LooksSecretName(name string) bool {
	up := strings.ToUpper(name)
	segs := strings.FieldsFunc(up, func(r rune) bool { return r == '_' || r == '-' || r == '.' })
	if len(segs) == 0 {
		return false
	}
	switch segs[len(segs)-1] {
	case "SOCK", "SOCKET", "FILE", "PATH", "DIR": // SSH_AUTH_SOCK, GOOGLE_KEY_FILE: a location, not the secret
		return false
	}
	for _, seg := range segs {
		switch seg {
		case "PASS", "PASSWORD", "PASSWD", "PASSPHRASE", "AUTH", "PAT", "PRIVATE", "CREDENTIAL", "CREDENTIALS", "COOKIE":
			return true
		}
		for _, suf := range []string{"KEY", "TOKEN", "SECRET", "PASSWORD"} {
			if strings.HasSuffix(seg, suf) && seg != "KEYBOARD" {
				return true
			}
		}
	}
	return false
}

func buildPatterns(values map[string]struct{}) *patternSet {
	seen := map[string]struct{}{}
	add := func(p string) {
		if len(p) >= MinLen {
			seen[p] = struct{}{}
		}
	}
	for v := range values {
		add(v)
		// How the value looks inside a JSON string (transcripts, JSON logs).
		for _, esc := range jsonForms(v) {
			add(esc)
		}
		if strings.Contains(v, "\n") {
			for _, line := range strings.Split(v, "\n") {
				if line = strings.TrimRight(line, "\r"); len(line) >= minLineLen {
					add(line)
					for _, esc := range jsonForms(line) {
						add(esc)
					}
				}
			}
		}
	}
	ps := &patternSet{}
	for p := range seen {
		ps.patterns = append(ps.patterns, []byte(p))
	}
	slices.SortFunc(ps.patterns, func(a, b []byte) int {
		if len(a) != len(b) {
			return len(b) - len(a)
		}
		return bytes.Compare(a, b)
	})
	ps.byPrefix = map[uint32]*bucket{}
	for _, p := range ps.patterns {
		k := prefixKey(p)
		b := ps.byPrefix[k]
		if b == nil {
			b = &bucket{long: map[uint32][][]byte{}}
			ps.byPrefix[k] = b
		}
		if len(p) >= 8 {
			k2 := prefixKey(p[4:])
			b.long[k2] = append(b.long[k2], p)
		} else {
			b.short = append(b.short, p)
		}
		slot := filterSlot(k)
		ps.filter[slot/64] |= 1 << (slot % 64)
		if len(p) <= StreamWindow {
			ps.stream = append(ps.stream, p)
			ps.maxLen = max(ps.maxLen, len(p))
		}
	}
	return ps
}

func jsonForms(v string) []string {
	var out []string
	plain, _ := json.Marshal(v)
	if s := string(plain[1 : len(plain)-1]); s != v {
		out = append(out, s)
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
	if s := strings.TrimSuffix(buf.String(), "\n"); len(s) >= 2 {
		if s = s[1 : len(s)-1]; s != v && (len(out) == 0 || s != out[0]) {
			out = append(out, s)
		}
	}
	return out
}

type span struct{ start, end int }

// findSpans returns the merged, sorted ranges of in covered by any pattern.
func findSpans(in []byte, ps *patternSet) []span {
	if len(ps.patterns) == 0 {
		return nil
	}
	var spans []span
	for i := 0; i+MinLen <= len(in); i++ {
		k := prefixKey(in[i:])
		slot := filterSlot(k)
		if ps.filter[slot/64]&(1<<(slot%64)) == 0 {
			continue
		}
		b := ps.byPrefix[k]
		if b == nil {
			continue
		}
		end := -1
		if i+8 <= len(in) {
			for _, p := range b.long[prefixKey(in[i+4:])] { // longest first
				if bytes.HasPrefix(in[i:], p) {
					end = i + len(p)
					break
				}
			}
		}
		if end < 0 {
			for _, p := range b.short {
				if bytes.HasPrefix(in[i:], p) {
					end = i + len(p)
					break
				}
			}
		}
		if end < 0 {
			continue
		}
		if n := len(spans); n > 0 && i < spans[n-1].end {
			spans[n-1].end = max(spans[n-1].end, end)
		} else {
			spans = append(spans, span{i, end})
		}
	}
	return spans
}

func render(dst, in []byte, spans []span) []byte {
	prev := 0
	for _, sp := range spans {
		dst = append(dst, in[prev:sp.start]...)
		dst = append(dst, Mask...)
		prev = sp.end
	}
	return append(dst, in[prev:]...)
}

// Bytes returns in with secrets masked. When nothing matches it returns in itself.
func (s *Scrubber) Bytes(in []byte) []byte {
	ps := s.snap.Load()
	spans := findSpans(in, ps)
	if len(spans) == 0 {
		return in
	}
	return render(make([]byte, 0, len(in)), in, spans)
}

// String returns in with secrets masked.
func (s *Scrubber) String(in string) string {
	ps := s.snap.Load()
	if len(ps.patterns) == 0 {
		return in
	}
	b := []byte(in)
	spans := findSpans(b, ps)
	if len(spans) == 0 {
		return in
	}
	return string(render(make([]byte, 0, len(b)), b, spans))
}

// Contains reports whether in holds any registered secret (for tests and audits).
func (s *Scrubber) Contains(in string) bool {
	return len(findSpans([]byte(in), s.snap.Load())) > 0
}

// Error returns err with a masked message (nil stays nil). errors.Is/As still see the original.
func (s *Scrubber) Error(err error) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	if scrubbed := s.String(msg); scrubbed != msg {
		return &scrubbedError{msg: scrubbed, err: err}
	}
	return err
}

type scrubbedError struct {
	msg string
	err error
}

func (e *scrubbedError) Error() string { return e.msg }
func (e *scrubbedError) Unwrap() error { return e.err }

// Writer masks secrets in a byte stream (PTY output, transcript files). A secret split
// across Write calls is still masked: the Writer holds back a tail that could be the
// start of a secret until the next Write or Flush.
type Writer struct {
	s       *Scrubber
	w       io.Writer
	mu      sync.Mutex
	pending []byte
	out     []byte
}

// NewWriter returns a Writer masking secrets of s on their way to w. Call Flush (or
// Close) at the end of the stream.
func (s *Scrubber) NewWriter(w io.Writer) *Writer { return &Writer{s: s, w: w} }

// Write masks and forwards p, possibly holding back up to StreamWindow-1 bytes.
func (w *Writer) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	ps := w.s.snap.Load()
	if len(ps.patterns) == 0 && len(w.pending) == 0 {
		_, err := w.w.Write(p)
		return len(p), err
	}
	buf := append(w.pending, p...)
	spans := findSpans(buf, ps)
	hold := holdPoint(buf, ps)
	for _, sp := range spans {
		if sp.start < hold && sp.end > hold {
			hold = sp.end // a complete secret crossing the hold point: emit it masked
		}
	}
	var emitSpans []span
	for _, sp := range spans {
		if sp.end <= hold {
			emitSpans = append(emitSpans, sp)
		}
	}
	w.out = render(w.out[:0], buf[:hold], emitSpans)
	w.pending = append(make([]byte, 0, len(buf)-hold+len(p)), buf[hold:]...)
	if len(w.out) == 0 {
		return len(p), nil
	}
	if _, err := w.w.Write(w.out); err != nil {
		return len(p), err
	}
	return len(p), nil
}

// holdPoint is the earliest index whose suffix could still grow into a stream pattern.
func holdPoint(buf []byte, ps *patternSet) int {
	hold := len(buf)
	for _, p := range ps.stream {
		for i := max(0, len(buf)-len(p)+1); i < hold; i++ {
			if buf[i] == p[0] && bytes.HasPrefix(p, buf[i:]) {
				hold = i
				break
			}
		}
	}
	return hold
}

// Flush writes out what is held back, masked.
func (w *Writer) Flush() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.pending) == 0 {
		return nil
	}
	out := w.s.Bytes(w.pending)
	w.pending = w.pending[:0]
	_, err := w.w.Write(out)
	return err
}

// Close flushes, and closes the underlying writer if it is an io.Closer.
func (w *Writer) Close() error {
	err := w.Flush()
	if c, ok := w.w.(io.Closer); ok {
		err = errors.Join(err, c.Close())
	}
	return err
}
