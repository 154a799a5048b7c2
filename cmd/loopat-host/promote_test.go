//go:build unix

package main

import (
	"bytes"
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

// FuzzPromoteReply feeds arbitrary bytes as the host's promote reply: the command never
// panics, exits 0, 1 or 3, prints at most the reply's summary on stdout, and a well
// formed reply round-trips to its exit code.
func FuzzPromoteReply(f *testing.F) {
	for _, seed := range []string{
		`{"summary":"notes: promoted (1 file(s))\n"}`,
		`{"summary":"notes: CONFLICT in a.md\n","conflict":true}`,
		`{"error":"loop x has no context clones"}`,
		`{"summary":"x","failed":true}`,
		`{"summary":"\u001b[2J","conflict":"yes"}`,
		`{"summary":` + strings.Repeat("[", 10000),
		``, `null`, `[]`, `{"summary":"a"}{"summary":"b"}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var out, errOut strings.Builder
		code := promoteOutcome(bytes.NewReader(data), &out, &errOut)
		if code != promoteOK && code != promoteFailed && code != promoteConflict {
			t.Fatalf("exit code %d", code)
		}
		if out.Len() > len(data) {
			t.Fatalf("printed %d bytes for a %d-byte reply", out.Len(), len(data))
		}
		var rep PromoteReply
		if json.Unmarshal(data, &rep) == nil {
			want := promoteOK
			switch {
			case rep.Error != "":
				want = promoteFailed
			case rep.Conflict:
				want = promoteConflict
			case rep.Failed:
				want = promoteFailed
			}
			if code != want && json.Valid(data) {
				t.Fatalf("reply %+v: exit %d, want %d", rep, code, want)
			}
		}
	})
}
