// Package vault keeps named sets of secrets (env variables and files) in the OS keychain.
//
// Values live only in the keychain, one item per secret (large values are split into
// chunk items behind a manifest item). The workspace keeps an index of names and
// metadata in LOOPAT_HOME/vaults.json so the UI can list secrets without unlocking
// anything; the index never holds a value. There is no plaintext fallback.
package vault

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/loopat/desktop/backend/config"
	"github.com/loopat/desktop/backend/safefs"
)

// DefaultVault is used when a loop or command names no vault.
const DefaultVault = "default"

// ChunkSize is the largest value stored in one keychain item. macOS' `security` tool
// takes at most ~4 KiB per command line and go-keyring base64-encodes the value
// (+33%), so 2 KiB leaves room for service and account names.
const ChunkSize = 2048

// MaxValueSize bounds one secret (keychains are slow with many big items).
const MaxValueSize = 1 << 20

// Kinds of secrets.
const (
	KindEnv  = "env"
	KindFile = "file"
)

// Item is the metadata of one secret, as listed in the index. It never carries the value.
type Item struct {
	Vault   string    `json:"vault"`
	Kind    string    `json:"kind"`           // KindEnv or KindFile
	Name    string    `json:"name"`           // env name, or file path relative to the sandbox home
	Mode    int       `json:"mode,omitempty"` // file permission bits (files only)
	Size    int       `json:"size"`           // value length in bytes
	Chunks  int       `json:"chunks,omitempty"`
	Updated time.Time `json:"updated"`
}

// FileSecret is a file secret with its value, for delivery into a sandbox.
type FileSecret struct {
	Path  string      // relative to the sandbox home, slash-separated
	Mode  fs.FileMode // permission bits
	Value []byte
}

