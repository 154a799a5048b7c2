//go:build unix

package hostexec

import (
	"encoding/json"
	"net"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/loopat/desktop/backend/hostexec/wire"
	"github.com/loopat/desktop/backend/link"
)

func TestHostProcessCapRefusesAtOnceAndFrees(t *testing.T) {
	f := newFixture(t, declared)
	f.srv.MaxHostProcs = 2
	c1, _, pid1 := startSleeper(t, f)
	c2, _, pid2 := startSleeper(t, f)
	start := time.Now()
	res := f.call(t, wire.Request{Argv: []string{"printf", "third"}}, "")
	if res.exit.Code != ExitRefused || !strings.Contains(res.exit.Message, "already runs 2 host processes (limit 2)") || res.stdout != "" {
		t.Fatalf("past the cap: %+v", res)
	}
	// Both slots are held until the test ends them, so a call that queued for a slot instead
	// of being refused would never return; the bound is loose so a loaded machine does not fail it.
	if time.Since(start) > 15*time.Second {
		t.Fatalf("refusal took %s", time.Since(start))
	}
	// Ending one call frees its slot.
	c1.Close()
	waitGone(t, pid1)
	waitUntil(t, 5*time.Second, func() bool { return f.srv.slots.held("loop-a", link.TagHostExec) < 2 })
	if res := f.call(t, wire.Request{Argv: []string{"printf", "again"}}, ""); res.stdout != "again" {
		t.Fatalf("after a call ended: %+v", res)
	}
	entries, _ := f.srv.Audit("loop-a")
	refused := 0
	for _, e := range entries {
		if strings.Contains(e.Error, "limit 2") {
			refused++
		}
	}
	if refused != 1 {
		t.Fatalf("refusals audited: %d of %+v", refused, entries)
	}
	// End the second sleeper and wait for its audit entry (written after its slot is
	// freed), so nothing writes into the test's folder while it is removed.
	c2.Close()
	waitGone(t, pid2)
	waitUntil(t, 15*time.Second, func() bool { e, _ := f.srv.Audit("loop-a"); return len(e) >= 4 })
}

