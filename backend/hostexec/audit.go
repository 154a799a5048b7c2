package hostexec

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"
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
}

// AuditFileName is the per-loop audit log.
const AuditFileName = "host-exec.jsonl"

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
	line, err := json.Marshal(e)
	if err != nil {
		s.log.Error("host-exec audit encode", "loop", e.Loop, "err", err)
		return
	}
	s.auditMu.Lock()
	err = appendLine(s.auditPath(e.Loop), line)
	s.auditMu.Unlock()
	if err != nil {
		s.log.Error("host-exec audit write", "loop", e.Loop, "err", err)
	}
	if s.bus != nil {
		s.bus.Publish("loop:"+e.Loop+":hostexec", e)
	}
}

func appendLine(path string, line []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("create audit folder: %w", err)
	}
	f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600)
	if err != nil {
		return fmt.Errorf("open audit log: %w", err)
	}
	_, werr := f.Write(append(line, '\n'))
	cerr := f.Close()
	if werr != nil {
		return fmt.Errorf("append audit log: %w", werr)
	}
	return cerr
}

// Audit returns a loop's host-exec calls, oldest first (empty if none yet).
func (s *Server) Audit(loopID string) ([]AuditEntry, error) {
	if err := validLoopID(loopID); err != nil {
		return nil, err
	}
	f, err := os.Open(s.auditPath(loopID))
	if errors.Is(err, os.ErrNotExist) {
		return []AuditEntry{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read host-exec audit: %w", err)
	}
	defer f.Close()
	entries := []AuditEntry{}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	for n := 1; sc.Scan(); n++ {
		var e AuditEntry
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			return entries, fmt.Errorf("host-exec audit line %d: %w", n, err)
		}
		entries = append(entries, e)
	}
	if err := sc.Err(); err != nil {
		return entries, fmt.Errorf("read host-exec audit: %w", err)
	}
	return entries, nil
}
