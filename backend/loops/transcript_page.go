package loops

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"syscall"
)

// Paging bounds. A transcript's lines come from the agent's output (hostile input: a line
// can be up to the agent reader's 64 MiB), so one page holds a bounded number of lines and
// bytes, and a line over LineBytesMax is replaced by a stub naming its size.
const (
	PageLinesDefault = 200
	PageLinesMax     = 1000
	PageBytesMax     = 8 << 20
	LineBytesMax     = 1 << 20
	pageChunk        = 64 << 10
)

// TranscriptPage is a window of a transcript, oldest line first.
type TranscriptPage struct {
	Lines []json.RawMessage `json:"lines"`
	// Start is the byte offset of the first line: pass it as before to get the older page.
	Start int64 `json:"start"`
	// End is the offset just past the last whole line of this page.
	End int64 `json:"end"`
	// More says there are lines before Start.
	More bool `json:"more"`
}

// ErrBadCursor is returned for a before offset that is not a line boundary of the file.
var ErrBadCursor = errors.New("transcript cursor is not a line start")

// ReadPage returns up to limit whole lines ending at byte offset before (0: the end of the
// file). Blank lines, lines that are not valid JSON and a torn tail are skipped as in Read.
// Memory is bounded by PageBytesMax plus one read chunk, whatever the file holds.
func (t *Transcript) ReadPage(before int64, limit int) (TranscriptPage, error) {
	if limit <= 0 {
		limit = PageLinesDefault
	}
	limit = min(limit, PageLinesMax)
	page := TranscriptPage{Lines: []json.RawMessage{}}
	if before < 0 {
		return page, fmt.Errorf("read transcript page: %w", ErrBadCursor)
	}
	f, size, err := openTranscript(t.path)
	if errors.Is(err, fs.ErrNotExist) {
		if before > 0 {
			return page, fmt.Errorf("read transcript page: %w", ErrBadCursor)
		}
		return page, nil
	}
	if err != nil {
		return page, fmt.Errorf("read transcript page: %w", err)
	}
	defer f.Close()

	r := &backScanner{f: f}
	end := before
	switch {
	case before == 0:
		nl, err := r.lastNewline(size)
		if err != nil {
			return page, fmt.Errorf("read transcript page: %w", err)
		}
		end = nl + 1 // 0 when the file has no whole line
	case before > size:
		return page, fmt.Errorf("read transcript page: %w", ErrBadCursor)
	default:
		if nl, err := r.lastNewline(before); err != nil || nl != before-1 {
			return page, fmt.Errorf("read transcript page: %w", ErrBadCursor)
		}
	}
	page.End = end

	var rev []json.RawMessage
	budget := PageBytesMax
	cur := end
	for cur > 0 && len(rev) < limit {
		nl, err := r.lastNewline(cur - 1)
		if err != nil {
			return page, fmt.Errorf("read transcript page: %w", err)
		}
		start := nl + 1
		n := cur - 1 - start // without the newline
		if n > LineBytesMax {
			rev = append(rev, oversizedLine(n))
			cur = start
			continue
		}
		if int(n) > budget && len(rev) > 0 {
			break // the next page starts with this line
		}
		line := make([]byte, n)
		if _, err := f.ReadAt(line, start); err != nil {
			return page, fmt.Errorf("read transcript page: %w", err)
		}
		cur = start
		line = bytes.TrimSpace(line)
		if len(line) == 0 || !json.Valid(line) {
			continue
		}
		budget -= len(line)
		rev = append(rev, json.RawMessage(line))
	}
	page.Start = cur
	page.More = cur > 0
	for i := len(rev) - 1; i >= 0; i-- {
		page.Lines = append(page.Lines, rev[i])
	}
	return page, nil
}

// oversizedLine stands in for a line too large to send to the UI; the file keeps it.
func oversizedLine(n int64) json.RawMessage {
	return json.RawMessage(fmt.Sprintf(`{"type":"oversized","bytes":%d}`, n))
}

// openTranscript opens path for reading without following a link or blocking on a FIFO,
// and only if it is a regular file.
func openTranscript(path string) (*os.File, int64, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, 0, err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, 0, err
	}
	if !st.Mode().IsRegular() {
		f.Close()
		return nil, 0, fmt.Errorf("%s is not a regular file", path)
	}
	return f, st.Size(), nil
}

// backScanner finds newlines going backwards through a file, one chunk in memory.
type backScanner struct {
	f        io.ReaderAt
	buf      []byte
	bufStart int64
}

// lastNewline is the offset of the last '\n' in [0, pos), or -1.
func (b *backScanner) lastNewline(pos int64) (int64, error) {
	for pos > 0 {
		bufEnd := b.bufStart + int64(len(b.buf))
		if pos > b.bufStart && pos <= bufEnd {
			if i := bytes.LastIndexByte(b.buf[:pos-b.bufStart], '\n'); i >= 0 {
				return b.bufStart + int64(i), nil
			}
			pos = b.bufStart
			continue
		}
		start := max(0, pos-pageChunk)
		if cap(b.buf) < int(pos-start) {
			b.buf = make([]byte, pageChunk)
		}
		b.buf = b.buf[:pos-start]
		if _, err := b.f.ReadAt(b.buf, start); err != nil && !errors.Is(err, io.EOF) {
			return 0, err
		}
		b.bufStart = start
	}
	return -1, nil
}

// MessagesPage returns a page of the loop's transcript ending at byte offset before
// (0: the newest lines); see Transcript.ReadPage for the bounds.
func (m *Manager) MessagesPage(id string, before int64, limit int) (TranscriptPage, error) {
	if _, err := m.store.Get(id); err != nil {
		return TranscriptPage{Lines: []json.RawMessage{}}, err
	}
	p, err := m.store.Transcript(id).ReadPage(before, limit)
	if errors.Is(err, ErrBadCursor) {
		return p, fmt.Errorf("%w: position %d is not the start of a transcript line", ErrBadInput, before)
	}
	return p, err
}
