package loops

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

func writeLines(t *testing.T, path string, n int) {
	t.Helper()
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, `{"type":"assistant","n":%d}`+"\n", i)
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
}

func lineN(t *testing.T, raw json.RawMessage) int {
	t.Helper()
	var v struct{ N int }
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatalf("line %s: %v", raw, err)
	}
	return v.N
}

// Paging backwards from the end visits every line once, in order, and stops.
func TestTranscriptPagesWalkBackToTheStart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "messages.jsonl")
	writeLines(t, path, 2500)
	tr := NewTranscript(path)
	seen := []int{}
	before, pages := int64(0), 0
	for {
		p, err := tr.ReadPage(before, 300)
		if err != nil {
			t.Fatal(err)
		}
		pages++
		chunk := []int{}
		for _, l := range p.Lines {
			chunk = append(chunk, lineN(t, l))
		}
		seen = append(chunk, seen...)
		if !p.More {
			if p.Start != 0 {
				t.Fatalf("last page starts at %d", p.Start)
			}
			break
		}
		if p.Start >= before && before != 0 {
			t.Fatalf("cursor did not move back: %d -> %d", before, p.Start)
		}
		before = p.Start
	}
	if pages != 9 || len(seen) != 2500 {
		t.Fatalf("%d pages, %d lines", pages, len(seen))
	}
	for i, n := range seen {
		if n != i {
			t.Fatalf("line %d is %d", i, n)
		}
	}
}

// A torn tail, blank and non-JSON lines are skipped; the end is the last whole line.
func TestTranscriptPageSkipsTornAndInvalidLines(t *testing.T) {
	path := filepath.Join(t.TempDir(), "messages.jsonl")
	body := `{"type":"a"}` + "\n\n" + "not json\n" + `{"type":"b"}` + "\n" + `{"type":"tor`
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	p, err := NewTranscript(path).ReadPage(0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Lines) != 2 || string(p.Lines[1]) != `{"type":"b"}` || p.End != int64(strings.LastIndex(body, "\n")+1) || p.More {
		t.Fatalf("page %+v", p)
	}
	if p, err := NewTranscript(filepath.Join(t.TempDir(), "none")).ReadPage(0, 10); err != nil || len(p.Lines) != 0 || p.More {
		t.Fatalf("missing transcript: %+v %v", p, err)
	}
}

// A line larger than LineBytesMax (the agent prints what it likes) becomes a stub, and a
// page never holds more than PageBytesMax, however large the lines.
func TestTranscriptPageBoundsHugeLines(t *testing.T) {
	path := filepath.Join(t.TempDir(), "messages.jsonl")
	big := `{"type":"assistant","x":"` + strings.Repeat("a", LineBytesMax+10) + `"}`
	mid := `{"type":"assistant","x":"` + strings.Repeat("b", 900<<10) + `"}`
	var b strings.Builder
	b.WriteString(`{"type":"first"}` + "\n" + big + "\n")
	for range 12 {
		b.WriteString(mid + "\n")
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	tr := NewTranscript(path)
	p, err := tr.ReadPage(0, 100)
	if err != nil {
		t.Fatal(err)
	}
	total := 0
	for _, l := range p.Lines {
		total += len(l)
	}
	if total > PageBytesMax || len(p.Lines) != 9 || !p.More {
		t.Fatalf("first page: %d lines, %d bytes, more %v", len(p.Lines), total, p.More)
	}
	for p.More {
		if p, err = tr.ReadPage(p.Start, 100); err != nil {
			t.Fatal(err)
		}
		if !p.More {
			break
		}
	}
	if len(p.Lines) != 5 || string(p.Lines[0]) != `{"type":"first"}` ||
		string(p.Lines[1]) != fmt.Sprintf(`{"type":"oversized","bytes":%d}`, len(big)) {
		t.Fatalf("oldest page: %d lines, %.60s / %.60s", len(p.Lines), p.Lines[0], p.Lines[1])
	}
}

// A cursor that is not a line start, past the end or negative is refused; so is a
// transcript that is a symlink or a FIFO (the read must not follow or block).
func TestTranscriptPageRefusesBadCursorsAndOddFiles(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "messages.jsonl")
	writeLines(t, path, 3)
	tr := NewTranscript(path)
	for _, before := range []int64{-1, 3, 10_000} {
		if _, err := tr.ReadPage(before, 10); !errors.Is(err, ErrBadCursor) {
			t.Errorf("before %d: %v", before, err)
		}
	}
	first, _ := tr.ReadPage(0, 1)
	if p, err := tr.ReadPage(first.Start, 10); err != nil || len(p.Lines) != 2 {
		t.Fatalf("a real cursor: %+v %v", p, err)
	}

	secret := filepath.Join(dir, "secret")
	os.WriteFile(secret, []byte(`{"type":"secret"}`+"\n"), 0o600)
	link := filepath.Join(dir, "link.jsonl")
	if err := os.Symlink(secret, link); err != nil {
		t.Fatal(err)
	}
	if p, err := NewTranscript(link).ReadPage(0, 10); err == nil {
		t.Fatalf("followed a symlink: %+v", p)
	}
	fifo := filepath.Join(dir, "fifo.jsonl")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Skip("no fifo:", err)
	}
	if _, err := NewTranscript(fifo).ReadPage(0, 10); err == nil {
		t.Fatal("read a FIFO")
	}
}
