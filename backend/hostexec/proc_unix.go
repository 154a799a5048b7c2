//go:build unix

package hostexec

import (
	"os/exec"
	"syscall"
)

// ownGroup puts the command in its own process group so the whole tree can be
// signalled (a CLI's children must not outlive a cancelled call).
func ownGroup(cmd *exec.Cmd) { cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} }

func signalGroup(cmd *exec.Cmd, sig syscall.Signal) {
	if cmd.Process != nil {
		_ = killGroup(cmd.Process.Pid, sig)
	}
}

// killGroup signals process group pgid (a variable so tests can watch signals).
var killGroup = func(pgid int, sig syscall.Signal) error { return syscall.Kill(-pgid, sig) }
