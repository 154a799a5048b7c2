//go:build linux && !integration

package cli

import (
	"bytes"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/loopat/desktop/backend/vault"
)

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// openPTY returns a pseudo-terminal pair (master, slave).
func openPTY(t *testing.T) (*os.File, *os.File) {
	t.Helper()
	master, err := os.OpenFile("/dev/ptmx", os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Fatalf("open /dev/ptmx: %v", err)
	}
	t.Cleanup(func() { master.Close() })
	if err := unix.IoctlSetPointerInt(int(master.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		t.Fatalf("unlockpt: %v", err)
	}
	n, err := unix.IoctlGetInt(int(master.Fd()), unix.TIOCGPTN)
	if err != nil {
		t.Fatalf("ptsname: %v", err)
	}
	slave, err := os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Fatalf("open pts: %v", err)
	}
	t.Cleanup(func() { slave.Close() })
	return master, slave
}

// On a terminal, `vault set` prompts with echo off, and restores the terminal afterwards.
func TestVaultCLIPromptsWithoutEcho(t *testing.T) {
	v, svc := newTestVaultService(t)
	master, slave := openPTY(t)
	var errOut syncBuffer
	done := make(chan int, 1)
	go func() {
		done <- runVaultCLI(svc, Env{Stdin: slave, Stdout: &bytes.Buffer{}, Stderr: &errOut}, "set", "PROMPTED_TOKEN")
	}()

	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(errOut.String(), "input hidden") {
		if time.Now().After(deadline) {
			t.Fatalf("no prompt: %q", errOut.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	// The prompt is printed just before echo goes off: wait for it.
	for {
		tio, err := unix.IoctlGetTermios(int(slave.Fd()), unix.TCGETS)
		if err != nil {
			t.Fatal(err)
		}
		if tio.Lflag&unix.ECHO == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("echo is on while the secret is typed")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if _, err := master.Write([]byte("typed-secret\n")); err != nil {
		t.Fatal(err)
	}
	select {
	case code := <-done:
		if code != 0 {
			t.Fatalf("exit %d: %s", code, errOut.String())
		}
	case <-time.After(5 * time.Second):
		t.Fatal("set did not finish after the value was typed")
	}
	if got, _ := v.GetEnv(vault.DefaultVault, "PROMPTED_TOKEN"); got != "typed-secret" {
		t.Fatalf("stored %q", got)
	}
	if tio, _ := unix.IoctlGetTermios(int(slave.Fd()), unix.TCGETS); tio.Lflag&unix.ECHO == 0 {
		t.Fatal("echo not restored")
	}
}
