package main

import (
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"

	"github.com/loopat/desktop/backend/contextrepo/promotewire"
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
		return promotewire.ExitUsage
	}
	conn, err := dialPromote()
	if err != nil {
		fmt.Fprintf(stderr, "loopat-host: cannot reach the host (%v): the app is not running or this loop is not linked; ask the user to press Promote\n", err)
		return promotewire.ExitNoHost
	}
	defer conn.Close()
	return promoteOutcome(conn, stdout, stderr)
}

// promoteOutcome reads the host's reply from r (promotewire.Read: bounded, one JSON
// object), prints it and returns its exit code. Whatever bytes arrive, it prints only
// the reply's fields and never panics.
func promoteOutcome(r io.Reader, stdout, stderr io.Writer) int {
	rep, err := promotewire.Read(r)
	if err != nil {
		fmt.Fprintf(stderr, "loopat-host: promote: %v\n", err)
		return promotewire.ExitFailed
	}
	fmt.Fprint(stdout, rep.Summary)
	switch {
	case rep.Error != "":
		fmt.Fprintf(stderr, "loopat-host: promote: %s\n", rep.Error)
	case rep.Conflict:
		fmt.Fprint(stderr, "loopat-host: promote: conflict; in that folder run `git merge origin/main`, resolve the files, then promote again\n")
	}
	return rep.ExitCode()
}
