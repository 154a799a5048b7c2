package engine

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/loopat/desktop/backend/config"
)

// ownService is the `podman system service --time=0` the app starts when no podman
// socket is available (Linux). It is restarted by discovery when it dies and stopped
// by Close.
type ownService struct {
	socket  string
	logPath string
	log     *slog.Logger
	onExit  func() // called when the process exits on its own

	mu        sync.Mutex
	cmd       *exec.Cmd
	exited    chan struct{}
	stopping  bool
	startedAt time.Time
	quickDies int // consecutive exits within a few seconds of starting
}

// URI of the service socket.
func (s *ownService) URI() string { return "unix://" + s.socket }

// running reports whether our process is alive.
func (s *ownService) running() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cmd != nil
}

// pid of the running service, 0 when none.
func (s *ownService) pid() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil || s.cmd.Process == nil {
		return 0
	}
	return s.cmd.Process.Pid
}

// backoff says how long to wait before another start after repeated quick deaths.
func (s *ownService) backoff() time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.quickDies < 3 {
		return 0
	}
	if d := time.Duration(s.quickDies-2) * 5 * time.Second; d < time.Minute {
		return d
	}
	return time.Minute
}

// ensure starts the service unless it runs, then waits until its socket accepts connections.
func (s *ownService) ensure(ctx context.Context, podman string) error {
	s.mu.Lock()
	if s.cmd == nil {
		if err := s.startLocked(podman); err != nil {
			s.mu.Unlock()
			return err
		}
	}
	exited := s.exited
	s.mu.Unlock()
	return s.waitSocket(ctx, exited)
}

func (s *ownService) startLocked(podman string) error {
	// The socket folder may be in the shared temp dir: it must be ours and private.
	if err := config.PrivateDir(filepath.Dir(s.socket)); err != nil {
		return fmt.Errorf("podman service socket folder: %w", err)
	}
	// A socket file left by a killed service makes the new one fail to bind.
	if err := os.Remove(s.socket); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("remove stale socket: %w", err)
	}
	var logFile *os.File
	if s.logPath != "" {
		if err := os.MkdirAll(filepath.Dir(s.logPath), 0o700); err == nil {
			logFile, _ = os.OpenFile(s.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
		}
	}
	cmd := exec.Command(podman, "system", "service", "--time=0", s.URI())
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = serviceProcAttr()
	if err := cmd.Start(); err != nil {
		if logFile != nil {
			logFile.Close()
		}
		return fmt.Errorf("start podman system service: %w", err)
	}
	s.cmd, s.exited, s.startedAt, s.stopping = cmd, make(chan struct{}), time.Now(), false
	s.log.Info("started own podman service", "pid", cmd.Process.Pid, "socket", s.socket)
	go s.wait(cmd, s.exited, logFile)
	return nil
}

func (s *ownService) wait(cmd *exec.Cmd, exited chan struct{}, logFile *os.File) {
	err := cmd.Wait()
	if logFile != nil {
		logFile.Close()
	}
	s.mu.Lock()
	stopping := s.stopping
	if s.cmd == cmd {
		s.cmd = nil
	}
	if time.Since(s.startedAt) < 5*time.Second {
		s.quickDies++
	} else {
		s.quickDies = 0
	}
	s.mu.Unlock()
	close(exited)
	if stopping {
		return
	}
	s.log.Warn("own podman service exited; it will be restarted", "pid", cmd.Process.Pid, "err", err, "log", s.logTail())
	if s.onExit != nil {
		s.onExit()
	}
}

func (s *ownService) waitSocket(ctx context.Context, exited chan struct{}) error {
	// Generous: a busy host (image builds holding podman's storage lock) delays startup.
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		if c, err := net.DialTimeout("unix", s.socket, time.Second); err == nil {
			c.Close()
			return nil
		}
		select {
		case <-exited:
			return fmt.Errorf("podman system service exited at once: %s", s.logTail())
		case <-ctx.Done():
			return fmt.Errorf("podman system service socket %s not ready: %w (log: %s)", s.socket, ctx.Err(), s.logTail())
		case <-tick.C:
		}
	}
}

// stop terminates the service: SIGTERM, then SIGKILL after 5 s.
func (s *ownService) stop() error {
	s.mu.Lock()
	cmd, exited := s.cmd, s.exited
	s.stopping = true
	s.mu.Unlock()
	if cmd == nil {
		return nil
	}
	_ = cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-exited:
	case <-time.After(5 * time.Second):
		_ = cmd.Process.Kill()
		<-exited
	}
	_ = os.Remove(s.socket)
	s.log.Info("stopped own podman service", "pid", cmd.Process.Pid)
	return nil
}

// logTail is the last lines of the service log, for error messages.
func (s *ownService) logTail() string {
	data, err := os.ReadFile(s.logPath)
	if err != nil || len(data) == 0 {
		return "(no output)"
	}
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	if len(lines) > 3 {
		lines = lines[len(lines)-3:]
	}
	return strings.Join(lines, " | ")
}
