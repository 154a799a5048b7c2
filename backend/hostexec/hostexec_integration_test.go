//go:build integration

package hostexec

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/containers/podman/v5/pkg/bindings"
	"github.com/containers/podman/v5/pkg/bindings/containers"

	"github.com/loopat/desktop/backend/config"
	"github.com/loopat/desktop/backend/events"
	"github.com/loopat/desktop/backend/link"
)

const testImage = "docker.io/library/debian:bookworm-slim"

// startPodmanService runs a private podman API service on a temp socket and
// returns a bindings connection to it.
func startPodmanService(t *testing.T) context.Context {
	t.Helper()
	if _, err := exec.LookPath("podman"); err != nil {
		t.Fatalf("integration test needs podman: %v", err)
	}
	dir, err := os.MkdirTemp("", "lhpodman")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	sock := filepath.Join(dir, "podman.sock")
	svc := exec.Command("podman", "system", "service", "--time=0", "unix://"+sock)
	// The service logs a "broken pipe" per closed attach; show its log only on failure.
	svcLog, err := os.Create(filepath.Join(dir, "service.log"))
	if err != nil {
		t.Fatal(err)
	}
	svc.Stderr = svcLog
	t.Cleanup(func() {
		if t.Failed() {
			b, _ := os.ReadFile(svcLog.Name())
			t.Logf("podman service log:\n%s", b)
		}
	})
	if err := svc.Start(); err != nil {
		t.Fatalf("start podman service: %v", err)
	}
	t.Cleanup(func() { svc.Process.Kill(); svc.Wait() })
	deadline := time.Now().Add(120 * time.Second) // slow when the machine is busy
	for {
		if _, err := os.Stat(sock); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("podman service socket never appeared")
		}
		time.Sleep(50 * time.Millisecond)
	}
	conn, err := bindings.NewConnection(context.Background(), "unix://"+sock)
	if err != nil {
		t.Fatalf("connect podman: %v", err)
	}
	return conn
}

// buildForwarder builds the static loopat-host binary into a temp dir.
func buildForwarder(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	bin := filepath.Join(dir, "loopat-host")
	cmd := exec.Command("go", "build", "-o", bin, "github.com/loopat/desktop/cmd/loopat-host")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build loopat-host: %v\n%s", err, out)
	}
	os.Chmod(dir, 0o755)
	return bin
}

func randSuffix() string {
	b := make([]byte, 4)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// startLoopContainer runs a sandbox-like container (user 2000, --init) with the
// forwarder bind-mounted read-only, and removes it at cleanup.
func startLoopContainer(t *testing.T, bin, name string) string {
	t.Helper()
	out, err := exec.Command("podman", "run", "-d", "--init", "--name", name, "--user", "2000:2000",
		"--label", config.LabelKey+"=hostexec-test",
		"-v", bin+":/usr/local/bin/loopat-host:ro", testImage, "sleep", "infinity").CombinedOutput()
	if err != nil {
		t.Fatalf("podman run: %v\n%s", err, out)
	}
	t.Cleanup(func() { exec.Command("podman", "rm", "-f", "-t", "0", name).Run() })
	return strings.TrimSpace(string(out))
}

type execResult struct {
	stdout, stderr string
	code           int
}

// inLoop runs argv inside container via `podman exec -i`, stdin from stdin.
func inLoop(t *testing.T, container string, env []string, stdin string, argv ...string) execResult {
	t.Helper()
	args := []string{"exec", "-i"}
	for _, e := range env {
		args = append(args, "-e", e)
	}
	args = append(append(args, container), argv...)
	cmd := exec.Command("podman", args...)
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("podman exec: %v", err)
	}
	return execResult{out.String(), errb.String(), code}
}

