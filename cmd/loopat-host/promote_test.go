//go:build unix

package main

import (
	"encoding/json"
	"net"
	"os"
	"strings"
	"sync/atomic"
	"testing"
)

// `loopat-host promote` reaches the host through the relay's promote socket as a
// TagPromote stream and maps the reply to its output and exit code.
func TestPromoteThroughRelay(t *testing.T) {
	socket, sess, _ := startRelay(t)
	if fi, err := os.Stat(promoteSocket(socket)); err != nil || fi.Mode().Perm() != 0o666 {
		t.Fatalf("promote socket: %v %v", fi, err)
	}
	var reply atomic.Value
	var calls atomic.Int32
	sess.Handle(TagPromote, func(c net.Conn) {
		defer c.Close()
		calls.Add(1)
		_ = json.NewEncoder(c).Encode(reply.Load().(PromoteReply))
	})
	cases := []struct {
		rep      PromoteReply
		code     int
		out, err string
	}{
		{PromoteReply{Summary: "notes: promoted (1 file(s))\n"}, 0, "notes: promoted (1 file(s))\n", ""},
		{PromoteReply{Summary: "notes: CONFLICT in a.md\n", Conflict: true}, 3, "notes: CONFLICT in a.md\n", "git merge origin/main"},
		{PromoteReply{Error: "loop x has no context clones"}, 1, "", "no context clones"},
	}
	for _, c := range cases {
		reply.Store(c.rep)
		out, errOut, code := forwardCmd(socket, "", "promote")
		if code != c.code || out != c.out || !strings.Contains(errOut, c.err) {
			t.Errorf("reply %+v: code %d out %q err %q", c.rep, code, out, errOut)
		}
	}
	if calls.Load() != int32(len(cases)) {
		t.Fatalf("host saw %d promote streams, want %d", calls.Load(), len(cases))
	}
	if _, errOut, code := forwardCmd("/nonexistent/host.sock", "", "promote"); code != 127 || !strings.Contains(errOut, "cannot reach the host") {
		t.Fatalf("unreachable: %d %q", code, errOut)
	}
}
