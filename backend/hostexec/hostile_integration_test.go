//go:build integration

package hostexec

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/loopat/desktop/backend/config"
	"github.com/loopat/desktop/backend/events"
	"github.com/loopat/desktop/backend/link"
)

// buildLinkAttack builds testdata/linkattack: what a hostile agent would run in its
// loop to talk to the relay's socket without the well-behaved forwarder.
func buildLinkAttack(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "linkattack")
	cmd := exec.Command("go", "build", "-o", bin, "./testdata/linkattack")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build linkattack: %v\n%s", err, out)
	}
	return bin
}

// countHostSleeps counts live `sleep arg` processes (the host's, and none in the
// container: the attack tool's own argv also holds arg but is not a sleep).
func countHostSleeps(arg string) int {
	n := 0
	files, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil || !bytes.Equal(b, []byte("sleep\x00"+arg+"\x00")) {
			continue
		}
		stat, _ := os.ReadFile(filepath.Join(filepath.Dir(f), "stat"))
		if _, rest, _ := strings.Cut(string(stat), ") "); !strings.HasPrefix(rest, "Z") {
			n++
		}
	}
	return n
}

// TestHostileLinkFloodsAndMalformedFrames attacks the host link from inside a real
// loop container, as the agent (uid 2000) would: floods the host-exec socket with
// far more calls than the per-loop cap, sends oversized and malformed frames, and a
// megabyte argv that is refused. The host must refuse at once with a clear error,
// never run more than the cap, keep serving other loops, and keep the audit small.
func TestHostileLinkFloodsAndMalformedFrames(t *testing.T) {
	conn := startPodmanService(t)
	bin := buildForwarder(t)
	attack := buildLinkAttack(t)
	ws, err := config.NewWorkspace(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	srv := NewServer(ws, events.New())
	// The model gateway as core wires it, with a model that never answers: a
	// connection holds its slot until the sandbox side closes it (as http.Server
	// would notice) or the test ends.
	srv.GatewayAddr = "127.0.0.1:4141"
	stopModel := make(chan struct{})
	t.Cleanup(func() { close(stopModel) })
	srv.HandleTag(link.TagGateway, TagHandler{Name: "open model gateway connections", Max: MaxGatewayConns,
		Serve: func(_ string, c net.Conn) {
			go func() {
				io.Copy(io.Discard, c)
				c.Close()
			}()
			go func() {
				<-stopModel
				c.Close()
			}()
		},
		Refuse: func(c net.Conn, reason string) {
			fmt.Fprintf(c, "HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nContent-Length: %d\r\n\r\n%s", len(reason), reason)
		},
	})
	suffix := randSuffix()
	ctrA := startLoopContainer(t, bin, "lh-hostile-a-"+suffix)
	ctrB := startLoopContainer(t, bin, "lh-hostile-b-"+suffix)
	for _, ctr := range []string{ctrA, ctrB} {
		if out, err := exec.Command("podman", "cp", attack, ctr+":/tmp/linkattack").CombinedOutput(); err != nil {
			t.Fatalf("copy the attack tool into the loop: %v\n%s", err, out)
		}
	}
	policy := Policy{Enabled: true, CLIs: []string{"printf", "cat", "sleep"}, Timeout: time.Minute}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sessA, err := srv.Attach(ctx, conn, "loop-a", ctrA, policy)
	if err != nil {
		t.Fatalf("attach A: %v", err)
	}
	if _, err := srv.Attach(ctx, conn, "loop-b", ctrB, policy); err != nil {
		t.Fatalf("attach B: %v", err)
	}
	sock := sessA.Hello().Socket

	t.Run("flood of host processes past the cap", func(t *testing.T) {
		marker := fmt.Sprintf("41.%d", time.Now().UnixNano()%1000000)
		const calls = 100 // past the per-loop cap (8) and the link's stream cap (64)
		r := inLoop(t, ctrA, nil, "", "sh", "-c",
			"/tmp/linkattack flood "+sock+" "+strconv.Itoa(calls)+" sleep "+marker+" </dev/null >/tmp/flood.out 2>&1 & echo $! >/tmp/flood.pid")
		if r.code != 0 {
			t.Fatalf("start flood: %+v", r)
		}
		t.Cleanup(func() { inLoop(t, ctrA, nil, "", "sh", "-c", "kill $(cat /tmp/flood.pid)") })
		var out string
		waitFor(t, 60*time.Second, func() bool {
			out = inLoop(t, ctrA, nil, "", "cat", "/tmp/flood.out").stdout
			return strings.Contains(out, "done")
		})
		running, refused, slow := 0, 0, 0
		for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
			f := strings.Fields(line)
			switch {
			case line == "running":
				running++
			case len(f) > 3 && f[0] == "exit" && f[1] == "126" && strings.Contains(line, "already runs 8 host processes (limit 8)"):
				refused++
				if ms, _ := strconv.Atoi(f[2]); ms > 3000 {
					slow++
				}
			case line == "done":
			default:
				t.Errorf("unexpected flood answer %q", line)
			}
		}
		if running != MaxHostProcs || refused != calls-MaxHostProcs || slow != 0 {
			t.Fatalf("flood: %d running, %d refused (%d slowly); want %d and %d at once\n%s", running, refused, slow, MaxHostProcs, calls-MaxHostProcs, out)
		}
		if n := countHostSleeps(marker); n != MaxHostProcs {
			t.Fatalf("%d host processes run for the loop, want the cap %d", n, MaxHostProcs)
		}
		// The app stays responsive: another loop is served at once, and this loop's
		// own call is refused with the reason, not queued.
		start := time.Now()
		if r := inLoop(t, ctrB, nil, "", "loopat-host", "printf", "still here"); r.code != 0 || r.stdout != "still here" || time.Since(start) > 10*time.Second {
			t.Fatalf("loop B during A's flood: %+v after %s", r, time.Since(start))
		}
		r = inLoop(t, ctrA, nil, "", "loopat-host", "printf", "x")
		if r.code != 126 || !strings.Contains(r.stderr, "limit 8") {
			t.Fatalf("loop A's forwarder during its flood: %+v", r)
		}
		// Ending the flood frees the slots and kills its host processes.
		inLoop(t, ctrA, nil, "", "sh", "-c", "kill $(cat /tmp/flood.pid)")
		waitFor(t, 20*time.Second, func() bool { return countHostSleeps(marker) == 0 })
		waitFor(t, 20*time.Second, func() bool {
			r := inLoop(t, ctrA, nil, "", "loopat-host", "printf", "back")
			return r.code == 0 && r.stdout == "back"
		})
	})

	t.Run("flood of gateway connections past the cap", func(t *testing.T) {
		const conns = MaxGatewayConns + 18
		r := inLoop(t, ctrA, nil, "", "sh", "-c",
			"/tmp/linkattack tcpflood 127.0.0.1:4141 "+strconv.Itoa(conns)+" </dev/null >/tmp/gw.out 2>&1 & echo $! >/tmp/gw.pid")
		if r.code != 0 {
			t.Fatalf("start gateway flood: %+v", r)
		}
		t.Cleanup(func() { inLoop(t, ctrA, nil, "", "sh", "-c", "kill $(cat /tmp/gw.pid)") })
		var out string
		waitFor(t, 60*time.Second, func() bool {
			out = inLoop(t, ctrA, nil, "", "cat", "/tmp/gw.out").stdout
			return strings.Contains(out, "done")
		})
		held, refused := 0, 0
		for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
			f := strings.Fields(line)
			switch {
			case line == "held":
				held++
			case len(f) > 3 && f[0] == "status" && f[1] == "503" && strings.Contains(line, "limit 32"):
				if ms, _ := strconv.Atoi(f[2]); ms > 3000 {
					t.Errorf("gateway refusal after %d ms", ms)
				}
				refused++
			case line == "done":
			default:
				t.Errorf("unexpected gateway answer %q", line)
			}
		}
		if held != MaxGatewayConns || refused != conns-MaxGatewayConns {
			t.Fatalf("gateway flood: %d held, %d refused; want %d and %d\n%s", held, refused, MaxGatewayConns, conns-MaxGatewayConns, out)
		}
		// Another loop's gateway is not affected by A's.
		r = inLoop(t, ctrB, nil, "", "sh", "-c", "timeout 10 /tmp/linkattack tcpflood 127.0.0.1:4141 1 | head -1")
		if strings.TrimSpace(r.stdout) != "held" {
			t.Fatalf("loop B's gateway during A's flood: %+v", r)
		}
		// Closing A's connections frees its slots.
		inLoop(t, ctrA, nil, "", "sh", "-c", "kill $(cat /tmp/gw.pid)")
		waitFor(t, 20*time.Second, func() bool { return srv.slots.held("loop-a", link.TagGateway) < MaxGatewayConns })
	})

	t.Run("oversized frame refused before it is read", func(t *testing.T) {
		// A request header announcing 64 MiB.
		r := inLoop(t, ctrA, nil, "", "/tmp/linkattack", "raw", sock, "5204000000")
		if !strings.HasPrefix(r.stdout, "exit 126 ") || !strings.Contains(r.stdout, "frame too large") {
			t.Fatalf("oversized header: %+v", r)
		}
		if ms, _ := strconv.Atoi(strings.Fields(r.stdout)[2]); ms > 3000 {
			t.Fatalf("oversized header answered after %d ms", ms)
		}
		// Garbage where the request should be: refused as malformed, not a crash.
		r = inLoop(t, ctrA, nil, "", "/tmp/linkattack", "raw", sock, "5200000008ffffffffffffffff")
		if !strings.HasPrefix(r.stdout, "exit 126 ") || !strings.Contains(r.stdout, "malformed request") {
			t.Fatalf("garbage request: %+v", r)
		}
		// A frame of an unknown type in the middle of a running call ends that call only.
		r = inLoop(t, ctrA, nil, "", "/tmp/linkattack", "rawcall", sock, "5a00000000", "cat")
		if !strings.HasPrefix(r.stdout, "exit 126 ") || !strings.Contains(r.stdout, "malformed frame") {
			t.Fatalf("malformed frame mid-call: %+v", r)
		}
		// A header announcing the largest allowed request, then silence: refused
		// after the request timeout; meanwhile the loop's other calls run.
		done := make(chan execResult, 1)
		go func() { done <- inLoop(t, ctrA, nil, "", "/tmp/linkattack", "raw", sock, "52003fffff00010203") }()
		time.Sleep(time.Second)
		if r := inLoop(t, ctrA, nil, "", "loopat-host", "printf", "alive"); r.code != 0 || r.stdout != "alive" {
			t.Fatalf("while a request stalls: %+v", r)
		}
		r = <-done
		if !strings.HasPrefix(r.stdout, "exit 126 ") || !strings.Contains(r.stdout, "malformed request") {
			t.Fatalf("stalled request: %+v", r)
		}
	})

	t.Run("huge refused argv is audited capped", func(t *testing.T) {
		// About 1 MiB of arguments to a CLI the loop may not run.
		r := inLoop(t, ctrA, nil, "", "sh", "-c",
			`a=$(head -c 100000 /dev/zero | tr '\0' A); loopat-host ls $a $a $a $a $a $a $a $a $a $a`)
		if r.code != 126 || !strings.Contains(r.stderr, "'ls' is not declared") {
			t.Fatalf("huge argv: code %d, stderr %.200q", r.code, r.stderr)
		}
		entries, err := srv.Audit("loop-a")
		if err != nil || len(entries) == 0 {
			t.Fatalf("audit: %v", err)
		}
		e := entries[len(entries)-1]
		kept := 0
		for _, a := range e.Args {
			kept += len(a)
		}
		if e.CLI != "ls" || !e.Truncated || kept > MaxAuditArgBytes || e.ArgCount != 10 || e.ArgBytes != 10*100000 {
			t.Fatalf("audit entry: cli %q truncated %v, kept %d bytes, count %d, bytes %d", e.CLI, e.Truncated, kept, e.ArgCount, e.ArgBytes)
		}
		fi, err := os.Stat(filepath.Join(ws.LoopsDir(), "loop-a", AuditFileName))
		if err != nil || fi.Size() > 200<<10 {
			t.Fatalf("audit file after the attack: %v bytes, %v", fi.Size(), err)
		}
	})
}
