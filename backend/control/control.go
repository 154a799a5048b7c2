// Package control is the running app's control socket: an owner-only unix socket in the
// workspace's private socket folder that serves the same rpc registry as the window and
// `loopat serve`, so a fresh `loopat loop pending|answer|ls` reaches the app's loops.
//
// Whoever connects gets full control of the app, so the socket is only ever a unix
// socket (never TCP), in a folder checked private (0700, ours, not a symlink), mode 0600,
// and every connection's peer uid must be ours (SO_PEERCRED / LOCAL_PEERCRED).
package control

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"github.com/loopat/desktop/backend/config"
	"github.com/loopat/desktop/backend/rpc"
)

// socketName is the control socket's file name in the workspace's socket folder.
const socketName = "control.sock"

// maxSocketPath stays under the 104/108-byte sun_path limit of macOS/Linux.
const maxSocketPath = 100

// maxBodyBytes bounds one call's arguments, as the HTTP server does.
const maxBodyBytes = 8 << 20

// ErrInUse: another live process of this workspace already serves the control socket.
var ErrInUse = errors.New("another loopat process of this workspace serves the control socket")

// Caller is the rpc registry as the socket needs it (*rpc.Registry).
type Caller interface {
	Call(service, method string, args json.RawMessage) (any, error)
}

// SocketPath is where ws's control socket lives: run/control.sock, or control.sock in
// the workspace's short temp socket folder when that path would be too long.
func SocketPath(ws config.Workspace) string {
	if p := filepath.Join(ws.RunDir(), socketName); len(p) <= maxSocketPath {
		return p
	}
	return filepath.Join(ws.ShortSocketDir(), socketName)
}

// Server is a listening control socket.
type Server struct {
	path string
	ln   *net.UnixListener
	http *http.Server
	done chan struct{}
}

// Start serves reg on ws's control socket until the returned stop is called. Failing to
// listen is never fatal: it is logged and the app runs without the socket (stop is then
// a no-op). A second app of the same workspace leaves the first one's socket alone.
func Start(ws config.Workspace, reg Caller, log *slog.Logger) (stop func()) {
	path := SocketPath(ws)
	if err := config.PrivateDir(filepath.Dir(path)); err != nil {
		log.Warn("running without the control socket (`loopat loop pending/answer` will not reach this app)", "err", err)
		return func() {}
	}
	s, err := Listen(path, reg, log)
	if errors.Is(err, ErrInUse) {
		log.Warn("running without the control socket: another loopat of this workspace already serves it; `loopat loop pending/answer` reach that one", "socket", path)
		return func() {}
	}
	if err != nil {
		log.Warn("running without the control socket (`loopat loop pending/answer` will not reach this app)", "err", err)
		return func() {}
	}
	log.Info("control socket listening", "socket", path)
	return s.Close
}

// Listen serves reg on the unix socket at path. Its folder must already be private
// (config.CheckPrivateDir). A stale socket file (nobody listening) is replaced; a live
// one is ErrInUse; anything else in its place is refused and left as it is.
func Listen(path string, reg Caller, log *slog.Logger) (*Server, error) {
	if err := config.CheckPrivateDir(filepath.Dir(path)); err != nil {
		return nil, err
	}
	if err := clearStale(path); err != nil {
		return nil, err
	}
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		return nil, fmt.Errorf("listen on control socket %s: %w", path, err)
	}
	// Close removes the file itself, and only while no other process listens on it.
	ln.SetUnlinkOnClose(false)
	// The folder is 0700 already; 0600 keeps the socket owner-only even if it moved.
	if err := os.Chmod(path, 0o600); err != nil {
		_ = ln.Close()
		return nil, fmt.Errorf("chmod control socket %s: %w", path, err)
	}
	s := &Server{path: path, ln: ln, done: make(chan struct{})}
	s.http = &http.Server{Handler: Handler(reg, log), ReadHeaderTimeout: 10 * time.Second}
	go func() {
		defer close(s.done)
		if err := s.http.Serve(&peerListener{UnixListener: ln, uid: os.Geteuid(), log: log}); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Warn("control socket stopped", "err", err)
		}
	}()
	return s, nil
}

// clearStale removes a socket file nobody listens on; a live socket is ErrInUse.
func clearStale(path string) error {
	fi, err := os.Lstat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("check control socket %s: %w", path, err)
	}
	if fi.Mode().Type() != fs.ModeSocket {
		return fmt.Errorf("refusing control socket %s: something other than a socket (%s) is in its place; remove it", path, fi.Mode().Type())
	}
	c, err := net.DialTimeout("unix", path, time.Second)
	if err == nil {
		_ = c.Close()
		return ErrInUse
	}
	if !errors.Is(err, syscall.ECONNREFUSED) && !errors.Is(err, syscall.ENOENT) {
		return fmt.Errorf("check control socket %s: %w", path, err)
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("remove stale control socket %s: %w", path, err)
	}
	return nil
}

// Path is the socket's file.
func (s *Server) Path() string { return s.path }

// Close stops serving and removes the socket file.
func (s *Server) Close() {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	_ = s.http.Shutdown(ctx) // closes the listener
	<-s.done
	// Unlink only a socket we made: a later app may have replaced a file we lost.
	if fi, err := os.Lstat(s.path); err == nil && fi.Mode().Type() == fs.ModeSocket && !isLive(s.path) {
		_ = os.Remove(s.path)
	}
}

func isLive(path string) bool {
	c, err := net.DialTimeout("unix", path, 200*time.Millisecond)
	if err != nil {
		return false
	}
	_ = c.Close()
	return true
}

// peerListener drops every connection whose peer is not our uid before HTTP sees it.
type peerListener struct {
	*net.UnixListener
	uid int
	log *slog.Logger
}

func (l *peerListener) Accept() (net.Conn, error) {
	for {
		c, err := l.AcceptUnix()
		if err != nil {
			return nil, err
		}
		if err := checkPeer(c, l.uid); err != nil {
			l.log.Warn("control socket: connection refused", "err", err)
			_ = c.Close()
			continue
		}
		return c, nil
	}
}

// checkPeer fails unless the process at the other end of c runs as uid.
func checkPeer(c *net.UnixConn, uid int) error {
	got, err := peerUID(c)
	if err != nil {
		return fmt.Errorf("read peer credentials: %w", err)
	}
	if got != uid {
		return fmt.Errorf("peer uid %d is not ours (%d)", got, uid)
	}
	return nil
}

// Handler serves POST /rpc/{service}/{method} (a JSON array of arguments) with
// {"result": ...}, or a failure as {message, hint, kind} with its HTTP status.
func Handler(reg Caller, log *slog.Logger) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /health", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{"ok": true, "pid": os.Getpid()})
	})
	mux.HandleFunc("POST /rpc/{service}/{method}", func(w http.ResponseWriter, r *http.Request) {
		svc, method := r.PathValue("service"), r.PathValue("method")
		body, err := io.ReadAll(io.LimitReader(r.Body, maxBodyBytes+1))
		if err != nil || len(body) > maxBodyBytes {
			writeJSON(w, http.StatusBadRequest, rpc.Payload{Message: "the request could not be read (over 8 MiB or cut off)", Kind: rpc.KindInvalid})
			return
		}
		res, err := reg.Call(svc, method, body)
		if err != nil {
			status, _, _ := rpc.Describe(err)
			if status >= http.StatusInternalServerError {
				log.Warn("control rpc failed", "call", svc+"."+method, "err", err)
			}
			writeJSON(w, status, rpc.PayloadOf(err))
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"result": res})
	})
	return mux
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
