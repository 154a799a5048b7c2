//go:build linux

package hostexec

import (
	"errors"
	"os/exec"

	"golang.org/x/sys/unix"
)

// waitExited blocks until cmd's process has exited but leaves it unreaped
// (WNOWAIT): a zombie keeps its pid, so its process group id cannot be reused
// until cmd.Wait reaps it. False if it could not wait (the caller reaps instead).
func waitExited(cmd *exec.Cmd) bool {
	var info unix.Siginfo
	for {
		err := unix.Waitid(unix.P_PID, cmd.Process.Pid, &info, unix.WEXITED|unix.WNOWAIT, nil)
		if err == nil {
			return true
		}
		if !errors.Is(err, unix.EINTR) {
			return false
		}
	}
}
