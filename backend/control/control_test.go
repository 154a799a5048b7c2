package control

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/loopat/desktop/backend/rpc"
)

// Echo is a registered service: Say echoes, Fail reports a caller's mistake with a hint.
type Echo struct{ calls atomic.Int32 }

func (e *Echo) Say(s string) (string, error) { e.calls.Add(1); return "echo " + s, nil }
func (e *Echo) Fail() error {
	e.calls.Add(1)
	return rpc.Conflict("the loop is archived", "Unarchive it first.", nil)
}

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// privateDir is a short 0700 folder (unix socket paths are limited to ~100 bytes).
func privateDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "ctl")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	run := filepath.Join(dir, "run")
	if err := os.Mkdir(run, 0o700); err != nil {
		t.Fatal(err)
	}
	return run
}

func serve(t *testing.T, path string) (*Server, *Echo) {
	t.Helper()
	echo := &Echo{}
	s, err := Listen(path, rpc.NewRegistry(echo), quiet)
	if err != nil {
		t.Fatalf("Listen: %v", err)
	}
	t.Cleanup(s.Close)
	return s, echo
}

func say(t *testing.T, c *Client) (string, error) {
	t.Helper()
	var out string
	err := c.Call(context.Background(), "Echo", "Say", &out, "hi")
	return out, err
}

func TestServeCallAndErrors(t *testing.T) {
	path := filepath.Join(privateDir(t), socketName)
	serve(t, path)
	fi, err := os.Lstat(path)
	if err != nil || fi.Mode().Type() != fs.ModeSocket || fi.Mode().Perm() != 0o600 {
		t.Fatalf("socket %v mode %v, want a 0600 socket", err, fi.Mode())
	}
	c, err := DialPath(path)
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	if out, err := say(t, c); err != nil || out != "echo hi" {
		t.Fatalf("Say = %q, %v", out, err)
	}
	err = c.Call(context.Background(), "Echo", "Fail", nil)
	var re *rpc.Error
	if !errors.As(err, &re) || re.Kind != rpc.KindConflict || re.Msg != "the loop is archived" || re.Hint != "Unarchive it first." {
		t.Fatalf("Fail = %#v, want the app's message, hint and kind", err)
	}
	err = c.Call(context.Background(), "Echo", "Nope", nil)
	if !errors.As(err, &re) || re.Kind != rpc.KindNotFound {
		t.Fatalf("unknown method = %#v, want not_found", err)
	}
}

func TestCloseRemovesSocket(t *testing.T) {
	path := filepath.Join(privateDir(t), socketName)
	s, _ := serve(t, path)
	s.Close()
	if _, err := os.Lstat(path); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("socket still there after Close: %v", err)
	}
	if _, err := DialPath(path); !errors.Is(err, ErrNoApp) {
		t.Fatalf("Dial after Close = %v, want ErrNoApp", err)
	}
}

