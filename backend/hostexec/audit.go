package hostexec

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"
	"unicode/utf8"

	"github.com/loopat/desktop/backend/events"
	"github.com/loopat/desktop/backend/logging"
)

// AuditEntry is one host-exec call as recorded in loops/<id>/host-exec.jsonl.
type AuditEntry struct {
	TS         time.Time `json:"ts"`
	Loop       string    `json:"loop"`
	CLI        string    `json:"cli"`
	Args       []string  `json:"args"`
	Cwd        string    `json:"cwd,omitempty"`
	Exit       int       `json:"exit"`
	DurationMs int64     `json:"durationMs"`
	BytesIn    int64     `json:"bytesIn"`
	BytesOut   int64     `json:"bytesOut"`
	Error      string    `json:"error,omitempty"`
	// Truncated: the loop sent more than an entry keeps (MaxAuditArgBytes of
	// arguments, MaxAuditField of cli/cwd/error); ArgCount and ArgBytes say how
	// much arrived.
	Truncated bool `json:"truncated,omitempty"`
	ArgCount  int  `json:"argCount,omitempty"`
	ArgBytes  int  `json:"argBytes,omitempty"`
}

// AuditFileName is the per-loop audit log; it rotates by size (logging.RotatingFile:
// 10 MiB, 3 older files kept).
const AuditFileName = "host-exec.jsonl"

// Audit entry caps: a loop can send a 4 MiB argv (even one that is refused), the
// audit keeps what a human reads.
const (
	MaxAuditArgBytes = 4 << 10
	MaxAuditField    = 1 << 10
	// MaxAuditEntries is how many of the newest entries Audit returns.
	MaxAuditEntries = 10000
)

// capEntry shortens e to the audit caps, marking it Truncated. It runs after
// scrubbing, so a secret is masked whole before anything is cut.
func capEntry(e *AuditEntry) {
	total := 0
	for _, a := range e.Args {
		total += len(a)
	}
	e.ArgCount, e.ArgBytes = len(e.Args), total
	cut := func(s string, n int) string {
		if len(s) <= n {
			return s
		}
		e.Truncated = true
		for n > 0 && !utf8.RuneStart(s[n]) {
			n-- // do not split a character
		}
		return s[:n]
	}
	e.CLI = cut(e.CLI, MaxAuditField)
	e.Cwd = cut(e.Cwd, MaxAuditField)
	e.Error = cut(e.Error, MaxAuditField)
	left := MaxAuditArgBytes
	for i, a := range e.Args {
		if len(a) > left {
			e.Args = append(e.Args[:i:i], cut(a, left))
			e.Truncated = true
			break
		}
		left -= len(a)
	}
	if !e.Truncated {
		e.ArgCount, e.ArgBytes = 0, 0 // only worth recording when something was cut
	}
}

func (s *Server) auditPath(loopID string) string {
	return filepath.Join(s.ws.LoopsDir(), loopID, AuditFileName)
}

// record scrubs, appends and publishes one entry. Failures are logged, not fatal:
// the call already happened.
func (s *Server) record(e AuditEntry) {
	scrub := s.scrubber()
	if scrub != nil {
		for i, a := range e.Args {
			e.Args[i] = scrub(a)
		}
		e.Error = scrub(e.Error)
	}
	capEntry(&e)
	line, err := json.Marshal(e)
	if err != nil {
		s.log.Error("host-exec audit encode", "loop", e.Loop, "err", err)
		return
	}
	s.auditMu.Lock()
	err = appendLine(s.auditLog(e.Loop), line)
	s.auditMu.Unlock()
	if err != nil {
		s.log.Error("host-exec audit write", "loop", e.Loop, "err", err)
	}
	if s.bus != nil {
		s.bus.Publish(events.LoopTopic(e.Loop, events.LoopHostExec), e)
	}
}

func (s *Server) auditLog(loopID string) *logging.RotatingFile {
	return logging.NewRotatingFile(s.auditPath(loopID), logging.DefaultMaxBytes, logging.DefaultKeep)
}

// appendLine writes one line and closes the file (no descriptor per loop stays open).
func appendLine(f *logging.RotatingFile, line []byte) error {
	_, werr := f.Write(append(line, '\n'))
	cerr := f.Close()
	if werr != nil {
		return fmt.Errorf("append audit log: %w", werr)
	}
	return cerr
}

// Audit returns a loop's host-exec calls, oldest first (empty if none yet): the
// newest MaxAuditEntries across the current and rotated files.
func (s *Server) Audit(loopID string) ([]AuditEntry, error) {
	if err := validLoopID(loopID); err != nil {
		return nil, err
	}
	entries := []AuditEntry{}
	for _, path := range s.auditLog(loopID).Files() {
		var err error
		if entries, err = readAudit(path, entries); err != nil {
			return entries, err
		}
		if len(entries) > MaxAuditEntries {
			entries = append(entries[:0:0], entries[len(entries)-MaxAuditEntries:]...)
		}
	}
	return entries, nil
}

func readAudit(path string, entries []AuditEntry) ([]AuditEntry, error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return entries, nil // rotated away meanwhile
	}
	if err != nil {
		return entries, fmt.Errorf("read host-exec audit: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	// Entries are capped far below this; older, uncapped logs may hold longer lines.
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	for n := 1; sc.Scan(); n++ {
		var e AuditEntry
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			return entries, fmt.Errorf("host-exec audit %s line %d: %w", filepath.Base(path), n, err)
		}
		entries = append(entries, e)
	}
	if err := sc.Err(); err != nil {
		return entries, fmt.Errorf("read host-exec audit: %w", err)
	}
	return entries, nil
}
