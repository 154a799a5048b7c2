//go:build darwin

package hostexec

import (
	"errors"
	"os/exec"

	"golang.org/x/sys/unix"
)

// waitExited blocks until cmd's process has exited but leaves it unreaped, as the
// Linux waitid(WNOWAIT) does: kqueue's NOTE_EXIT fires at exit and reaps nothing, so
// the zombie keeps its pid (and the group id) until cmd.Wait. Without it the SIGKILL
// escalation could fire between the reap and the call marking itself exited, and hit
// a process group that reused the id. False if it could not watch (the caller reaps).
func waitExited(cmd *exec.Cmd) bool {
	kq, err := unix.Kqueue()
	if err != nil {
		return false
	}
	defer unix.Close(kq)
	var ev [1]unix.Kevent_t
	unix.SetKevent(&ev[0], cmd.Process.Pid, unix.EVFILT_PROC, unix.EV_ADD|unix.EV_ONESHOT)
	ev[0].Fflags = unix.NOTE_EXIT
	if _, err := unix.Kevent(kq, ev[:], nil, nil); err != nil {
		// ESRCH: the process already exited. Only cmd.Wait reaps it, so it is still
		// a zombie holding its pid.
		return errors.Is(err, unix.ESRCH)
	}
	var out [1]unix.Kevent_t
	for {
		n, err := unix.Kevent(kq, nil, out[:], nil)
		if err == nil && n > 0 {
			return true
		}
		if err != nil && !errors.Is(err, unix.EINTR) {
			return false
		}
	}
}
