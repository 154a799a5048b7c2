package config

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// Workspace is one LOOPAT_HOME: its folder, display name, identity and well-known paths.
type Workspace struct {
	Home string `json:"home"`
	Name string `json:"name"`
	// ID is the workspace's random identity (the workspace-id file, made once by Ensure):
	// podman labels, container and network names and socket folders use it, so two homes
	// with the same base name never share resources.
	ID string `json:"id,omitempty"`
	// LegacyLabel is the label (the name) a workspace made before ids gave its resources;
	// uninstall and loops still find those. Empty for workspaces born with an id.
	LegacyLabel string `json:"legacyLabel,omitempty"`
}

// IDFile holds the workspace id (first line) and, for migrated workspaces, a
// "legacy-label=<name>" line.
const IDFile = "workspace-id"

// idLen is the id's length in hex digits (64 random bits).
const idLen = 16

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
	w := Workspace{Home: abs, Name: name}
	if err := w.readID(); err != nil {
		return Workspace{}, err
	}
	return w, nil
}

// readID loads the id file when present (a workspace not yet Ensured has none).
func (w *Workspace) readID() error {
	path := filepath.Join(w.Home, IDFile)
	fi, err := os.Lstat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("read workspace id: %w", err)
	}
	if !fi.Mode().IsRegular() || fi.Size() > 4096 {
		return fmt.Errorf("workspace id %s is not a small regular file; remove it and start loopat again", path)
	}
	f, err := os.OpenFile(path, os.O_RDONLY|noFollow, 0)
	if err != nil {
		return fmt.Errorf("read workspace id: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, 4096))
	if err != nil {
		return fmt.Errorf("read workspace id: %w", err)
	}
	id, legacy, err := parseIDFile(data)
	if err != nil {
		return fmt.Errorf("workspace id %s: %w", path, err)
	}
	w.ID, w.LegacyLabel = id, legacy
	return nil
}

func parseIDFile(data []byte) (id, legacy string, err error) {
	sc := bufio.NewScanner(bytes.NewReader(data))
	for n := 0; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		switch {
		case n == 0:
			id = line
		case strings.HasPrefix(line, "legacy-label="):
			legacy = strings.TrimPrefix(line, "legacy-label=")
		}
	}
	if !validID(id) {
		return "", "", fmt.Errorf("first line must be %d lowercase hex digits", idLen)
	}
	if legacy != "" && !validLabel(legacy) {
		return "", "", fmt.Errorf("legacy-label %q has characters outside [A-Za-z0-9_.-]", legacy)
	}
	return id, legacy, nil
}

func validID(id string) bool {
	if len(id) != idLen {
		return false
	}
	for _, r := range id {
		if !(r >= '0' && r <= '9' || r >= 'a' && r <= 'f') {
			return false
		}
	}
	return true
}

func validLabel(s string) bool {
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '.' || r == '-') {
			return false
		}
	}
	return s != ""
}

// ensureID gives the workspace its id once. A home that already held a workspace (made
// before ids) records its name as the legacy label, so its old resources stay findable.
// existed says whether the home had content before Ensure created folders.
func (w *Workspace) ensureID(existed bool) error {
	if w.ID != "" {
		return nil
	}
	if err := w.readID(); err != nil || w.ID != "" {
		return err
	}
	b := make([]byte, idLen/2)
	if _, err := rand.Read(b); err != nil {
		return fmt.Errorf("make workspace id: %w", err)
	}
	id := hex.EncodeToString(b)
	content := id + "\n"
	legacy := ""
	if existed && validLabel(w.Name) {
		legacy = w.Name
		content += "legacy-label=" + legacy + "\n"
	}
	path := filepath.Join(w.Home, IDFile)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL|noFollow, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return w.readID() // another process of this workspace won the race
	}
	if err != nil {
		return fmt.Errorf("write workspace id: %w", err)
	}
	if _, err := f.WriteString(content); err != nil {
		f.Close()
		os.Remove(path)
		return fmt.Errorf("write workspace id: %w", err)
	}
	if err := f.Close(); err != nil {
		os.Remove(path)
		return fmt.Errorf("write workspace id: %w", err)
	}
	w.ID, w.LegacyLabel = id, legacy
	return nil
}

