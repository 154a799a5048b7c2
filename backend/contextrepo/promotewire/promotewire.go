// Package promotewire is the promote protocol spoken on a link.TagPromote stream
// between `loopat-host promote` (in the sandbox) and the host: the sandbox sends
// nothing (the host knows the loop from the link the stream came on), the host answers
// one JSON Reply and closes. Both sides use this package, so the reply and the exit
// codes the agent sees are defined once. It depends on nothing but the standard
// library: it is built into the static forwarder.
package promotewire

import (
	"encoding/json"
	"fmt"
	"io"
)

// Reply is the host's one answer on a promote stream.
type Reply struct {
	Summary  string `json:"summary"`
	Error    string `json:"error,omitempty"`
	Conflict bool   `json:"conflict,omitempty"`
	Failed   bool   `json:"failed,omitempty"`
}

// MaxReply caps what the sandbox side reads of a reply.
const MaxReply = 1 << 20

// Exit codes of `loopat-host promote`.
const (
	ExitOK       = 0
	ExitFailed   = 1 // the host could not promote, a repository failed, or no readable answer
	ExitUsage    = 2
	ExitConflict = 3 // a repository conflicted: merge origin/main there, then promote again
	ExitNoHost   = 127
)

// ExitCode is the exit code the agent gets for rep.
func (rep Reply) ExitCode() int {
	switch {
	case rep.Error != "":
		return ExitFailed
	case rep.Conflict:
		return ExitConflict
	case rep.Failed:
		return ExitFailed
	}
	return ExitOK
}

// Write sends rep on w (the host side).
func Write(w io.Writer, rep Reply) error {
	return json.NewEncoder(w).Encode(rep)
}

// Read reads one reply from r, at most MaxReply bytes, whatever r holds.
func Read(r io.Reader) (Reply, error) {
	var rep Reply
	if err := json.NewDecoder(io.LimitReader(r, MaxReply)).Decode(&rep); err != nil {
		return Reply{}, fmt.Errorf("no answer from the host: %w", err)
	}
	return rep, nil
}

// Refuse answers a promote stream the host will not serve (e.g. one already running).
func Refuse(w io.Writer, reason string) {
	_ = Write(w, Reply{Error: reason})
}
