// Package procgroup runs a child in a process group of its own and signals that whole
// group, so helpers the child spawned stop with it. On platforms without process groups
// the child alone is signalled. (hostexec keeps its own, stricter handling: it must not
// signal a group id that was reused after its process exited.)
package procgroup

import "os/exec"

// Stop kills cmd's group (or cmd alone where there are no groups); suitable as
// exec.Cmd.Cancel. A command not started is left alone.
func Stop(cmd *exec.Cmd) error {
	if cmd.Process == nil {
		return nil
	}
	return kill(cmd)
}
