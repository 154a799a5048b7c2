// Package podmansvc starts a private `podman system service` on a temporary socket and
// connects the bindings to it, for tools outside the app: integration tests, bench/images and
// the build-sandbox tool. The app itself gets its connection from the engine package.
package podmansvc

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"

	"github.com/containers/podman/v5/pkg/bindings"

	"github.com/loopat/desktop/backend/procgroup"
)

// Service is a running podman API service owned by this process.
type Service struct {
	Conn context.Context // bindings connection
	URI  string
	cmd  *exec.Cmd
	dir  string
}

// Connect uses $CONTAINER_HOST when set, else starts a private service.
func Connect(ctx context.Context) (*Service, error) {
	if uri := os.Getenv("CONTAINER_HOST"); uri != "" {
		conn, err := bindings.NewConnection(ctx, uri)
		if err != nil {
			return nil, fmt.Errorf("connect to %s: %w", uri, err)
		}
		return &Service{Conn: conn, URI: uri}, nil
	}
	return Start(ctx)
}

// Start runs `podman system service --time=0` on a socket in a new temp folder.
func Start(ctx context.Context) (*Service, error) {
	dir, err := os.MkdirTemp("", "loopat-podman-")
	if err != nil {
		return nil, fmt.Errorf("podman service dir: %w", err)
	}
	sock := filepath.Join(dir, "podman.sock")
	uri := "unix://" + sock
	cmd := exec.Command("podman", "system", "service", "--time=0", uri)
	procgroup.Own(cmd) // Stop ends the helpers podman spawns too
	logf, _ := os.Create(filepath.Join(dir, "service.log"))
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("start podman system service: %w", err)
	}
	s := &Service{URI: uri, cmd: cmd, dir: dir}
	deadline := time.Now().Add(20 * time.Second)
	for {
		if _, err := os.Stat(sock); err == nil {
			conn, err := bindings.NewConnection(ctx, uri)
			if err == nil {
				s.Conn = conn
				return s, nil
			}
			if time.Now().After(deadline) {
				s.Stop()
				return nil, fmt.Errorf("connect to podman service: %w", err)
			}
		}
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(filepath.Join(dir, "service.log"))
			s.Stop()
			return nil, fmt.Errorf("podman service socket did not appear within 20s: %s", log)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Stop ends a service this process started and removes its socket folder.
func (s *Service) Stop() {
	if s.cmd == nil || s.cmd.Process == nil {
		return
	}
	_ = procgroup.Signal(s.cmd, syscall.SIGTERM)
	done := make(chan struct{})
	go func() { _ = s.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		_ = procgroup.Stop(s.cmd)
		<-done
	}
	os.RemoveAll(s.dir)
}
