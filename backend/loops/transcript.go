package loops

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"sync"
)

// Transcript is a loop's messages.jsonl: one JSON value per line, append-only.
// Each line goes out in a single O_APPEND write, so after a crash a line is either whole
// or a torn tail without its newline, which reads ignore.
type Transcript struct {
	path string
	mu   sync.Mutex
}

// NewTranscript returns the transcript stored at path.
func NewTranscript(path string) *Transcript { return &Transcript{path: path} }

// Append writes one JSON value as a line. line must not contain a newline.
func (t *Transcript) Append(line []byte) error {
	line = bytes.TrimSpace(line)
	if len(line) == 0 || bytes.IndexByte(line, '\n') >= 0 {
		return fmt.Errorf("append transcript: line must be one non-empty line")
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	f, err := os.OpenFile(t.path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("append transcript: %w", err)
	}
	defer f.Close()
	// If an earlier crash left a torn tail, start on a fresh line so this one stays whole.
	if st, err := f.Stat(); err == nil && st.Size() > 0 {
		if last, err := lastByte(t.path, st.Size()); err == nil && last != '\n' {
			line = append([]byte{'\n'}, line...)
		}
	}
	buf := make([]byte, 0, len(line)+1)
	buf = append(append(buf, line...), '\n')
	if _, err := f.Write(buf); err != nil {
		return fmt.Errorf("append transcript: %w", err)
	}
	return nil
}

// AppendJSON marshals v and appends it.
func (t *Transcript) AppendJSON(v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode transcript line: %w", err)
	}
	return t.Append(data)
}

// Read returns every whole line. A trailing line without newline (torn by a crash) and
// lines that are not valid JSON are skipped.
func (t *Transcript) Read() ([]json.RawMessage, error) {
	data, err := os.ReadFile(t.path)
	if os.IsNotExist(err) {
		return []json.RawMessage{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read transcript: %w", err)
	}
	if i := bytes.LastIndexByte(data, '\n'); i >= 0 {
		data = data[:i+1]
	} else {
		data = nil
	}
	out := []json.RawMessage{}
	for _, line := range bytes.Split(data, []byte{'\n'}) {
		line = bytes.TrimSpace(line)
		if len(line) == 0 || !json.Valid(line) {
			continue
		}
		out = append(out, json.RawMessage(append([]byte(nil), line...)))
	}
	return out, nil
}

func lastByte(path string, size int64) (byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	b := make([]byte, 1)
	if _, err := f.ReadAt(b, size-1); err != nil {
		return 0, err
	}
	return b[0], nil
}
