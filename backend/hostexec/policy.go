// Package hostexec runs host-only CLIs on behalf of a loop: the host end of the
// `loopat-host` forwarder. Identity comes from the link (one per loop container),
// policy decides which CLIs may run, and every call is audited.
package hostexec

import (
	"fmt"
	"regexp"
	"time"

	"github.com/loopat/desktop/backend/config"
)

// Policy is one loop's host-exec permission.
type Policy struct {
	// Enabled opts the loop into host CLIs; a disabled loop still gets the link (model
	// gateway, promote) but every host-exec request is refused.
	Enabled bool `json:"enabled"`
	// CLIs are the command names the loop may run (its [host].clis).
	CLIs []string `json:"clis"`
	// AllowAny lets the loop run any CLI on the host PATH (explicit setting).
	AllowAny bool `json:"allowAny"`
	// Timeout kills a call that runs longer (0 = no limit).
	Timeout time.Duration `json:"timeout"`
}

// PolicyFor builds a loop's policy from the global [host_exec] section and the
// loop's declared CLIs: declaring at least one CLI (or allow-any) opts the loop in.
func PolicyFor(cfg config.HostExec, clis []string) Policy {
	return Policy{
		Enabled:  len(clis) > 0 || cfg.AllowAny,
		CLIs:     clis,
		AllowAny: cfg.AllowAny,
		Timeout:  time.Duration(cfg.TimeoutSeconds) * time.Second,
	}
}

// allows reports whether cli may run under p.
func (p Policy) allows(cli string) bool {
	if !p.Enabled {
		return false
	}
	if p.AllowAny {
		return true
	}
	for _, c := range p.CLIs {
		if c == cli {
			return true
		}
	}
	return false
}

var cliName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._+-]*$`)

// ValidCLIName reports whether name is a plain command name (no path, no shell
// metacharacters): the only kind of name the host will run or a shim may carry.
func ValidCLIName(name string) bool { return len(name) <= 128 && cliName.MatchString(name) }

var loopIDPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)

func validLoopID(id string) error {
	if len(id) > 128 || !loopIDPattern.MatchString(id) {
		return fmt.Errorf("invalid loop id %q", id)
	}
	return nil
}

// ShimScript returns the sandbox shim for cli, installed as
// /opt/loopat-mise/shims/<cli>. `--` makes loopat-host treat the next argument as
// a CLI name even if it is also one of its own subcommands (e.g. "relay").
func ShimScript(cli string) (string, error) {
	if !ValidCLIName(cli) {
		return "", fmt.Errorf("host CLI name %q is not allowed (want letters, digits, . _ + -, not starting with a symbol)", cli)
	}
	return "#!/bin/sh\nexec loopat-host -- '" + cli + "' \"$@\"\n", nil
}
