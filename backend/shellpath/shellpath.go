// Package shellpath finds host CLIs the way the user's terminal would. A macOS app launched
// from Finder inherits launchd's short PATH (/usr/bin:/bin:/usr/sbin:/sbin), so podman from
// Homebrew or the podman installer, and CLIs a loop may run on the host, would not be found.
// It only widens WHERE a command name is looked up; callers still decide WHICH names may run.
package shellpath

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"time"
)

// Env is everything Dirs depends on, so it can be tested on any OS.
type Env struct {
	GOOS    string        // runtime.GOOS for the real process
	PATH    string        // the process PATH
	Shell   string        // the user's login shell ($SHELL); queried on darwin only
	Timeout time.Duration // bound on the login shell; default 3s
}

// extraDirs are the usual install locations on macOS: Homebrew (Apple silicon, Intel),
// MacPorts, and the podman.io installer.
var extraDirs = []string{"/opt/homebrew/bin", "/usr/local/bin", "/opt/local/bin", "/opt/podman/bin"}

// marker separates the PATH from anything a profile script prints on stdout.
const marker = "__LOOPAT_PATH__="

// Dirs is the search path: the process PATH, then (on darwin) the login shell's PATH and the
// usual install locations. Only absolute, existing directories, each once, in that order:
// the process PATH keeps precedence, so on Linux (and in a terminal-launched app) nothing
// changes. A failing or slow login shell is ignored.
func Dirs(ctx context.Context, env Env) []string {
	shellPATH := ""
	if env.GOOS == "darwin" {
		if p, err := LoginShellPATH(ctx, env.Shell, env.Timeout); err != nil {
			slog.Debug("login shell PATH unavailable", "shell", env.Shell, "err", err)
		} else {
			shellPATH = p
		}
	}
	return dirsFrom(env.GOOS, env.PATH, shellPATH)
}

// dirsFrom merges the process PATH, the login shell's PATH and (darwin) the install folders.
func dirsFrom(goos, processPATH, shellPATH string) []string {
	lists := [][]string{filepath.SplitList(processPATH)}
	if goos == "darwin" {
		lists = append(lists, filepath.SplitList(shellPATH), extraDirs)
	}
	seen := map[string]bool{}
	var out []string
	for _, l := range lists {
		for _, d := range l {
			if !filepath.IsAbs(d) {
				continue // "" and "." would resolve against the working directory
			}
			d = filepath.Clean(d)
			if seen[d] {
				continue
			}
			seen[d] = true
			if fi, err := os.Stat(d); err == nil && fi.IsDir() {
				out = append(out, d)
			}
		}
	}
	return out
}

// LoginShellPATH runs `shell -l -c 'printf ... "$PATH"'` and returns the PATH it prints.
func LoginShellPATH(ctx context.Context, shell string, timeout time.Duration) (string, error) {
	if shell == "" || !filepath.IsAbs(shell) {
		return "", fmt.Errorf("login shell %q is not an absolute path", shell)
	}
	if timeout <= 0 {
		timeout = 3 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, shell, "-l", "-c", `printf '\n`+marker+`%s' "$PATH"`)
	cmd.Stdin = nil
	cmd.Stderr = nil
	cmd.WaitDelay = time.Second // a profile that backgrounds a child holding stdout cannot hang us
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("run %s -l: %w", shell, err)
	}
	i := bytes.LastIndex(out, []byte(marker))
	if i < 0 {
		return "", errors.New("login shell printed no PATH")
	}
	p := strings.TrimSpace(string(out[i+len(marker):]))
	if p == "" {
		return "", errors.New("login shell PATH is empty")
	}
	return p, nil
}

// LookPathIn finds an executable named name in dirs. name must be a plain command name.
func LookPathIn(name string, dirs []string) (string, error) {
	if name == "" || strings.ContainsRune(name, '/') || strings.ContainsRune(name, os.PathSeparator) {
		return "", fmt.Errorf("%q is not a plain command name", name)
	}
	for _, d := range dirs {
		p := filepath.Join(d, name)
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", fmt.Errorf("%s: %w", name, exec.ErrNotFound)
}

var (
	shellOnce sync.Once
	shellPATH string
)

// Default is Dirs for this process. The login shell runs at most once (its PATH is cached);
// the process PATH is read on every call, so a PATH the app or a test sets later counts.
func Default() []string {
	if runtime.GOOS == "darwin" {
		shellOnce.Do(func() {
			shell := os.Getenv("SHELL")
			if shell == "" {
				shell = "/bin/zsh" // the macOS default login shell
			}
			if p, err := LoginShellPATH(context.Background(), shell, 0); err == nil {
				shellPATH = p
			} else {
				slog.Debug("login shell PATH unavailable", "shell", shell, "err", err)
			}
		})
	}
	return dirsFrom(runtime.GOOS, os.Getenv("PATH"), shellPATH)
}

// LookPath finds name in Default(): a drop-in for exec.LookPath for plain command names.
func LookPath(name string) (string, error) { return LookPathIn(name, Default()) }

// PATH is Default() joined, for the environment of a command found by LookPath (a
// Homebrew script's `#!/usr/bin/env node` needs node on its PATH).
func PATH() string { return strings.Join(Default(), string(os.PathListSeparator)) }
