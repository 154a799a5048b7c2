//go:build !unix

package procgroup

import (
	"os"
	"os/exec"
	"syscall"
)

// Own does nothing where there are no process groups.
func Own(*exec.Cmd) {}

// Signal signals cmd alone where there are no process groups.
func Signal(cmd *exec.Cmd, sig syscall.Signal) error {
	if cmd.Process == nil {
		return nil
	}
	if sig == syscall.SIGKILL {
		return cmd.Process.Kill()
	}
	return cmd.Process.Signal(os.Signal(sig))
}

func kill(cmd *exec.Cmd) error { return cmd.Process.Kill() }
