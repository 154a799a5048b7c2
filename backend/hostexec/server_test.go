//go:build unix

package hostexec

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/loopat/desktop/backend/config"
	"github.com/loopat/desktop/backend/events"
	"github.com/loopat/desktop/backend/hostexec/wire"
	"github.com/loopat/desktop/backend/link"
)

type fixture struct {
	srv   *Server
	bus   *events.Bus
	relay *link.Relay
}

// newFixture binds loop "loop-a" to a real link session over an in-memory pipe.
func newFixture(t *testing.T, p Policy) *fixture {
	t.Helper()
	ws, err := config.NewWorkspace(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	bus := events.New()
	srv := NewServer(ws, bus)
	srv.KillGrace = 500 * time.Millisecond
	a, b := net.Pipe()
	sess, err := link.Serve(a, nil)
	if err != nil {
		t.Fatal(err)
	}
	relay, err := link.NewRelay(b)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sess.Close(); relay.Close() })
	if err := srv.Bind("loop-a", p, sess); err != nil {
		t.Fatal(err)
	}
	return &fixture{srv: srv, bus: bus, relay: relay}
}

type result struct {
	stdout, stderr string
	exit           wire.Exit
}

func (f *fixture) open(t *testing.T) net.Conn {
	t.Helper()
	c, err := f.relay.Open(link.TagHostExec)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func readResult(t *testing.T, c net.Conn) result {
	t.Helper()
	var res result
	var out, errb bytes.Buffer
	c.SetReadDeadline(time.Now().Add(20 * time.Second))
	for {
		typ, p, err := wire.ReadFrame(c, wire.MaxData)
		if err != nil {
			t.Fatalf("read result: %v (stdout so far %q)", err, out.String())
		}
		switch typ {
		case wire.TypeStdout:
			out.Write(p)
		case wire.TypeStderr:
			errb.Write(p)
		case wire.TypeExit:
			e, err := wire.DecodeExit(p)
			if err != nil {
				t.Fatal(err)
			}
			res.stdout, res.stderr, res.exit = out.String(), errb.String(), e
			return res
		}
	}
}

func (f *fixture) call(t *testing.T, req wire.Request, stdin string) result {
	t.Helper()
	c := f.open(t)
	fw := wire.NewWriter(c)
	if err := fw.Frame(wire.TypeRequest, wire.EncodeRequest(req)); err != nil {
		t.Fatal(err)
	}
	go func() {
		if stdin != "" {
			fw.Stream(wire.TypeStdin).Write([]byte(stdin))
		}
		fw.Frame(wire.TypeStdinEOF, nil)
	}()
	return readResult(t, c)
}

var declared = Policy{Enabled: true, CLIs: []string{"printf", "cat", "sh", "sleep", "no-such-cli-xyz"}, Timeout: time.Minute}

func TestDeclaredCLIRunsWithExactArgs(t *testing.T) {
	f := newFixture(t, declared)
	args := []string{"%s|", `it's "quoted"`, "back\\slash", "new\nline", "$(x)", "\xff\xfe"}
	res := f.call(t, wire.Request{Argv: append([]string{"printf"}, args...), Cwd: "/work"}, "")
	want := strings.Join(args[1:], "|") + "|"
	if res.exit.Code != 0 || res.stdout != want {
		t.Fatalf("printf: exit %+v stdout %q want %q", res.exit, res.stdout, want)
	}
	// It ran in the loop's host workdir.
	res = f.call(t, wire.Request{Argv: []string{"sh", "-c", "pwd; echo err >&2; echo $LOOPAT_LOOP_ID"}}, "")
	if res.stdout != f.srv.WorkDir("loop-a")+"\nloop-a\n" || res.stderr != "err\n" {
		t.Fatalf("sh: stdout %q stderr %q", res.stdout, res.stderr)
	}
}

func TestStdinAndExitCodeRoundTrip(t *testing.T) {
	f := newFixture(t, declared)
	in := strings.Repeat("binary\x00\xffdata\n", 20000) // > several frames
	res := f.call(t, wire.Request{Argv: []string{"cat"}}, in)
	if res.exit.Code != 0 || res.stdout != in {
		t.Fatalf("cat: exit %+v, %d bytes back of %d", res.exit, len(res.stdout), len(in))
	}
	res = f.call(t, wire.Request{Argv: []string{"sh", "-c", "exit 7"}}, "")
	if res.exit.Code != 7 || res.exit.Message != "" {
		t.Fatalf("exit code: %+v", res.exit)
	}
	entries, err := f.srv.Audit("loop-a")
	if err != nil || len(entries) != 2 {
		t.Fatalf("audit: %v %+v", err, entries)
	}
	if e := entries[0]; e.CLI != "cat" || e.BytesIn != int64(len(in)) || e.BytesOut != int64(len(in)) || e.Exit != 0 {
		t.Fatalf("cat audit: %+v", e)
	}
	if entries[1].Exit != 7 || entries[1].Args[1] != "exit 7" {
		t.Fatalf("sh audit: %+v", entries[1])
	}
}

func TestPolicyAndIdentityRefusals(t *testing.T) {
	f := newFixture(t, declared)
	events, cancel := f.bus.Subscribe(16, func(topic string) bool { return topic == "loop:loop-a:hostexec" })
	defer cancel()
	cases := []struct {
		req  wire.Request
		code int32
		msg  string
	}{
		{wire.Request{Argv: []string{"ls"}}, ExitRefused, "host CLI 'ls' is not declared"},
		{wire.Request{Argv: []string{"/bin/sh", "-c", "id"}}, ExitRefused, "not a plain command name"},
		{wire.Request{Argv: []string{"no-such-cli-xyz"}}, ExitNotFound, "host has no 'no-such-cli-xyz'"},
		{wire.Request{LoopID: "loop-b", Argv: []string{"printf", "x"}}, ExitRefused, `cannot act as loop "loop-b"`},
		{wire.Request{Argv: []string{"printf", "a\x00b"}}, ExitRefused, "NUL"},
	}
	for _, c := range cases {
		res := f.call(t, c.req, "")
		if res.exit.Code != c.code || !strings.Contains(res.exit.Message, c.msg) || res.stdout != "" {
			t.Errorf("%q: got %+v stdout %q; want %d %q", c.req.Argv, res.exit, res.stdout, c.code, c.msg)
		}
		select {
		case ev := <-events:
			if e := ev.Data.(AuditEntry); e.Exit != int(c.code) || e.Error == "" {
				t.Errorf("audit event %+v", e)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("no audit event")
		}
	}
	// Naming itself is fine.
	if res := f.call(t, wire.Request{LoopID: "loop-a", Argv: []string{"printf", "ok"}}, ""); res.stdout != "ok" {
		t.Fatalf("own id: %+v", res)
	}
	// Revoked policy: refused.
	f.srv.SetPolicy("loop-a", Policy{})
	if res := f.call(t, wire.Request{Argv: []string{"printf", "x"}}, ""); res.exit.Code != ExitRefused {
		t.Fatalf("disabled loop ran: %+v", res)
	}
	// AllowAny runs undeclared CLIs.
	f.srv.SetPolicy("loop-a", Policy{Enabled: true, AllowAny: true})
	if res := f.call(t, wire.Request{Argv: []string{"echo", "any"}}, ""); res.stdout != "any\n" {
		t.Fatalf("allow any: %+v", res)
	}
}

// gone reports whether pid has exited (or is a zombie awaiting reaping).
func gone(pid int) bool {
	if syscall.Kill(pid, 0) != nil {
		return true
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return true
	}
	_, rest, _ := strings.Cut(string(b), ") ")
	return strings.HasPrefix(rest, "Z")
}

func waitGone(t *testing.T, pid int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !gone(pid) {
		if time.Now().After(deadline) {
			t.Fatalf("process %d still running", pid)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// startSleeper starts `sh -c 'sleep 30 & echo $!; wait'` and returns the conn and the sleep's pid.
func startSleeper(t *testing.T, f *fixture) (net.Conn, *wire.Writer, int) {
	t.Helper()
	c := f.open(t)
	fw := wire.NewWriter(c)
	fw.Frame(wire.TypeRequest, wire.EncodeRequest(wire.Request{Argv: []string{"sh", "-c", "sleep 30 & echo $!; wait"}}))
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	typ, p, err := wire.ReadFrame(c, wire.MaxData)
	if err != nil || typ != wire.TypeStdout {
		t.Fatalf("sleeper: %c %q %v", typ, p, err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(p)))
	if err != nil {
		t.Fatal(err)
	}
	return c, fw, pid
}

func TestClientDisconnectKillsProcessGroup(t *testing.T) {
	f := newFixture(t, declared)
	events, cancel := f.bus.Subscribe(4, nil)
	defer cancel()
	c, _, pid := startSleeper(t, f)
	c.Close()
	waitGone(t, pid)
	select {
	case ev := <-events:
		if e := ev.Data.(AuditEntry); e.Error != "client disconnected" || e.DurationMs > 5000 {
			t.Fatalf("audit %+v", e)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no audit event")
	}
	// The server still serves.
	if res := f.call(t, wire.Request{Argv: []string{"printf", "alive"}}, ""); res.stdout != "alive" {
		t.Fatalf("after disconnect: %+v", res)
	}
}

func TestSignalStopsProcess(t *testing.T) {
	f := newFixture(t, declared)
	c, fw, pid := startSleeper(t, f)
	fw.Frame(wire.TypeSignal, []byte{byte(syscall.SIGINT)})
	res := readResult(t, c)
	// dash ignores nothing here: SIGINT to the group ends sh (130) and sleep.
	if res.exit.Code != 130 {
		t.Fatalf("after SIGINT: %+v", res.exit)
	}
	waitGone(t, pid)
}

func TestTimeoutKills(t *testing.T) {
	p := declared
	p.Timeout = 300 * time.Millisecond
	f := newFixture(t, p)
	start := time.Now()
	res := f.call(t, wire.Request{Argv: []string{"sleep", "30"}}, "")
	if res.exit.Code != ExitTimeout || !strings.Contains(res.exit.Message, "timed out") || time.Since(start) > 5*time.Second {
		t.Fatalf("timeout: %+v after %s", res.exit, time.Since(start))
	}
}

func TestMalformedAndOversizedRequestsRefused(t *testing.T) {
	f := newFixture(t, declared)
	send := func(raw []byte) result {
		c := f.open(t)
		go c.Write(raw)
		return readResult(t, c)
	}
	hdr := make([]byte, 5)
	hdr[0] = wire.TypeRequest
	binary.BigEndian.PutUint32(hdr[1:], 64<<20)
	if res := send(hdr); res.exit.Code != ExitRefused || !strings.Contains(res.exit.Message, "too large") {
		t.Fatalf("oversized: %+v", res.exit)
	}
	if res := send([]byte{wire.TypeStdin, 0, 0, 0, 1, 'x'}); res.exit.Code != ExitRefused || !strings.Contains(res.exit.Message, "malformed") {
		t.Fatalf("wrong first frame: %+v", res.exit)
	}
	if res := send([]byte{wire.TypeRequest, 0, 0, 0, 3, 1, 0xff, 0xff}); res.exit.Code != ExitRefused || !strings.Contains(res.exit.Message, "malformed") {
		t.Fatalf("garbage request: %+v", res.exit)
	}
	if res := f.call(t, wire.Request{Argv: []string{"printf", "still serving"}}, ""); res.stdout != "still serving" {
		t.Fatalf("after bad input: %+v", res)
	}
}

func TestAuditScrubAndBadLoopID(t *testing.T) {
	f := newFixture(t, declared)
	f.srv.SetScrubber(func(s string) string { return strings.ReplaceAll(s, "sk-secret", "***") })
	f.call(t, wire.Request{Argv: []string{"printf", "token=sk-secret"}}, "")
	entries, err := f.srv.Audit("loop-a")
	if err != nil || len(entries) != 1 || entries[0].Args[0] != "token=***" {
		t.Fatalf("scrub: %v %+v", err, entries)
	}
	raw, _ := os.ReadFile(f.srv.auditPath("loop-a"))
	if bytes.Contains(raw, []byte("sk-secret")) {
		t.Fatal("secret in audit file")
	}
	if _, err := f.srv.Audit("../etc"); err == nil {
		t.Fatal("path traversal accepted")
	}
	if e, err := f.srv.Audit("never-ran"); err != nil || len(e) != 0 {
		t.Fatalf("empty audit: %v %v", e, err)
	}
}

func TestShimScript(t *testing.T) {
	s, err := ShimScript("aone")
	if err != nil || s != "#!/bin/sh\nexec loopat-host -- 'aone' \"$@\"\n" {
		t.Fatalf("shim %q %v", s, err)
	}
	for _, bad := range []string{"", "-rf", "a b", "a'b", "../x", "a/b", "$(x)", ".hidden"} {
		if _, err := ShimScript(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
	for _, ok := range []string{"gh", "kubectl", "g++", "python3.12", "aws_cli", "x-y"} {
		if _, err := ShimScript(ok); err != nil {
			t.Errorf("%q refused: %v", ok, err)
		}
	}
}

func TestPolicyFor(t *testing.T) {
	p := PolicyFor(config.HostExec{TimeoutSeconds: 5}, nil)
	if p.Enabled || p.allows("gh") {
		t.Fatalf("no clis should mean no channel: %+v", p)
	}
	p = PolicyFor(config.HostExec{TimeoutSeconds: 5}, []string{"gh"})
	if !p.Enabled || !p.allows("gh") || p.allows("rm") || p.Timeout != 5*time.Second {
		t.Fatalf("declared: %+v", p)
	}
	if p := PolicyFor(config.HostExec{AllowAny: true}, nil); !p.Enabled || !p.allows("rm") {
		t.Fatalf("allow any: %+v", p)
	}
}
