//go:build unix

package hostexec

import (
	"os"
	"os/signal"
	"sync"
	"syscall"
)

var restoreChildSignals sync.Once

// defaultSignalsForChildren makes host processes start with SIGINT and SIGQUIT at their
// default action. An app started with them ignored (from a script's background job,
// nohup) would otherwise pass "ignored" on through exec, and the sandbox's Ctrl-C
// (forwarded as SIGINT) would not stop a host CLI. A handled signal is reset to default
// by exec, so while ignored we handle it with a sink that drops it: the app itself keeps
// not reacting to it, as before.
func defaultSignalsForChildren() {
	restoreChildSignals.Do(func() {
		var sigs []os.Signal
		for _, s := range []os.Signal{syscall.SIGINT, syscall.SIGQUIT} {
			if signal.Ignored(s) {
				sigs = append(sigs, s)
			}
		}
		if len(sigs) > 0 {
			signal.Notify(make(chan os.Signal, 1), sigs...)
		}
	})
}
