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

	"github.com/loopat/desktop/backend/contextrepo/promotewire"
	"github.com/loopat/desktop/backend/link"
)

// `loopat-host promote` reaches the host through the relay's promote socket as a
// link.TagPromote stream and maps the reply to its output and exit code.
func TestPromoteThroughRelay(t *testing.T) {
	socket, sess, _ := startRelay(t)
	if fi, err := os.Stat(promoteSocket(socket)); err != nil || fi.Mode().Perm() != 0o666 {
		t.Fatalf("promote socket: %v %v", fi, err)
	}
	var reply atomic.Value
	var calls atomic.Int32
	sess.Handle(link.TagPromote, func(c net.Conn) {
		defer c.Close()
		calls.Add(1)
		_ = json.NewEncoder(c).Encode(reply.Load().(promotewire.Reply))
	})
	cases := []struct {
		rep      promotewire.Reply
		code     int
		out, err string
	}{
		{promotewire.Reply{Summary: "notes: promoted (1 file(s))\n"}, 0, "notes: promoted (1 file(s))\n", ""},
		{promotewire.Reply{Summary: "notes: CONFLICT in a.md\n", Conflict: true}, 3, "notes: CONFLICT in a.md\n", "git merge origin/main"},
		{promotewire.Reply{Error: "loop x has no context clones"}, 1, "", "no context clones"},
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
		if code != promotewire.ExitOK && code != promotewire.ExitFailed && code != promotewire.ExitConflict {
			t.Fatalf("exit code %d", code)
		}
		if out.Len() > len(data) {
			t.Fatalf("printed %d bytes for a %d-byte reply", out.Len(), len(data))
		}
		var rep promotewire.Reply
		if json.Unmarshal(data, &rep) == nil {
			want := promotewire.ExitOK
			switch {
			case rep.Error != "":
				want = promotewire.ExitFailed
			case rep.Conflict:
				want = promotewire.ExitConflict
			case rep.Failed:
				want = promotewire.ExitFailed
			}
			if code != want && json.Valid(data) {
				t.Fatalf("reply %+v: exit %d, want %d", rep, code, want)
			}
		}
	})
}
