//go:build unix

package procgroup

import (
	"os/exec"
	"syscall"
)

// Own makes cmd, once started, the leader of a new process group (other SysProcAttr
// settings are kept).
func Own(cmd *exec.Cmd) {
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Setpgid = true
}

// Signal sends sig to cmd's whole group (cmd must have been started with Own).
func Signal(cmd *exec.Cmd, sig syscall.Signal) error {
	if cmd.Process == nil {
		return nil
	}
	return syscall.Kill(-cmd.Process.Pid, sig)
}

func kill(cmd *exec.Cmd) error { return Signal(cmd, syscall.SIGKILL) }
