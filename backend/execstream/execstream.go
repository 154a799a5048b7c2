// Package execstream starts a podman exec session on its own upgraded API connection
// and splits podman's multiplexed output. Loops (agent, terminal) and host-exec (the
// relay) both run long-lived execs this way.
//
// containers.ExecStartAndAttach is not used: it switches the caller's own terminal
// (os.Stdin) to raw mode when that is a TTY, and swaps the shared client's transport
// while it dials, which races with other API calls on the same connection.
package execstream

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/containers/podman/v5/pkg/bindings"
	"github.com/containers/podman/v5/pkg/bindings/containers"
)

// Start starts exec execID attached over a new upgraded connection and returns it:
// writes go to the process's stdin; reads are the raw stream (Demux it unless tty).
func Start(conn context.Context, execID string, tty bool) (io.ReadWriteCloser, error) {
	c, err := bindings.GetClient(conn)
	if err != nil {
		return nil, err
	}
	body := fmt.Sprintf(`{"Detach":false,"Tty":%t}`, tty)
	resp, err := c.DoRequest(conn, strings.NewReader(body), http.MethodPost, "/exec/%s/start", nil,
		http.Header{"Connection": {"Upgrade"}, "Upgrade": {"tcp"}, "Content-Type": {"application/json"}}, execID)
	if err != nil {
		return nil, fmt.Errorf("start exec %s: %w", execID, err)
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		defer resp.Body.Close()
		if err := resp.Process(nil); err != nil {
			return nil, fmt.Errorf("start exec %s: %w", execID, err)
		}
		return nil, fmt.Errorf("start exec %s: unexpected response %d", execID, resp.StatusCode)
	}
	rw, ok := resp.Body.(io.ReadWriteCloser)
	if !ok {
		resp.Body.Close()
		return nil, errors.New("exec connection is not writable")
	}
	return rw, nil
}

// Demux splits podman's multiplexed stream (8-byte frame headers) into stdout and
// stderr until r ends or a writer fails.
func Demux(r io.Reader, stdout, stderr io.Writer) error {
	buf := make([]byte, 32<<10)
	for {
		fd, size, err := containers.DemuxHeader(r, buf)
		if err != nil {
			return err
		}
		frame, err := containers.DemuxFrame(r, buf, size)
		if err != nil {
			return err
		}
		switch fd {
		case 1:
			if _, err := stdout.Write(frame); err != nil {
				return err
			}
		case 2:
			if _, err := stderr.Write(frame); err != nil {
				return err
			}
		case 3:
			return fmt.Errorf("podman: %s", frame)
		}
	}
}
