//go:build !linux

package hostexec

import "os/exec"

// waitExited reports false where waitid(WNOWAIT) is not available: the caller
// reaps with cmd.Wait first, then stops the escalation timer under the call's
// mutex (a much smaller window than a timer left running).
func waitExited(*exec.Cmd) bool { return false }