func TestStaleSocketIsReplaced(t *testing.T) {
	path := filepath.Join(privateDir(t), socketName)
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	ln.SetUnlinkOnClose(false)
	ln.Close() // a crashed app's socket: the file stays, nobody listens
	if err := os.Chmod(path, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := DialPath(path); !errors.Is(err, ErrNoApp) {
		t.Fatalf("Dial on a stale socket = %v, want ErrNoApp (fall back)", err)
	}
	serve(t, path)
	c, err := DialPath(path)
	if err != nil {
		t.Fatal(err)
	}
	if out, err := say(t, c); err != nil || out != "echo hi" {
		t.Fatalf("Say = %q, %v", out, err)
	}
}

func TestLiveSocketIsLeftAlone(t *testing.T) {
	path := filepath.Join(privateDir(t), socketName)
	serve(t, path)
	if _, err := Listen(path, rpc.NewRegistry(&Echo{}), quiet); !errors.Is(err, ErrInUse) {
		t.Fatalf("second Listen = %v, want ErrInUse", err)
	}
	c, err := DialPath(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := say(t, c); err != nil {
		t.Fatalf("first server no longer answers: %v", err)
	}
}

func TestNonSocketInPlaceIsRefusedAndKept(t *testing.T) {
	path := filepath.Join(privateDir(t), socketName)
	if err := os.WriteFile(path, []byte("keep me"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Listen(path, rpc.NewRegistry(&Echo{}), quiet); err == nil || !strings.Contains(err.Error(), "not a socket") && !strings.Contains(err.Error(), "other than a socket") {
		t.Fatalf("Listen over a file = %v, want a refusal", err)
	}
	if b, _ := os.ReadFile(path); string(b) != "keep me" {
		t.Fatalf("the file in the socket's place was changed: %q", b)
	}
}

func TestListenRefusesAnOpenFolder(t *testing.T) {
	run := privateDir(t)
	if err := os.Chmod(run, 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := Listen(filepath.Join(run, socketName), rpc.NewRegistry(&Echo{}), quiet); err == nil {
		t.Fatal("Listen in a 0755 folder succeeded")
	}
}

func TestClientRefusesAnOpenSocket(t *testing.T) {
	path := filepath.Join(privateDir(t), socketName)
	_, echo := serve(t, path)
	if err := os.Chmod(path, 0o666); err != nil {
		t.Fatal(err)
	}
	c, err := DialPath(path)
	if err == nil || errors.Is(err, ErrNoApp) || c != nil {
		t.Fatalf("Dial of a 0666 socket = %v, want a refusal", err)
	}
	if echo.calls.Load() != 0 {
		t.Fatal("a call went through")
	}
}

func TestClientRefusesASymlinkedFolder(t *testing.T) {
	real := privateDir(t)
	_, echo := serve(t, filepath.Join(real, socketName))
	// run/ swapped for a symlink to a folder holding a live socket: never used.
	link := filepath.Join(filepath.Dir(real), "linked")
	if err := os.Symlink(real, link); err != nil {
		t.Fatal(err)
	}
	c, err := DialPath(filepath.Join(link, socketName))
	if err == nil || errors.Is(err, ErrNoApp) || c != nil || !strings.Contains(err.Error(), "not a real directory") {
		t.Fatalf("Dial through a symlinked folder = %v, want a refusal", err)
	}
	if _, err := Listen(filepath.Join(link, "other.sock"), rpc.NewRegistry(&Echo{}), quiet); err == nil {
		t.Fatal("Listen through a symlinked folder succeeded")
	}
	if echo.calls.Load() != 0 {
		t.Fatal("a call went through")
	}
}

func TestClientWithoutAppFallsBack(t *testing.T) {
	run := privateDir(t)
	if _, err := DialPath(filepath.Join(run, socketName)); !errors.Is(err, ErrNoApp) {
		t.Fatalf("Dial with no socket = %v, want ErrNoApp", err)
	}
	if _, err := DialPath(filepath.Join(run, "missing", socketName)); !errors.Is(err, ErrNoApp) {
		t.Fatalf("Dial with no folder = %v, want ErrNoApp", err)
	}
}

// The peer check reads the real credentials of a real connection: ours pass, any other
// uid is refused, and a server expecting another uid never runs a call.
func TestPeerCheckRefusesAnotherUID(t *testing.T) {
	path := filepath.Join(privateDir(t), socketName)
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		c, err := ln.AcceptUnix()
		if err == nil {
			defer c.Close()
			_, _ = io.Copy(io.Discard, c)
		}
	}()
	conn, err := net.Dial("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	uc := conn.(*net.UnixConn)
	if err := checkPeer(uc, os.Geteuid()); err != nil {
		t.Fatalf("our own peer refused: %v", err)
	}
	if err := checkPeer(uc, os.Geteuid()+1); err == nil {
		t.Fatal("a peer of another uid was accepted")
	}
}

func TestServerDropsPeersOfAnotherUID(t *testing.T) {
	path := filepath.Join(privateDir(t), socketName)
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	echo := &Echo{}
	srv := &http.Server{Handler: Handler(rpc.NewRegistry(echo), quiet)}
	go srv.Serve(&peerListener{UnixListener: ln, uid: os.Geteuid() + 1, log: quiet})
	defer srv.Close()
	c := &Client{path: path}
	c.http = &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "unix", path)
	}}}
	if _, err := say(t, c); err == nil {
		t.Fatal("a call from a peer of another uid was answered")
	}
	if echo.calls.Load() != 0 {
		t.Fatal("the call ran")
	}
}
