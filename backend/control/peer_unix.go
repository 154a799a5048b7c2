//go:build linux || darwin

package control

import "net"

// peerUID is the uid of the process at the other end, read from the socket by the
// system's own call (socketPeerUID: SO_PEERCRED on Linux, LOCAL_PEERCRED on macOS).
func peerUID(c *net.UnixConn) (int, error) {
	raw, err := c.SyscallConn()
	if err != nil {
		return 0, err
	}
	var uid int
	var credErr error
	if err := raw.Control(func(fd uintptr) { uid, credErr = socketPeerUID(int(fd)) }); err != nil {
		return 0, err
	}
	return uid, credErr
}
