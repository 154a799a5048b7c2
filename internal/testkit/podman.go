package testkit

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/containers/podman/v5/pkg/bindings"
	"github.com/containers/podman/v5/pkg/bindings/network"
	nettypes "go.podman.io/common/libnetwork/types"

	"github.com/loopat/desktop/backend/procgroup"
)

// StartPodmanService starts a private `podman system service --time=0` on a fresh unix
// socket, waits until it answers, and stops it in t.Cleanup. It returns the socket URI
// ("unix:///.../podman.sock") for bindings.NewConnection. It fails the test when podman is
// missing or the service does not come up: integration tests never skip for that.
func StartPodmanService(t testing.TB) string {
	t.Helper()
	podman, err := exec.LookPath("podman")
	if err != nil {
		t.Fatalf("podman not found on PATH: %v (fix: scripts/install-deps.sh test, then scripts/test/host-setup.sh)", err)
	}
	// A short directory outside t.TempDir: unix socket paths are limited to 108 bytes.
	dir, err := os.MkdirTemp("", "loopat-podman-")
	if err != nil {
		t.Fatalf("podman service dir: %v", err)
	}
	sock := filepath.Join(dir, "podman.sock")
	uri := "unix://" + sock
	var logBuf syncBuffer
	cmd := exec.Command(podman, "system", "service", "--time=0", uri)
	cmd.Stdout, cmd.Stderr = &logBuf, &logBuf
	// Its own process group, so stopping it also stops helpers it spawned (conmon is
	// detached by podman itself and keeps running containers alive either way).
	procgroup.Own(cmd)
	if err := cmd.Start(); err != nil {
		os.RemoveAll(dir)
		t.Fatalf("start podman service: %v", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = procgroup.Signal(cmd, syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			_ = procgroup.Stop(cmd)
			<-exited
		}
		os.RemoveAll(dir)
	})

	deadline := time.Now().Add(30 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_, err := bindings.NewConnection(ctx, uri)
		cancel()
		if err == nil {
			return uri
		}
		select {
		case werr := <-exited:
			t.Fatalf("podman service exited early (%v): %s", werr, logBuf.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("podman service at %s did not answer within 30s: %v\nlog: %s", uri, err, logBuf.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// Connect returns a bindings context for the podman service at socketURI, valid until the
// test ends.
func Connect(t testing.TB, socketURI string) context.Context {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	conn, err := bindings.NewConnection(ctx, socketURI)
	if err != nil {
		t.Fatalf("connect to podman at %s: %v", socketURI, err)
	}
	return conn
}

// CreateNetwork creates a bridge network with a unique name through the podman bindings and
// removes it (forcefully, with any container still on it) in t.Cleanup. It returns the name
// and the gateway IP, the host's address on that bridge.
//
// The bridge interface, and so the gateway IP on the host, exists only while a container is
// attached: start the container before listening on gatewayIP.
func CreateNetwork(t testing.TB, socketURI string) (name, gatewayIP string) {
	t.Helper()
	ctx := Connect(t, socketURI)
	name = UniqueName("loopat-test-net")
	created, err := network.Create(ctx, &nettypes.Network{Name: name, Driver: "bridge"})
	if err != nil {
		t.Fatalf("create network %s: %v", name, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		conn, err := bindings.NewConnection(ctx, socketURI)
		if err != nil {
			t.Errorf("remove network %s: connect: %v", name, err)
			return
		}
		force := true
		if _, err := network.Remove(conn, name, &network.RemoveOptions{Force: &force}); err != nil {
			t.Errorf("remove network %s: %v", name, err)
		}
	})
	for _, s := range created.Subnets {
		if s.Gateway != nil && s.Gateway.To4() != nil {
			return name, s.Gateway.String()
		}
	}
	t.Fatalf("network %s has no IPv4 gateway: %+v", name, created.Subnets)
	return "", ""
}

// UniqueName returns prefix plus a random suffix, for containers, networks and images a
// test creates (so parallel runs and leftovers never collide).
func UniqueName(prefix string) string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return prefix + "-" + hex.EncodeToString(b)
}

// syncBuffer is a bytes.Buffer safe for a child process writing while the test reads.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return strings.TrimSpace(b.buf.String())
}
