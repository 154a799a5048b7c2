package engine

import (
	"os"
	"path/filepath"
	"strings"

	"github.com/loopat/desktop/backend/shellpath"
)

// findPodman resolves the podman executable. GUI apps on macOS start without the shell's
// PATH, so the usual install locations are tried when PATH has no podman.
func findPodman(configured, goos string, lookPath func(string) (string, error)) (string, bool) {
	if configured == "" {
		configured = "podman"
	}
	if strings.ContainsRune(configured, os.PathSeparator) {
		if isExecutable(configured) {
			return configured, true
		}
		return configured, false
	}
	if p, err := lookPath(configured); err == nil {
		return p, true
	}
	var dirs []string
	switch goos {
	case "darwin":
		dirs = []string{"/opt/homebrew/bin", "/usr/local/bin", "/opt/podman/bin"}
	case "linux":
		dirs = []string{"/usr/bin", "/usr/local/bin"}
	}
	for _, d := range dirs {
		if p := filepath.Join(d, configured); isExecutable(p) {
			return p, true
		}
	}
	return configured, false
}

func isExecutable(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0
}

// defaultLookPath also searches the login shell PATH: a Finder-launched app has a short one.
var defaultLookPath = shellpath.LookPath
