package config

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Workspace is one LOOPAT_HOME: its folder, display name and well-known paths.
type Workspace struct {
	Home string `json:"home"`
	Name string `json:"name"`
}

// ResolveWorkspace uses $LOOPAT_HOME, else ~/.loopat.
func ResolveWorkspace() (Workspace, error) {
	home := os.Getenv("LOOPAT_HOME")
	if home == "" {
		userHome, err := os.UserHomeDir()
		if err != nil {
			return Workspace{}, fmt.Errorf("find home directory: %w", err)
		}
		home = filepath.Join(userHome, ".loopat")
	}
	return NewWorkspace(home)
}

// NewWorkspace makes a Workspace for an explicit folder.
func NewWorkspace(home string) (Workspace, error) {
	abs, err := filepath.Abs(home)
	if err != nil {
		return Workspace{}, fmt.Errorf("resolve LOOPAT_HOME %q: %w", home, err)
	}
	name := WorkspaceName(abs)
	if name == "" {
		return Workspace{}, fmt.Errorf("LOOPAT_HOME %q has no usable base name", home)
	}
	return Workspace{Home: abs, Name: name}, nil
}

// WorkspaceName is the base name without leading dots, as loopat does: ~/.loopat -> loopat.
func WorkspaceName(home string) string {
	return strings.TrimLeft(filepath.Base(filepath.Clean(home)), ".")
}

func (w Workspace) ConfigPath() string { return filepath.Join(w.Home, "config.toml") }
func (w Workspace) LogsDir() string    { return filepath.Join(w.Home, "logs") }
func (w Workspace) LoopsDir() string   { return filepath.Join(w.Home, "loops") }
func (w Workspace) RunDir() string     { return filepath.Join(w.Home, "run") }

// maxSocketPath stays under the 104/108-byte sun_path limit of macOS/Linux.
const maxSocketPath = 100

// ServiceSocket is where the app's own `podman system service` listens: run/podman.sock,
// or podman.sock in ShortSocketDir when that path would be too long for a unix socket.
func (w Workspace) ServiceSocket() string {
	if p := filepath.Join(w.RunDir(), "podman.sock"); len(p) <= maxSocketPath {
		return p
	}
	return filepath.Join(w.ShortSocketDir(), "podman.sock")
}

// ShortSocketDir is a short per-workspace folder under the temp dir for sockets whose
// path under LOOPAT_HOME would be too long.
func (w Workspace) ShortSocketDir() string {
	sum := sha256.Sum256([]byte(w.Home))
	return filepath.Join(os.TempDir(), "loopat-"+hex.EncodeToString(sum[:6]))
}

// Label is the podman label value marking resources of this workspace.
func (w Workspace) Label() string { return w.Name }

// LabelKey is the podman label carried by every image, container and network the app creates.
const LabelKey = "loopat.workspace"

// Ensure creates the workspace folders.
func (w Workspace) Ensure() error {
	for _, d := range []string{w.Home, w.LogsDir(), w.LoopsDir(), w.RunDir()} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return fmt.Errorf("create %s: %w", d, err)
		}
	}
	return nil
}
