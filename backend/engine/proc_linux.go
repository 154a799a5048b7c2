package engine

import "syscall"

// serviceProcAttr ties the service's life to the app: it gets SIGTERM if the app dies
// without Close (crash, kill -9), so no orphan keeps holding the socket.
func serviceProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
}