// hadContent reports whether home already holds a workspace of an earlier version.
func hadContent(home string) bool {
	for _, n := range []string{"config.toml", "loops", "logs", "vault.json"} {
		if _, err := os.Lstat(filepath.Join(home, n)); err == nil {
			return true
		}
	}
	return false
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
// path under LOOPAT_HOME would be too long. It is named after the workspace id (which
// other users cannot read, so cannot pre-create); create it with PrivateDir.
func (w Workspace) ShortSocketDir() string {
	if w.ID != "" {
		return filepath.Join(os.TempDir(), "loopat-"+w.ID)
	}
	return w.LegacyShortSocketDir()
}

// LegacyShortSocketDir is the temp socket folder of versions before workspace ids
// (named by a hash of the home path), still checked by uninstall.
func (w Workspace) LegacyShortSocketDir() string {
	sum := sha256.Sum256([]byte(w.Home))
	return filepath.Join(os.TempDir(), "loopat-"+hex.EncodeToString(sum[:6]))
}

// Label is the podman label value marking resources of this workspace: its id (the name
// only for a Workspace that was never Ensured, as in some tests).
func (w Workspace) Label() string {
	if w.ID != "" {
		return w.ID
	}
	return w.Name
}

// ResourcePrefix starts the names of this workspace's containers and networks.
func (w Workspace) ResourcePrefix() string { return "loopat-" + w.Label() }

// LabelKey is the podman label carried by every image, container and network the app creates.
const LabelKey = "loopat.workspace"

// Ensure creates the workspace folders and gives the workspace its id (once). The run
// folder holds sockets: it must be private (see PrivateDir).
func (w *Workspace) Ensure() error {
	existed := hadContent(w.Home)
	for _, d := range []string{w.Home, w.LogsDir(), w.LoopsDir()} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return fmt.Errorf("create %s: %w", d, err)
		}
	}
	if err := PrivateDir(w.RunDir()); err != nil {
		return err
	}
	return w.ensureID(existed)
}

// PrivateDir makes dir (and missing parents, 0700) and checks it before sockets are put
// in it: a real directory, not a symlink, owned by us, mode exactly 0700. Anything else
// is refused: in a shared temp folder another user could have made it first to catch
// our sockets or swap them.
func PrivateDir(dir string) error {
	if err := os.MkdirAll(filepath.Dir(dir), 0o700); err != nil {
		return fmt.Errorf("create %s: %w", filepath.Dir(dir), err)
	}
	created := true
	if err := os.Mkdir(dir, 0o700); err != nil {
		if !errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("create %s: %w", dir, err)
		}
		created = false
	}
	if created {
		// Our umask may have taken bits off; a folder we just made is safe to correct.
		if err := os.Chmod(dir, 0o700); err != nil {
			return fmt.Errorf("chmod %s: %w", dir, err)
		}
	}
	return CheckPrivateDir(dir)
}

// CheckPrivateDir checks, without changing anything, that dir is a real directory (not a
// symlink) owned by us with mode 0700.
func CheckPrivateDir(dir string) error {
	fi, err := os.Lstat(dir)
	if err != nil {
		return fmt.Errorf("check %s: %w", dir, err)
	}
	if fi.Mode()&fs.ModeSymlink != 0 || !fi.IsDir() {
		return fmt.Errorf("refusing socket folder %s: not a real directory (a symlink or file is in its place); remove it", dir)
	}
	if uid, ok := ownerUID(fi); ok && uid != os.Geteuid() {
		return fmt.Errorf("refusing socket folder %s: owned by uid %d, not by us (uid %d); another user made it - remove it", dir, uid, os.Geteuid())
	}
	if fi.Mode().Perm() != 0o700 {
		return fmt.Errorf("refusing socket folder %s: mode %o, want 700 (others could reach its sockets); fix with chmod 700 %s", dir, fi.Mode().Perm(), dir)
	}
	return nil
}
