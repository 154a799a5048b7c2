//go:build unix

package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/loopat/desktop/backend/config"
	"github.com/loopat/desktop/backend/hostexec"
	"github.com/loopat/desktop/backend/link"
)

// The test binary doubles as loopat-host when re-executed with this variable.
func TestMain(m *testing.M) {
	if os.Getenv("LOOPAT_HOST_TEST_MAIN") == "1" {
		main()
		return
	}
	os.Exit(m.Run())
}

func self(args ...string) *exec.Cmd {
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), "LOOPAT_HOST_TEST_MAIN=1")
	return cmd
}

// startRelay runs `loopat-host relay` as a child whose stdio is the link, served
// by a real hostexec.Server: everything but podman exec.
func startRelay(t *testing.T) (socket string, sess *link.Session, relay *exec.Cmd) {
	t.Helper()
	dir := t.TempDir()
	socket = filepath.Join(dir, "run", "host.sock")
	relay = self("relay", "--socket", socket)
	stdin, err := relay.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := relay.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	relay.Stderr = os.Stderr
	if err := relay.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { relay.Process.Kill(); relay.Wait() })
	sess, err = link.Serve(link.Pipe{Reader: stdout, Writer: stdin, Closer: stdin.Close}, nil)
	if err != nil {
		t.Fatal(err)
	}
	ws, _ := config.NewWorkspace(filepath.Join(dir, "home"))
	srv := hostexec.NewServer(ws, nil)
	srv.Bind("loop-t", hostexec.Policy{Enabled: true, CLIs: []string{"printf", "cat", "sh", "sleep"}, Timeout: time.Minute}, sess)
	select {
	case <-sess.Ready():
	case <-time.After(10 * time.Second):
		t.Fatal("relay never said hello")
	}
	return socket, sess, relay
}

func forwardCmd(socket, stdin string, args ...string) (string, string, int) {
	cmd := self(args...)
	cmd.Env = append(cmd.Env, "LOOPAT_HOST_SOCKET="+socket)
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	var ee *exec.ExitError
	code := 0
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	}
	return out.String(), errb.String(), code
}

func TestForwarderThroughRelay(t *testing.T) {
	socket, sess, relay := startRelay(t)
	if fi, err := os.Stat(socket); err != nil || fi.Mode().Perm() != 0o666 {
		t.Fatalf("socket: %v %v", fi, err)
	}
	out, _, code := forwardCmd(socket, "", "--", "printf", "%s|", "a'b\"c", "x\ny", `\$(z)`, "\xff")
	if code != 0 || out != "a'b\"c|x\ny|\\$(z)|\xff|" {
		t.Fatalf("printf: %d %q", code, out)
	}
	in := strings.Repeat("stdin\x00data\n", 10000)
	if out, _, code := forwardCmd(socket, in, "cat"); code != 0 || out != in {
		t.Fatalf("cat: code %d, %d of %d bytes", code, len(out), len(in))
	}
	if _, errOut, code := forwardCmd(socket, "", "sh", "-c", "echo e >&2; exit 3"); code != 3 || errOut != "e\n" {
		t.Fatalf("exit/stderr: %d %q", code, errOut)
	}
	if _, errOut, code := forwardCmd(socket, "", "ls"); code != 126 || !strings.Contains(errOut, "not declared") {
		t.Fatalf("undeclared: %d %q", code, errOut)
	}
	if _, errOut, code := forwardCmd(filepath.Join(t.TempDir(), "none.sock"), "", "printf", "x"); code != 127 || !strings.Contains(errOut, "cannot reach the host") {
		t.Fatalf("unreachable: %d %q", code, errOut)
	}

	// SIGINT to the forwarder stops the host process.
	cmd := self("sleep", "30")
	cmd.Env = append(cmd.Env, "LOOPAT_HOST_SOCKET="+socket)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// Signal once the host runs the command: by then the forwarder listens for signals
	// (a fixed sleep raced a slow start on a loaded machine and killed it outright).
	waitForHostChild(t, "sleep\x0030\x00")
	start := time.Now()
	cmd.Process.Signal(syscall.SIGINT)
	err := cmd.Wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 130 || time.Since(start) > 5*time.Second {
		t.Fatalf("after SIGINT: %v after %s", err, time.Since(start))
	}

	// The relay exits when the host goes away, and removes its socket.
	sess.Close()
	done := make(chan error, 1)
	go func() { done <- relay.Wait() }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("relay kept running after the host left")
	}
	if _, err := os.Stat(socket); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("socket left behind: %v", err)
	}
}