// waitUntil polls ok (the integration suite has its own waitFor).
func waitUntil(t *testing.T, d time.Duration, ok func() bool) {
	t.Helper()
	end := time.Now().Add(d)
	for !ok() {
		if time.Now().After(end) {
			t.Fatal("condition not met in time")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Another service's cap: the stream past it gets the service's own refusal, and
// closing a held stream frees its slot; another loop is not affected.
func TestTagCapRefusesWithServiceError(t *testing.T) {
	f := newFixture(t, declared)
	hold := make(chan net.Conn, 4)
	f.srv.HandleTag('p', TagHandler{Name: "promote running", Max: 1,
		Serve:  func(_ string, c net.Conn) { hold <- c },
		Refuse: func(c net.Conn, reason string) { json.NewEncoder(c).Encode(map[string]string{"error": reason}) },
	})
	// HandleTag applies to links bound from now on.
	g := newFixtureOn(t, f.srv, "loop-a")
	first, err := g.Open('p')
	if err != nil {
		t.Fatal(err)
	}
	held := <-hold
	second, err := g.Open('p')
	if err != nil {
		t.Fatal(err)
	}
	second.SetReadDeadline(time.Now().Add(3 * time.Second))
	var rep map[string]string
	if err := json.NewDecoder(second).Decode(&rep); err != nil || !strings.Contains(rep["error"], "already has 1 promote running (limit 1)") {
		t.Fatalf("second promote: %v %v", rep, err)
	}
	// Another loop has its own slot.
	other := newFixtureOn(t, f.srv, "loop-b")
	if _, err := other.Open('p'); err != nil {
		t.Fatal(err)
	}
	select {
	case c := <-hold:
		c.Close()
	case <-time.After(3 * time.Second):
		t.Fatal("loop-b's promote was refused by loop-a's cap")
	}
	held.Close()
	first.Close()
	third, _ := g.Open('p')
	select {
	case c := <-hold:
		c.Close()
	case <-time.After(3 * time.Second):
		t.Fatal("slot not freed after the first promote ended")
	}
	third.Close()
}

// newFixtureOn binds a fresh link of loopID on srv and returns its relay end.
func newFixtureOn(t *testing.T, srv *Server, loopID string) *link.Relay {
	t.Helper()
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
	if err := srv.Bind(loopID, declared, sess); err != nil {
		t.Fatal(err)
	}
	return relay
}

func TestAuditEntryOfAHugeRefusedArgvIsCapped(t *testing.T) {
	f := newFixture(t, declared)
	argv := []string{"ls"}
	for i := 0; i < 30; i++ {
		argv = append(argv, strings.Repeat("A", 100<<10)) // 3 MiB in all
	}
	res := f.call(t, wire.Request{Argv: argv}, "")
	if res.exit.Code != ExitRefused || !strings.Contains(res.exit.Message, "not declared") {
		t.Fatalf("huge argv: %+v", res.exit)
	}
	entries, err := f.srv.Audit("loop-a")
	if err != nil || len(entries) != 1 {
		t.Fatalf("audit: %v %d", err, len(entries))
	}
	e := entries[0]
	total := 0
	for _, a := range e.Args {
		total += len(a)
	}
	if total > MaxAuditArgBytes || !e.Truncated || e.ArgCount != 30 || e.ArgBytes != 30*100<<10 {
		t.Fatalf("entry keeps %d arg bytes, truncated %v, count %d, bytes %d", total, e.Truncated, e.ArgCount, e.ArgBytes)
	}
	// A bad CLI name of 100 KiB is quoted short in the error and the entry.
	res = f.call(t, wire.Request{Argv: []string{strings.Repeat("/", 100<<10)}}, "")
	if res.exit.Code != ExitRefused || len(res.exit.Message) > 200 {
		t.Fatalf("bad name refusal of %d bytes", len(res.exit.Message))
	}
	entries, _ = f.srv.Audit("loop-a")
	if e := entries[1]; len(e.CLI) > MaxAuditField || !e.Truncated {
		t.Fatalf("cli kept %d bytes", len(e.CLI))
	}
}

func TestCapEntryKeepsSmallEntriesWhole(t *testing.T) {
	e := AuditEntry{CLI: "gh", Args: []string{"pr", "list"}, Error: "x"}
	capEntry(&e)
	if e.Truncated || e.ArgCount != 0 || len(e.Args) != 2 {
		t.Fatalf("small entry changed: %+v", e)
	}
	e = AuditEntry{Args: []string{strings.Repeat("é", MaxAuditArgBytes)}} // 2 bytes a rune
	capEntry(&e)
	if !e.Truncated || len(e.Args[0]) > MaxAuditArgBytes || !strings.HasSuffix(e.Args[0], "é") {
		t.Fatalf("cut inside a rune or past the cap: %d bytes", len(e.Args[0]))
	}
}

// The SIGKILL escalation of a stopped call never fires after the process exited
// (its process group id may be reused by then).
func TestKillEscalationStopsWhenProcessExits(t *testing.T) {
	var mu sync.Mutex
	type sent struct {
		pgid int
		sig  syscall.Signal
		at   time.Time
	}
	var signals []sent
	real := killGroup
	killGroup = func(pgid int, sig syscall.Signal) error {
		mu.Lock()
		signals = append(signals, sent{pgid, sig, time.Now()})
		mu.Unlock()
		return real(pgid, sig)
	}
	t.Cleanup(func() { killGroup = real })

	f := newFixture(t, declared)
	f.srv.KillGrace = 300 * time.Millisecond
	c, fw, pid := startSleeper(t, f)
	fw.Frame(wire.TypeSignal, []byte{byte(syscall.SIGTERM)}) // sh and sleep die at once
	res := readResult(t, c)
	done := time.Now()
	waitGone(t, pid)
	if res.exit.Code != 128+int32(syscall.SIGTERM) {
		t.Fatalf("after SIGTERM: %+v", res.exit)
	}
	time.Sleep(3 * f.srv.KillGrace)
	mu.Lock()
	defer mu.Unlock()
	if len(signals) == 0 {
		t.Fatal("no signal sent at all")
	}
	for _, s := range signals {
		if s.at.After(done) {
			t.Fatalf("signal %v sent to group %d %s after the call ended", s.sig, s.pgid, s.at.Sub(done))
		}
	}
}