func TestHostExecWithRealContainers(t *testing.T) {
	conn := startPodmanService(t)
	bin := buildForwarder(t)
	ws, err := config.NewWorkspace(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	bus := events.New()
	srv := NewServer(ws, bus)
	suffix := randSuffix()
	ctrA := startLoopContainer(t, bin, "lh-test-a-"+suffix)
	ctrB := startLoopContainer(t, bin, "lh-test-b-"+suffix)

	policyA := Policy{Enabled: true, CLIs: []string{"printf", "cat", "sh", "sleep", "no-such-cli-xyz"}, Timeout: time.Minute}
	policyB := Policy{Enabled: true, CLIs: []string{"printf", "sh"}, Timeout: time.Minute}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	start := time.Now()
	sessA, err := srv.Attach(ctx, conn, "loop-a", ctrA, policyA)
	if err != nil {
		t.Fatalf("attach A: %v", err)
	}
	t.Logf("attach took %s, relay socket %s", time.Since(start), sessA.Hello().Socket)
	if _, err := srv.Attach(ctx, conn, "loop-b", ctrB, policyB); err != nil {
		t.Fatalf("attach B: %v", err)
	}

	t.Run("declared CLI with exact argv", func(t *testing.T) {
		args := []string{"%s|", `it's "quoted"`, "back\\slash", "new\nline", "$(x) `y` ;&|", ""}
		r := inLoop(t, ctrA, nil, "", append([]string{"loopat-host", "printf"}, args...)...)
		want := strings.Join(args[1:], "|") + "|"
		if r.code != 0 || r.stdout != want {
			t.Fatalf("got %+v, want stdout %q", r, want)
		}
		// podman exec itself turns invalid UTF-8 argv into U+FFFD, so make raw bytes inside the loop.
		r = inLoop(t, ctrA, nil, "", "sh", "-c", `loopat-host printf '%s|' "$(printf '\377\376\001x')" 'a\'`)
		if r.code != 0 || r.stdout != "\xff\xfe\x01x|a\\|" {
			t.Fatalf("raw bytes: %+v", r)
		}
	})
	t.Run("shim form with -- and stdin round trip", func(t *testing.T) {
		in := strings.Repeat("line with \\ and 'q'\n", 5000)
		r := inLoop(t, ctrA, nil, in, "loopat-host", "--", "cat")
		if r.code != 0 || r.stdout != in {
			t.Fatalf("cat: code %d, %d of %d bytes, stderr %q", r.code, len(r.stdout), len(in), r.stderr)
		}
	})
	t.Run("exit code and stderr", func(t *testing.T) {
		r := inLoop(t, ctrA, nil, "", "loopat-host", "sh", "-c", "echo oops >&2; exit 42")
		if r.code != 42 || r.stderr != "oops\n" {
			t.Fatalf("got %+v", r)
		}
	})
	t.Run("undeclared refused, missing reported", func(t *testing.T) {
		r := inLoop(t, ctrA, nil, "", "loopat-host", "ls", "/")
		if r.code != 126 || !strings.Contains(r.stderr, "'ls' is not declared") || r.stdout != "" {
			t.Fatalf("undeclared: %+v", r)
		}
		r = inLoop(t, ctrA, nil, "", "loopat-host", "no-such-cli-xyz")
		if r.code != 127 || !strings.Contains(r.stderr, "host has no 'no-such-cli-xyz'") {
			t.Fatalf("missing: %+v", r)
		}
	})
	t.Run("second container cannot act as the first loop", func(t *testing.T) {
		before, _ := srv.Audit("loop-a")
		r := inLoop(t, ctrB, []string{"LOOPAT_LOOP_ID=loop-a"}, "", "loopat-host", "printf", "x")
		if r.code != 126 || !strings.Contains(r.stderr, `cannot act as loop "loop-a"`) {
			t.Fatalf("spoof: %+v", r)
		}
		// Without a claim it runs, but as loop-b: B's workdir, B's policy, B's audit.
		r = inLoop(t, ctrB, nil, "", "loopat-host", "sh", "-c", "pwd; echo $LOOPAT_LOOP_ID")
		if r.code != 0 || r.stdout != srv.WorkDir("loop-b")+"\nloop-b\n" {
			t.Fatalf("B as itself: %+v", r)
		}
		if r := inLoop(t, ctrB, nil, "x", "loopat-host", "cat"); r.code != 126 {
			t.Fatalf("B used A's policy: %+v", r)
		}
		after, _ := srv.Audit("loop-a")
		if len(after) != len(before) {
			t.Fatalf("loop-a audit grew from B's calls: %d -> %d", len(before), len(after))
		}
		entries, err := srv.Audit("loop-b")
		if err != nil || len(entries) != 3 || entries[0].Error == "" {
			t.Fatalf("loop-b audit: %v %+v", err, entries)
		}
	})
	t.Run("Ctrl-C stops the host process", func(t *testing.T) {
		marker := fmt.Sprintf("31.%d", time.Now().UnixNano()%1000000) // unique sleep argument to find the host process
		// dash disables SIGINT for background jobs; the forwarder re-enables it.
		r := inLoop(t, ctrA, nil, "", "sh", "-c",
			"loopat-host sleep "+marker+" & p=$!; sleep 1; kill -INT $p; wait $p; echo rc=$?")
		if r.stdout != "rc=130\n" {
			t.Fatalf("forwarder after SIGINT: %+v", r)
		}
		if hostProcessWithArg(marker) {
			t.Fatal("host sleep still running after Ctrl-C")
		}
		entries, _ := srv.Audit("loop-a")
		last := entries[len(entries)-1]
		if last.CLI != "sleep" || last.Exit != 130 || last.DurationMs > 10000 {
			t.Fatalf("audit of interrupted call: %+v", last)
		}
	})
	t.Run("app restart re-attaches to the same container", func(t *testing.T) {
		before, err := containers.Inspect(conn, ctrA, nil)
		if err != nil {
			t.Fatal(err)
		}
		// "Quit the app": a fresh server (new process state), old link closed.
		sessA.Close()
		select {
		case <-sessA.Done():
		case <-time.After(10 * time.Second):
			t.Fatal("session did not end")
		}
		closed := time.Now()
		waitFor(t, 15*time.Second, func() bool {
			return inLoop(t, ctrA, nil, "", "loopat-host", "printf", "x").code == 127
		})
		t.Logf("forwarder reports the host gone %s after close", time.Since(closed))
		srv2 := NewServer(ws, bus)
		sess2, err := srv2.Attach(ctx, conn, "loop-a", ctrA, policyA)
		if err != nil {
			t.Fatalf("re-attach: %v", err)
		}
		defer sess2.Close()
		r := inLoop(t, ctrA, nil, "back", "loopat-host", "cat")
		if r.code != 0 || r.stdout != "back" {
			t.Fatalf("after re-attach: %+v", r)
		}
		after, err := containers.Inspect(conn, ctrA, nil)
		if err != nil {
			t.Fatal(err)
		}
		if after.ID != before.ID || !after.State.StartedAt.Equal(before.State.StartedAt) || !after.State.Running {
			t.Fatalf("container changed: %s %v -> %s %v", before.ID, before.State.StartedAt, after.ID, after.State.StartedAt)
		}
		// A crashed app never closes its link: the next Attach must take over from
		// the still-running relay, which is stopped and replaced.
		srv3 := NewServer(ws, bus)
		sess3, err := srv3.Attach(ctx, conn, "loop-a", ctrA, policyA)
		if err != nil {
			t.Fatalf("attach over a live relay: %v", err)
		}
		defer sess3.Close()
		select {
		case <-sess2.Done():
		case <-time.After(10 * time.Second):
			t.Fatal("the replaced relay's link did not end")
		}
		if r := inLoop(t, ctrA, nil, "", "loopat-host", "printf", "third"); r.code != 0 || r.stdout != "third" {
			t.Fatalf("after takeover: %+v", r)
		}
		// Exactly one relay runs in the container: the old ones were replaced.
		r = inLoop(t, ctrA, nil, "", "sh", "-c", `for f in /proc/[0-9]*/cmdline; do tr '\0' ' ' < $f; echo; done | grep -c '^loopat-host relay'`)
		if strings.TrimSpace(r.stdout) != "1" {
			t.Fatalf("relays in container: %q", r.stdout)
		}
	})
	t.Run("disabled loop gets no channel", func(t *testing.T) {
		if _, err := srv.Attach(ctx, conn, "loop-c", ctrB, Policy{}); err == nil {
			t.Fatal("attach with a disabled policy succeeded")
		}
	})
	_ = link.TagHostExec
}

func waitFor(t *testing.T, d time.Duration, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met in time")
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// hostProcessWithArg reports whether a live host process has arg in its argv.
func hostProcessWithArg(arg string) bool {
	dirs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, f := range dirs {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		if bytes.Contains(b, []byte("\x00"+arg+"\x00")) {
			stat, _ := os.ReadFile(filepath.Join(filepath.Dir(f), "stat"))
			if _, rest, _ := strings.Cut(string(stat), ") "); !strings.HasPrefix(rest, "Z") {
				return true
			}
		}
	}
	return false
}
