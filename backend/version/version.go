// Package version reports the app version and the versions of the pinned stack it was built with.
package version

import (
	"runtime"
	"runtime/debug"
)

// Version is set at build time with -ldflags "-X github.com/loopat/desktop/backend/version.Version=...".
var Version = "0.1.0-dev"

// tracked are the modules the About page lists.
var tracked = map[string]string{
	"github.com/wailsapp/wails/v2":    "wails",
	"github.com/containers/podman/v5": "podman bindings",
	"github.com/go-git/go-git/v5":     "go-git",
	"github.com/pelletier/go-toml/v2": "go-toml",
	"github.com/zalando/go-keyring":   "go-keyring",
	"fyne.io/systray":                 "systray",
}

// ClaudeCodeVersion is the Claude Code CLI pinned in the sandbox image.
const ClaudeCodeVersion = "2.1.328"

// Components returns name -> version for the app, Go and the pinned libraries.
func Components() map[string]string {
	out := map[string]string{"loopat": Version, "go": runtime.Version(), "claude-code": ClaudeCodeVersion}
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, m := range bi.Deps {
			if name, ok := tracked[m.Path]; ok {
				out[name] = m.Version
			}
		}
	}
	return out
}