// With stdin on /dev/null (podman exec without -i, `cmd </dev/null`) the forwarder
// sends its request and stdin EOF in one write: the host process sees an empty
// stdin at once, and a stdin that is a pipe still streams (TestForwarderThroughRelay).
func TestForwarderWithStdinOnDevNull(t *testing.T) {
	socket, _, _ := startRelay(t)
	cmd := self("sh", "-c", "cat; echo \"done $#\"")
	cmd.Env = append(cmd.Env, "LOOPAT_HOST_SOCKET="+socket)
	cmd.Stdin = nil // /dev/null
	var errb bytes.Buffer
	cmd.Stderr = &errb
	out, err := cmd.Output()
	if err != nil || string(out) != "done 0\n" {
		t.Fatalf("sh with stdin /dev/null: %v %q (stderr %q)", err, out, errb.String())
	}
	if !stdinIsDevNullIn(t, nil) || stdinIsDevNullIn(t, strings.NewReader("x")) {
		t.Fatal("stdinIsDevNull does not tell /dev/null from a pipe")
	}
}

// stdinIsDevNullIn runs stdinIsDevNull in a child whose stdin is in (nil: /dev/null).
func stdinIsDevNullIn(t *testing.T, in io.Reader) bool {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestStdinProbe$")
	cmd.Env = append(os.Environ(), "LOOPAT_HOST_STDIN_PROBE=1")
	cmd.Stdin = in
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("probe: %v %s", err, out)
	}
	return strings.Contains(string(out), "devnull=true")
}

func TestStdinProbe(t *testing.T) {
	if os.Getenv("LOOPAT_HOST_STDIN_PROBE") != "1" {
		t.Skip("run by TestForwarderWithStdinOnDevNull")
	}
	fmt.Printf("devnull=%v\n", stdinIsDevNull())
}

func TestUsage(t *testing.T) {
	if _, errOut, code := forwardCmd("/nonexistent", ""); code != 2 || !strings.Contains(errOut, "usage") {
		t.Fatalf("no args: %d %q", code, errOut)
	}
}

// Past the loop's host-process cap the forwarder shows the host's refusal at once,
// even when its request is far larger than the link's window (the host answers
// without reading it).
func TestForwarderShowsCapRefusalOfAHugeRequest(t *testing.T) {
	socket, _, _ := startRelay(t)
	var sleepers []*exec.Cmd
	for i := 0; i < hostexec.MaxHostProcs; i++ {
		cmd := self("sleep", "30")
		cmd.Env = append(cmd.Env, "LOOPAT_HOST_SOCKET="+socket)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		sleepers = append(sleepers, cmd)
	}
	t.Cleanup(func() {
		for _, c := range sleepers {
			c.Process.Kill()
			c.Wait()
		}
	})
	time.Sleep(time.Second) // every sleeper holds its slot
	huge := strings.Repeat("A", 100<<10)
	args := []string{"printf", "%s"}
	for i := 0; i < 10; i++ {
		args = append(args, huge) // 1 MiB: four link windows
	}
	start := time.Now()
	_, errOut, code := forwardCmd(socket, "", args...)
	if code != 126 || !strings.Contains(errOut, "already runs 8 host processes (limit 8)") {
		t.Fatalf("past the cap: %d %q", code, errOut)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("refusal took %s", d)
	}
}

// waitForHostChild waits until a child of this test process (the host side of the link
// runs in it) has the given NUL-separated command line.
func waitForHostChild(t *testing.T, cmdline string) {
	t.Helper()
	me := strconv.Itoa(os.Getpid())
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		entries, _ := os.ReadDir("/proc")
		for _, e := range entries {
			stat, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
			if err != nil {
				continue
			}
			// stat: pid (comm) state ppid ...; comm may hold spaces, so split after ')'.
			rest := string(stat[bytes.LastIndexByte(stat, ')')+1:])
			if f := strings.Fields(rest); len(f) < 2 || f[1] != me {
				continue
			}
			if cl, _ := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline")); string(cl) == cmdline {
				return
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("no host process %q after 60 s", cmdline)
}