var (
	vaultNameRe = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$`)
	envNameRe   = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
)

// Vault manages the secrets of one workspace.
type Vault struct {
	ws config.Workspace
	kr Keyring
	mu sync.Mutex // serialises index read-modify-write within this process
}

// New returns the vaults of ws stored in kr (normally OSKeyring()).
func New(ws config.Workspace, kr Keyring) *Vault { return &Vault{ws: ws, kr: kr} }

// IndexPath is LOOPAT_HOME/vaults.json.
func (v *Vault) IndexPath() string { return filepath.Join(v.ws.Home, "vaults.json") }

// lockedIndex serialises index updates within this process and across processes,
// and loads the current index. Call the returned unlock when done.
func (v *Vault) lockedIndex() (*index, func(), error) {
	v.mu.Lock()
	if err := os.MkdirAll(v.ws.Home, 0o700); err != nil {
		v.mu.Unlock()
		return nil, nil, fmt.Errorf("create workspace: %w", err)
	}
	unlockFile, err := lockIndex(v.IndexPath())
	if err != nil {
		v.mu.Unlock()
		return nil, nil, err
	}
	unlock := func() { unlockFile(); v.mu.Unlock() }
	ix, err := v.loadIndex()
	if err != nil {
		unlock()
		return nil, nil, err
	}
	return ix, unlock, nil
}

// index is the on-disk vaults.json.
type index struct {
	Version int `json:"version"`
	// ID makes keychain service names unique per workspace even when two workspaces share
	// a folder name; it moves with the folder.
	ID     string            `json:"workspaceId"`
	Vaults map[string][]Item `json:"vaults"`
}

func (v *Vault) loadIndex() (*index, error) {
	data, err := os.ReadFile(v.IndexPath())
	if errors.Is(err, os.ErrNotExist) {
		return &index{Version: 1, Vaults: map[string][]Item{}}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read vault index: %w", err)
	}
	var ix index
	if err := json.Unmarshal(data, &ix); err != nil {
		return nil, fmt.Errorf("parse vault index %s: %w", v.IndexPath(), err)
	}
	if ix.Vaults == nil {
		ix.Vaults = map[string][]Item{}
	}
	return &ix, nil
}

func (v *Vault) saveIndex(ix *index) error {
	data, err := json.MarshalIndent(ix, "", "  ")
	if err != nil {
		return fmt.Errorf("encode vault index: %w", err)
	}
	if err := os.MkdirAll(v.ws.Home, 0o700); err != nil {
		return fmt.Errorf("create workspace: %w", err)
	}
	if err := safefs.WriteFileAtomic(v.IndexPath(), append(data, '\n'), 0o600); err != nil {
		return fmt.Errorf("write vault index: %w", err)
	}
	return nil
}

func (v *Vault) service(ix *index) string { return "loopat:" + v.ws.Name + ":" + ix.ID }

// ServiceName is the keychain service under which this workspace's items live
// ("" before the first secret is stored).
func (v *Vault) ServiceName() (string, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	ix, err := v.loadIndex()
	if err != nil || ix.ID == "" {
		return "", err
	}
	return v.service(ix), nil
}

func account(vault, kind, name string) string { return vault + "/" + kind + "/" + name }

func (ix *index) find(vault, kind, name string) (int, bool) {
	for i, it := range ix.Vaults[vault] {
		if it.Kind == kind && it.Name == name {
			return i, true
		}
	}
	return -1, false
}

// Validation.

func checkVault(name string) error {
	if !vaultNameRe.MatchString(name) {
		return fmt.Errorf("invalid vault name %q: use letters, digits, '_', '.', '-' (max 64, not starting with a symbol)", name)
	}
	return nil
}

// CheckEnvName reports whether name is a valid environment variable name.
func CheckEnvName(name string) error {
	if !envNameRe.MatchString(name) {
		return fmt.Errorf("invalid env secret name %q: use letters, digits and '_', not starting with a digit", name)
	}
	return nil
}

// CheckFilePath reports whether p is a clean relative path under the sandbox home.
func CheckFilePath(p string) error {
	switch {
	case p == "" || p == ".":
		return errors.New("file secret path is empty")
	case len(p) > 255:
		return fmt.Errorf("file secret path is longer than 255 bytes")
	case strings.HasPrefix(p, "/") || filepath.IsAbs(p):
		return fmt.Errorf("file secret path %q must be relative to the sandbox home, e.g. .ssh/id_ed25519", p)
	case strings.ContainsAny(p, "\\\x00#") || strings.ContainsFunc(p, func(r rune) bool { return r < 0x20 || r == 0x7f }):
		return fmt.Errorf("file secret path %q contains a backslash, '#' or a control character", p)
	}
	for _, seg := range strings.Split(p, "/") {
		if seg == ".." {
			return fmt.Errorf("file secret path %q must not contain '..'", p)
		}
	}
	if path.Clean(p) != p {
		return fmt.Errorf("file secret path %q is not clean (use %q)", p, path.Clean(p))
	}
	return nil
}

func checkKindName(kind, name string) error {
	switch kind {
	case KindEnv:
		return CheckEnvName(name)
	case KindFile:
		return CheckFilePath(name)
	}
	return fmt.Errorf("invalid secret kind %q: want %q or %q", kind, KindEnv, KindFile)
}

func orDefault(vault string) string {
	if vault == "" {
		return DefaultVault
	}
	return vault
}

// Vaults lists vault names; DefaultVault is always present.
func (v *Vault) Vaults() ([]string, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	ix, err := v.loadIndex()
	if err != nil {
		return nil, err
	}
	names := []string{DefaultVault}
	for n := range ix.Vaults {
		if n != DefaultVault {
			names = append(names, n)
		}
	}
	sort.Strings(names[1:])
	return names, nil
}

// List returns the items of vault, or of every vault when vault is "*".
func (v *Vault) List(vault string) ([]Item, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	ix, err := v.loadIndex()
	if err != nil {
		return nil, err
	}
	var out []Item
	if vault == "*" {
		for _, items := range ix.Vaults {
			out = append(out, items...)
		}
	} else {
		vault = orDefault(vault)
		if err := checkVault(vault); err != nil {
			return nil, err
		}
		out = append(out, ix.Vaults[vault]...)
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.Vault != b.Vault {
			return a.Vault < b.Vault
		}
		if a.Kind != b.Kind {
			return a.Kind < b.Kind
		}
		return a.Name < b.Name
	})
	if out == nil {
		out = []Item{}
	}
	return out, nil
}

// SetEnv stores (or replaces) an env secret.
func (v *Vault) SetEnv(vault, name, value string) error {
	return v.set(orDefault(vault), KindEnv, name, 0, value, false)
}

// SetFile stores (or replaces) a file secret; mode 0 means 0600.
func (v *Vault) SetFile(vault, path string, mode fs.FileMode, value []byte) error {
	if mode == 0 {
		mode = 0o600
	}
	if mode&^fs.ModePerm != 0 {
		return fmt.Errorf("file secret mode %#o: only permission bits (0000-0777) are allowed", uint32(mode))
	}
	return v.set(orDefault(vault), KindFile, path, mode, string(value), false)
}

// Rotate replaces the value of an existing secret, keeping its metadata and bumping Updated.
func (v *Vault) Rotate(vault, kind, name, value string) error {
	return v.set(orDefault(vault), kind, name, 0, value, true)
}

func (v *Vault) set(vault, kind, name string, mode fs.FileMode, value string, rotate bool) error {
	if err := checkVault(vault); err != nil {
		return err
	}
	if err := checkKindName(kind, name); err != nil {
		return err
	}
	if len(value) > MaxValueSize {
		return fmt.Errorf("secret %s is %d bytes; the limit is %d", name, len(value), MaxValueSize)
	}
	ix, unlock, err := v.lockedIndex()
	if err != nil {
		return err
	}
	defer unlock()
	i, exists := ix.find(vault, kind, name)
	if rotate && !exists {
		return fmt.Errorf("rotate %s %s in vault %s: %w", kind, name, vault, ErrNotFound)
	}
	if ix.ID == "" {
		ix.ID = randomHex(6)
	}
	svc, acct := v.service(ix), account(vault, kind, name)
	var old *manifest
	if exists && ix.Vaults[vault][i].Chunks > 0 {
		if raw, err := v.kr.Get(svc, acct); err == nil {
			old, _ = parseManifest(raw)
		}
	}
	chunks, err := v.writeValue(svc, acct, value)
	if err != nil {
		return fmt.Errorf("store %s %s in vault %s: %w", kind, name, vault, err)
	}
	if old != nil {
		v.deleteChunks(svc, acct, old)
	}
	item := Item{Vault: vault, Kind: kind, Name: name, Size: len(value), Chunks: chunks, Updated: time.Now().UTC()}
	if kind == KindFile {
		item.Mode = int(mode)
	}
	if exists {
		if rotate || mode == 0 {
			item.Mode = ix.Vaults[vault][i].Mode
		}
		ix.Vaults[vault][i] = item
	} else {
		ix.Vaults[vault] = append(ix.Vaults[vault], item)
	}
	return v.saveIndex(ix)
}

// manifest is stored in the main item when a value is split into chunk items. The NUL
// prefix cannot be typed into a prompt, and a real value that starts with it is stored
// chunked too, so a manifest is never mistaken for a value.
type manifest struct {
	gen    string
	n      int
	size   int
	sha256 string
}

const manifestMagic = "\x00loopat-chunked/v1 "

func (m manifest) String() string {
	return fmt.Sprintf("%sgen=%s n=%d size=%d sha256=%s", manifestMagic, m.gen, m.n, m.size, m.sha256)
}

func parseManifest(raw string) (*manifest, bool) {
	if !strings.HasPrefix(raw, manifestMagic) {
		return nil, false
	}
	m := &manifest{}
	for _, f := range strings.Fields(raw[len(manifestMagic):]) {
		k, val, _ := strings.Cut(f, "=")
		switch k {
		case "gen":
			m.gen = val
		case "n":
			m.n, _ = strconv.Atoi(val)
		case "size":
			m.size, _ = strconv.Atoi(val)
		case "sha256":
			m.sha256 = val
		}
	}
	return m, m.gen != "" && m.n > 0
}

func chunkAccount(acct, gen string, i int) string { return fmt.Sprintf("%s#%s.%d", acct, gen, i) }

// writeValue stores value under acct, chunked if needed, and returns the chunk count.
// Chunks of a new generation are written before the manifest, so a failure midway
// leaves the previous value readable.
func (v *Vault) writeValue(svc, acct, value string) (int, error) {
	if len(value) <= ChunkSize && !strings.HasPrefix(value, manifestMagic) {
		return 0, v.kr.Set(svc, acct, value)
	}
	sum := sha256.Sum256([]byte(value))
	m := manifest{gen: randomHex(4), size: len(value), sha256: hex.EncodeToString(sum[:])}
	m.n = (len(value) + ChunkSize - 1) / ChunkSize
	for i := 0; i < m.n; i++ {
		part := value[i*ChunkSize : min((i+1)*ChunkSize, len(value))]
		if err := v.kr.Set(svc, chunkAccount(acct, m.gen, i), part); err != nil {
			v.deleteChunks(svc, acct, &manifest{gen: m.gen, n: i})
			return 0, err
		}
	}
	if err := v.kr.Set(svc, acct, m.String()); err != nil {
		v.deleteChunks(svc, acct, &m)
		return 0, err
	}
	return m.n, nil
}

func (v *Vault) deleteChunks(svc, acct string, m *manifest) {
	for i := 0; i < m.n; i++ {
		_ = v.kr.Delete(svc, chunkAccount(acct, m.gen, i))
	}
}

func (v *Vault) readValue(svc, acct string) (string, error) {
	raw, err := v.kr.Get(svc, acct)
	if err != nil {
		return "", err
	}
	m, ok := parseManifest(raw)
	if !ok {
		return raw, nil
	}
	var b strings.Builder
	b.Grow(m.size)
	for i := 0; i < m.n; i++ {
		part, err := v.kr.Get(svc, chunkAccount(acct, m.gen, i))
		if err != nil {
			return "", fmt.Errorf("chunk %d of %d: %w", i+1, m.n, err)
		}
		b.WriteString(part)
	}
	sum := sha256.Sum256([]byte(b.String()))
	if b.Len() != m.size || hex.EncodeToString(sum[:]) != m.sha256 {
		return "", fmt.Errorf("chunked secret is corrupt (size or checksum mismatch)")
	}
	return b.String(), nil
}

// get returns the value of an indexed secret.
func (v *Vault) get(vault, kind, name string) (string, Item, error) {
	vault = orDefault(vault)
	if err := checkVault(vault); err != nil {
		return "", Item{}, err
	}
	if err := checkKindName(kind, name); err != nil {
		return "", Item{}, err
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	ix, err := v.loadIndex()
	if err != nil {
		return "", Item{}, err
	}
	i, ok := ix.find(vault, kind, name)
	if !ok {
		return "", Item{}, fmt.Errorf("%s %s in vault %s: %w", kind, name, vault, ErrNotFound)
	}
	val, err := v.readValue(v.service(ix), account(vault, kind, name))
	if err != nil {
		return "", Item{}, fmt.Errorf("read %s %s from vault %s: %w", kind, name, vault, err)
	}
	return val, ix.Vaults[vault][i], nil
}

// GetEnv returns the value of an env secret.
func (v *Vault) GetEnv(vault, name string) (string, error) {
	val, _, err := v.get(vault, KindEnv, name)
	return val, err
}

// GetFile returns a file secret.
func (v *Vault) GetFile(vault, path string) (FileSecret, error) {
	val, it, err := v.get(vault, KindFile, path)
	if err != nil {
		return FileSecret{}, err
	}
	return FileSecret{Path: path, Mode: fs.FileMode(it.Mode), Value: []byte(val)}, nil
}

// Delete removes a secret from the keychain and the index.
func (v *Vault) Delete(vault, kind, name string) error {
	vault = orDefault(vault)
	if err := checkVault(vault); err != nil {
		return err
	}
	if err := checkKindName(kind, name); err != nil {
		return err
	}
	ix, unlock, err := v.lockedIndex()
	if err != nil {
		return err
	}
	defer unlock()
	i, ok := ix.find(vault, kind, name)
	if !ok {
		return fmt.Errorf("delete %s %s in vault %s: %w", kind, name, vault, ErrNotFound)
	}
	if err := v.deleteItem(v.service(ix), account(vault, kind, name)); err != nil {
		return fmt.Errorf("delete %s %s in vault %s: %w", kind, name, vault, err)
	}
	items := ix.Vaults[vault]
	ix.Vaults[vault] = append(items[:i:i], items[i+1:]...)
	if len(ix.Vaults[vault]) == 0 {
		delete(ix.Vaults, vault)
	}
	return v.saveIndex(ix)
}

func (v *Vault) deleteItem(svc, acct string) error {
	raw, err := v.kr.Get(svc, acct)
	if errors.Is(err, ErrNotFound) {
		return nil // already gone from the keychain: just drop the index entry
	}
	if err != nil {
		return err
	}
	if m, ok := parseManifest(raw); ok {
		v.deleteChunks(svc, acct, m)
	}
	if err := v.kr.Delete(svc, acct); err != nil && !errors.Is(err, ErrNotFound) {
		return err
	}
	return nil
}

// DeleteEnv removes an env secret.
func (v *Vault) DeleteEnv(vault, name string) error { return v.Delete(vault, KindEnv, name) }

// DeleteFile removes a file secret.
func (v *Vault) DeleteFile(vault, path string) error { return v.Delete(vault, KindFile, path) }

// Envs returns every env secret of vault, for handing to one exec (never to container create).
func (v *Vault) Envs(vault string) (map[string]string, error) {
	items, err := v.List(vault)
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	for _, it := range items {
		if it.Kind != KindEnv {
			continue
		}
		val, err := v.GetEnv(it.Vault, it.Name)
		if err != nil {
			return nil, err
		}
		out[it.Name] = val
	}
	return out, nil
}

// Files returns every file secret of vault with its value.
func (v *Vault) Files(vault string) ([]FileSecret, error) {
	items, err := v.List(vault)
	if err != nil {
		return nil, err
	}
	out := []FileSecret{}
	for _, it := range items {
		if it.Kind != KindFile {
			continue
		}
		f, err := v.GetFile(it.Vault, it.Name)
		if err != nil {
			return nil, err
		}
		out = append(out, f)
	}
	return out, nil
}

// Purge removes every keychain item of this workspace and the index (uninstall).
func (v *Vault) Purge() error {
	if _, err := os.Stat(v.ws.Home); errors.Is(err, os.ErrNotExist) {
		return nil // nothing was ever stored
	}
	ix, unlock, err := v.lockedIndex()
	if err != nil {
		return err
	}
	defer unlock()
	if ix.ID == "" {
		return nil
	}
	svc := v.service(ix)
	var errs []error
	for name, items := range ix.Vaults {
		for _, it := range items {
			if err := v.deleteItem(svc, account(name, it.Kind, it.Name)); err != nil {
				errs = append(errs, fmt.Errorf("%s/%s/%s: %w", name, it.Kind, it.Name, err))
			}
		}
	}
	// Also sweep items the index lost track of (crash between keychain write and index save).
	if da, ok := v.kr.(interface{ DeleteAll(service string) error }); ok {
		if err := da.DeleteAll(svc); err != nil && !errors.Is(err, ErrNotFound) {
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("purge vaults: %w", errors.Join(errs...))
	}
	if err := os.Remove(v.IndexPath()); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("purge vaults: %w", err)
	}
	_ = os.Remove(v.IndexPath() + ".lock")
	return nil
}

// Probe reports whether the keychain is usable now; a *KeychainError tells a locked
// keychain from an absent one and carries a fix hint.
func (v *Vault) Probe() error {
	if p, ok := v.kr.(interface{ Probe() error }); ok {
		return p.Probe()
	}
	return roundTrip(v.kr)
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
