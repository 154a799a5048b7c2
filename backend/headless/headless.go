// Package headless hands `loopat <command>` from the desktop binary to its window-less
// twin, loopat-headless: the same source built with CGO_ENABLED=0 and without the
// window (build tag headless).
//
// Why: the desktop binary links WebKitGTK, and the dynamic loader maps its libraries
// (~44 MB resident) into every process of it, including `loopat serve`, which never
// opens a window. Exec'ing the twin in place (same pid, arguments, environment and
// stdio) gives every CLI command the footprint of a plain Go program.
//
// The twin is trusted as much as the desktop binary: it is looked up only beside the
// resolved executable (or in ../lib/loopat for a packaged install), never on PATH or in
// a folder a loop can write. A twin from another build hands the command back.
package headless

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
)

// Name is the twin's file name.
const Name = "loopat-headless"

const (
	// envFrom carries the desktop binary's version to the twin, which refuses a mismatch.
	envFrom = "LOOPAT_HEADLESS_FROM"
	// envDesktop is the desktop binary's path, for handing a command back.
	envDesktop = "LOOPAT_HEADLESS_DESKTOP"
	// envOff makes the desktop binary run commands itself (set on hand-back, or by a user).
	envOff = "LOOPAT_NO_HEADLESS"
)

// ErrNoTwin: no twin is installed beside the executable; run the command in-process.
var ErrNoTwin = errors.New("no " + Name + " beside the executable")

// Exec replaces the process with the twin running args. It returns only when the twin
// is not used (ErrNoTwin, envOff set) or the exec failed; the caller then runs the
// command itself.
func Exec(args []string, version string) error {
	if os.Getenv(envOff) != "" {
		return errors.New(envOff + " is set")
	}
	self, err := os.Executable()
	if err != nil {
		return fmt.Errorf("headless: locate executable: %w", err)
	}
	if self, err = filepath.EvalSymlinks(self); err != nil {
		return fmt.Errorf("headless: resolve executable: %w", err)
	}
	twin := Find(self)
	if twin == "" {
		return ErrNoTwin
	}
	env := append(os.Environ(), envFrom+"="+version, envDesktop+"="+self)
	argv := append([]string{twin}, args...)
	if err := syscall.Exec(twin, argv, env); err != nil {
		return fmt.Errorf("headless: exec %s: %w", twin, err)
	}
	return nil // unreachable
}

// Find returns the twin for the desktop binary at self, or "".
func Find(self string) string {
	dir := filepath.Dir(self)
	for _, p := range []string{
		filepath.Join(dir, Name),                        // build/bin, macOS Contents/MacOS
		filepath.Join(dir, "..", "lib", "loopat", Name), // /usr/bin/loopat -> /usr/lib/loopat
	} {
		if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() && st.Mode()&0o111 != 0 {
			return p
		}
	}
	return ""
}

// Adopt runs first in the twin. If the desktop binary that exec'd it is of another
// version (a stale twin left by an upgrade), it hands the command back with envOff set;
// otherwise it clears the hand-over variables so child processes never see them.
func Adopt(args []string, version string) error {
	from, desktop := os.Getenv(envFrom), os.Getenv(envDesktop)
	os.Unsetenv(envFrom)
	os.Unsetenv(envDesktop)
	if from == "" || from == version {
		return nil
	}
	if desktop == "" {
		return fmt.Errorf("headless: twin %s cannot run for loopat %s and the desktop binary is unknown", version, from)
	}
	env := append(os.Environ(), envOff+"=1")
	if err := syscall.Exec(desktop, append([]string{desktop}, args...), env); err != nil {
		return fmt.Errorf("headless: hand back to %s: %w", desktop, err)
	}
	return nil
}
