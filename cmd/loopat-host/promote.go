package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
)

// TagPromote is the link service tag of a promote request. The host side registers
// the same byte (backend/core: hostexec.Server.HandleTag); keep them equal.
const TagPromote byte = 'p'

// PromoteReply is what the host answers on a promote stream (one JSON object, then EOF).
type PromoteReply struct {
	Summary  string `json:"summary"`
	Error    string `json:"error,omitempty"`
	Conflict bool   `json:"conflict,omitempty"`
	Failed   bool   `json:"failed,omitempty"`
}

// Exit codes of `loopat-host promote`.
const (
	promoteOK       = 0
	promoteFailed   = 1 // the host could not promote (or a repository failed)
	promoteConflict = 3 // a repository conflicted: merge origin/main there, then promote again
	promoteNoHost   = 127
)

// promoteSocket is the relay's promote socket, next to the host-exec socket.
func promoteSocket(hostSocket string) string {
	return filepath.Join(filepath.Dir(hostSocket), "promote.sock")
}

func dialPromote() (net.Conn, error) {
	paths := make([]string, 0, len(socketCandidates))
	if p := os.Getenv("LOOPAT_PROMOTE_SOCKET"); p != "" {
		paths = append(paths, p)
	} else if p := os.Getenv("LOOPAT_HOST_SOCKET"); p != "" {
		paths = append(paths, promoteSocket(p))
	} else {
		for _, s := range socketCandidates {
			paths = append(paths, promoteSocket(s))
		}
	}
	var errs []string
	for _, p := range paths {
		c, err := net.Dial("unix", p)
		if err == nil {
			return c, nil
		}
		errs = append(errs, err.Error())
	}
	return nil, fmt.Errorf("%s", strings.Join(errs, "; "))
}

// promoteMain asks the host to promote this loop's context (the host knows which loop
// from the link) and prints what happened per repository.
func promoteMain(args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 {
		fmt.Fprint(stderr, "usage: loopat-host promote   (takes no arguments)\n")
		return 2
	}
	conn, err := dialPromote()
	if err != nil {
		fmt.Fprintf(stderr, "loopat-host: cannot reach the host (%v): the app is not running or this loop is not linked; ask the user to press Promote\n", err)
		return promoteNoHost
	}
	defer conn.Close()
	return promoteOutcome(conn, stdout, stderr)
}

// maxPromoteReply caps the host's answer (one JSON object).
const maxPromoteReply = 1 << 20

// promoteOutcome reads the host's reply from r (at most maxPromoteReply bytes, one
// JSON object), prints it and returns the exit code: 0 ok, 1 failed or unreadable, 3
// conflict. Whatever bytes arrive, it prints only the reply's fields and never panics.
func promoteOutcome(r io.Reader, stdout, stderr io.Writer) int {
	var rep PromoteReply
	if err := json.NewDecoder(io.LimitReader(r, maxPromoteReply)).Decode(&rep); err != nil {
		fmt.Fprintf(stderr, "loopat-host: promote: no answer from the host: %v\n", err)
		return promoteFailed
	}
	fmt.Fprint(stdout, rep.Summary)
	switch {
	case rep.Error != "":
		fmt.Fprintf(stderr, "loopat-host: promote: %s\n", rep.Error)
		return promoteFailed
	case rep.Conflict:
		fmt.Fprint(stderr, "loopat-host: promote: conflict; in that folder run `git merge origin/main`, resolve the files, then promote again\n")
		return promoteConflict
	case rep.Failed:
		return promoteFailed
	}
	return promoteOK
}
