package hostexec

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/containers/podman/v5/pkg/api/handlers"
	"github.com/containers/podman/v5/pkg/bindings/containers"
	dockerContainer "github.com/docker/docker/api/types/container"

	"github.com/loopat/desktop/backend/execstream"
	"github.com/loopat/desktop/backend/link"
	"github.com/loopat/desktop/backend/logging"
)

// Attach starts `loopat-host relay` in the loop's running container through the
// podman API (conn is a bindings connection context) and serves the link it
// carries until ctx ends, the container stops or the relay exits. It returns once
// the relay is listening. Calling it again (e.g. after an app restart) starts a new
// relay that replaces the old one inside the same container: nothing is recreated.
//
// The container is identified by the caller, so every stream on the returned
// session acts as loopID and nothing else. With GatewayAddr set, a policy that is not
// Enabled still attaches (for the gateway and other tags) and host exec is refused.
func (s *Server) Attach(ctx context.Context, conn context.Context, loopID, containerID string, p Policy) (*link.Session, error) {
	if err := validLoopID(loopID); err != nil {
		return nil, err
	}
	// The link also carries the model gateway: a loop without [host].clis still gets
	// it, and ServeConn refuses its host-exec streams (policy not enabled).
	if !p.Enabled && s.GatewayAddr == "" {
		return nil, fmt.Errorf("attach host exec to loop %s: not enabled (no [host].clis declared)", loopID)
	}
	info, err := containers.Inspect(conn, containerID, nil)
	if err != nil {
		return nil, fmt.Errorf("attach host exec to loop %s: inspect container: %w", loopID, err)
	}
	if info.State == nil || !info.State.Running {
		return nil, fmt.Errorf("attach host exec to loop %s: container %s is not running", loopID, containerID)
	}

	cmd := append([]string{}, s.RelayCommand...)
	if s.GatewayAddr != "" {
		cmd = append(cmd, "--gateway", s.GatewayAddr)
	}
	execID, err := containers.ExecCreate(conn, containerID, &handlers.ExecCreateConfig{ExecOptions: dockerContainer.ExecOptions{
		AttachStdin: true, AttachStdout: true, AttachStderr: true, Cmd: cmd, User: s.RelayUser,
	}})
	if err != nil {
		return nil, fmt.Errorf("attach host exec to loop %s: create relay exec: %w", loopID, err)
	}

	log := s.log.With("loop", loopID, "container", shortID(containerID))
	rw, err := execstream.Start(conn, execID, false)
	if err != nil {
		return nil, fmt.Errorf("attach host exec to loop %s: start relay exec: %w", loopID, err)
	}
	// The relay's stderr is the loop's to write (it can replace the relay): it goes
	// to loops/<id>/relay.log, rotated by size, never line by line into the app log.
	relayFile := logging.NewRotatingFile(s.RelayLogPath(loopID), logging.DefaultMaxBytes, logging.DefaultKeep)
	relayLog := &tailWriter{out: relayFile, max: 4 << 10}
	outR, outW := io.Pipe()
	go func() {
		err := execstream.Demux(rw, outW, relayLog)
		if err == nil || errors.Is(err, net.ErrClosed) {
			err = io.EOF
		}
		outW.CloseWithError(err)
		relayFile.Close()
	}()
	pipe := link.Pipe{Reader: outR, Writer: rw, Closer: func() error {
		// Closing the attach connection closes the relay's stdin: it exits.
		rw.Close()
		outR.Close()
		return nil
	}}
	sess, err := link.Serve(pipe, log)
	if err != nil {
		pipe.Close()
		return nil, err
	}
	if err := s.Bind(loopID, p, sess); err != nil {
		sess.Close()
		pipe.Close()
		return nil, err
	}

	var endOnce sync.Once
	end := func() {
		endOnce.Do(func() {
			sess.Close()
			pipe.Close()
			s.unbind(loopID, sess)
		})
	}
	go func() {
		select {
		case <-ctx.Done():
		case <-sess.Done():
		}
		end()
		log.Info("host link ended")
	}()

	timer := time.NewTimer(s.ReadyTimeout)
	defer timer.Stop()
	select {
	case <-sess.Ready():
		h := sess.Hello()
		log.Info("host link ready", "socket", h.Socket, "relay_pid", h.PID)
		return sess, nil
	case <-sess.Done():
		end()
		return nil, fmt.Errorf("attach host exec to loop %s: relay exited before it was ready: %s", loopID, relayLog.explain())
	case <-timer.C:
		end()
		return nil, fmt.Errorf("attach host exec to loop %s: relay not ready after %s: %s", loopID, s.ReadyTimeout, relayLog.explain())
	case <-ctx.Done():
		end()
		return nil, fmt.Errorf("attach host exec to loop %s: %w", loopID, ctx.Err())
	}
}

func shortID(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}

// RelayLogName is the per-loop file holding the relay's stderr.
const RelayLogName = "relay.log"

// RelayLogPath is where loopID's relay stderr goes (rotated by size).
func (s *Server) RelayLogPath(loopID string) string {
	return filepath.Join(s.ws.LoopsDir(), loopID, RelayLogName)
}

// tailWriter copies the relay's stderr to out and keeps its tail for errors.
type tailWriter struct {
	out    io.Writer
	max    int
	mu     sync.Mutex
	tail   []byte
	failed bool
}

func (w *tailWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.tail = append(w.tail, p...)
	if len(w.tail) > w.max {
		w.tail = w.tail[len(w.tail)-w.max:]
	}
	if !w.failed {
		if _, err := w.out.Write(p); err != nil {
			w.failed = true // keep the link up without its log; the tail still explains failures
			slog.Warn("relay log", "err", err)
		}
	}
	return len(p), nil
}

func (w *tailWriter) explain() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	t := strings.TrimSpace(string(w.tail))
	if t == "" {
		return "no output (is loopat-host in the image?)"
	}
	return t
}
