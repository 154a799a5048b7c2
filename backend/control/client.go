package control

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"github.com/loopat/desktop/backend/config"
	"github.com/loopat/desktop/backend/rpc"
)

// ErrNoApp: no process of this workspace serves the control socket (none, or a stale file).
var ErrNoApp = errors.New("no running loopat app serves this workspace")

// Client calls the running app's services over its control socket.
type Client struct {
	path string
	http *http.Client
}

// Dial connects to ws's running app. It returns ErrNoApp when nobody listens, and an
// error when the socket or its folder is not private (then the caller must not use it):
// the folder must pass config.CheckPrivateDir and the socket must be a socket of ours
// with no group or other bits, served by a process of our uid.
func Dial(ws config.Workspace) (*Client, error) {
	return DialPath(SocketPath(ws))
}

// DialPath is Dial for an explicit socket path.
func DialPath(path string) (*Client, error) {
	if _, err := os.Lstat(path); errors.Is(err, fs.ErrNotExist) {
		if _, derr := os.Lstat(filepath.Dir(path)); errors.Is(derr, fs.ErrNotExist) {
			return nil, ErrNoApp
		}
	}
	if err := config.CheckPrivateDir(filepath.Dir(path)); err != nil {
		return nil, err
	}
	if err := checkSocketFile(path); err != nil {
		return nil, err
	}
	c := &Client{path: path}
	c.http = &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) { return c.dial(ctx) },
		// One short-lived command: no idle connections to keep.
		DisableKeepAlives: true,
	}}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	conn, err := c.dial(ctx)
	if err != nil {
		if errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ENOENT) {
			return nil, ErrNoApp
		}
		return nil, err
	}
	_ = conn.Close()
	return c, nil
}

// checkSocketFile: a socket (not a symlink), owned by us, mode without group/other bits.
func checkSocketFile(path string) error {
	fi, err := os.Lstat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return ErrNoApp
	}
	if err != nil {
		return fmt.Errorf("check control socket %s: %w", path, err)
	}
	if fi.Mode().Type() != fs.ModeSocket {
		return fmt.Errorf("refusing control socket %s: not a socket (%s)", path, fi.Mode().Type())
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok && int(st.Uid) != os.Geteuid() {
		return fmt.Errorf("refusing control socket %s: owned by uid %d, not by us", path, st.Uid)
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return fmt.Errorf("refusing control socket %s: mode %o lets others connect (want 600)", path, fi.Mode().Perm())
	}
	return nil
}

// dial connects and checks that the server runs as our uid.
func (c *Client) dial(ctx context.Context) (net.Conn, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "unix", c.path)
	if err != nil {
		return nil, err
	}
	if err := checkPeer(conn.(*net.UnixConn), os.Geteuid()); err != nil {
		_ = conn.Close()
		return nil, fmt.Errorf("control socket %s: %w", c.path, err)
	}
	return conn, nil
}

// Call runs service.method(args...) in the app and decodes its result into out (nil:
// ignore it). A failure the app reports comes back as an *rpc.Error with its hint.
func (c *Client) Call(ctx context.Context, service, method string, out any, args ...any) error {
	if args == nil {
		args = []any{}
	}
	body, err := json.Marshal(args)
	if err != nil {
		return fmt.Errorf("encode %s.%s arguments: %w", service, method, err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://loopat/rpc/"+service+"/"+method, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("call the running app (%s.%s): %w", service, method, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return fmt.Errorf("read the running app's answer (%s.%s): %w", service, method, err)
	}
	if resp.StatusCode != http.StatusOK {
		var p rpc.Payload
		if json.Unmarshal(raw, &p) != nil || p.Message == "" {
			return fmt.Errorf("the running app failed %s.%s (HTTP %d)", service, method, resp.StatusCode)
		}
		if p.Kind == "" {
			p.Kind = rpc.KindOf(resp.StatusCode)
		}
		return &rpc.Error{Kind: p.Kind, Msg: p.Message, Hint: p.Hint}
	}
	var env struct {
		Result json.RawMessage `json:"result"`
	}
	if err := json.Unmarshal(raw, &env); err != nil {
		return fmt.Errorf("read the running app's answer (%s.%s): %w", service, method, err)
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(env.Result, out); err != nil {
		return fmt.Errorf("read the running app's answer (%s.%s): %w", service, method, err)
	}
	return nil
}
