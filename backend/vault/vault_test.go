//go:build !integration

// Unit tests use go-keyring's process-wide mock, so they stay out of the integration
// binary, where the same tests must reach the real Secret Service.

package vault

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/loopat/desktop/backend/config"
	"github.com/zalando/go-keyring"
)

// recordingKeyring wraps go-keyring's in-memory mock and records what reached it.
type recordingKeyring struct {
	Keyring
	maxValue int
	accounts map[string]bool
}

func (r *recordingKeyring) Set(service, account, value string) error {
	r.maxValue = max(r.maxValue, len(value))
	r.accounts[service+"|"+account] = true
	return r.Keyring.Set(service, account, value)
}

func (r *recordingKeyring) Delete(service, account string) error {
	delete(r.accounts, service+"|"+account)
	return r.Keyring.Delete(service, account)
}

func newTestVault(t *testing.T, dir string) (*Vault, *recordingKeyring) {
	t.Helper()
	keyring.MockInit()
	ws, err := config.NewWorkspace(filepath.Join(t.TempDir(), dir))
	if err != nil {
		t.Fatal(err)
	}
	kr := &recordingKeyring{Keyring: osKeyring{timeout: time.Second}, accounts: map[string]bool{}}
	return New(ws, kr), kr
}

func TestSetGetRotateDeleteEnv(t *testing.T) {
	v, _ := newTestVault(t, ".loopat")
	if err := v.SetEnv("", "GITHUB_TOKEN", "ghp_first"); err != nil {
		t.Fatal(err)
	}
	got, err := v.GetEnv("default", "GITHUB_TOKEN")
	if err != nil || got != "ghp_first" {
		t.Fatalf("GetEnv = %q, %v", got, err)
	}
	before, _ := v.List("")
	time.Sleep(2 * time.Millisecond)
	if err := v.Rotate("", KindEnv, "GITHUB_TOKEN", "ghp_second_longer"); err != nil {
		t.Fatal(err)
	}
	after, _ := v.List("")
	if len(after) != 1 || !after[0].Updated.After(before[0].Updated) || after[0].Size != len("ghp_second_longer") {
		t.Fatalf("rotate metadata: before %+v after %+v", before, after)
	}
	if got, _ := v.GetEnv("", "GITHUB_TOKEN"); got != "ghp_second_longer" {
		t.Fatalf("after rotate got %q", got)
	}
	if err := v.Rotate("", KindEnv, "MISSING", "x"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("rotate of a missing secret: %v", err)
	}
	if err := v.DeleteEnv("", "GITHUB_TOKEN"); err != nil {
		t.Fatal(err)
	}
	if _, err := v.GetEnv("", "GITHUB_TOKEN"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("get after delete: %v", err)
	}
	if items, _ := v.List(""); len(items) != 0 {
		t.Fatalf("index still lists %+v", items)
	}
}

func TestIndexHoldsNoValues(t *testing.T) {
	v, _ := newTestVault(t, "ws")
	const envVal, fileVal = "sk-ant-very-secret-value", "-----BEGIN OPENSSH PRIVATE KEY-----\nabc\n"
	if err := v.SetEnv("work", "ANTHROPIC_API_KEY", envVal); err != nil {
		t.Fatal(err)
	}
	if err := v.SetFile("work", ".ssh/id_ed25519", 0o400, []byte(fileVal)); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(v.IndexPath())
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(data), envVal) || strings.Contains(string(data), "OPENSSH") {
		t.Fatalf("index leaks a value:\n%s", data)
	}
	if st, _ := os.Stat(v.IndexPath()); st.Mode().Perm() != 0o600 {
		t.Fatalf("index mode %v", st.Mode())
	}
	items, err := v.List("work")
	if err != nil || len(items) != 2 {
		t.Fatalf("List = %+v, %v", items, err)
	}
	f, err := v.GetFile("work", ".ssh/id_ed25519")
	if err != nil || string(f.Value) != fileVal || f.Mode != 0o400 {
		t.Fatalf("GetFile = %+v, %v", f, err)
	}
	envs, err := v.Envs("work")
	if err != nil || len(envs) != 1 || envs["ANTHROPIC_API_KEY"] != envVal {
		t.Fatalf("Envs = %v, %v", envs, err)
	}
	files, err := v.Files("work")
	if err != nil || len(files) != 1 || files[0].Path != ".ssh/id_ed25519" {
		t.Fatalf("Files = %+v, %v", files, err)
	}
	names, _ := v.Vaults()
	if strings.Join(names, ",") != "default,work" {
		t.Fatalf("Vaults = %v", names)
	}
}

func TestRotateFileKeepsMode(t *testing.T) {
	v, _ := newTestVault(t, "ws")
	if err := v.SetFile("", ".config/gh/hosts.yml", 0o640, []byte("a")); err != nil {
		t.Fatal(err)
	}
	if err := v.Rotate("", KindFile, ".config/gh/hosts.yml", "b"); err != nil {
		t.Fatal(err)
	}
	f, err := v.GetFile("", ".config/gh/hosts.yml")
	if err != nil || f.Mode != 0o640 || string(f.Value) != "b" {
		t.Fatalf("after rotate: %+v %v", f, err)
	}
}

func TestLargeValueIsChunked(t *testing.T) {
	v, kr := newTestVault(t, "ws")
	big := bytes.Repeat([]byte("0123456789abcdef"), 100*1024/16) // 100 KiB
	big[5000] = 0                                                // binary content survives
	if err := v.SetFile("", "big.bin", 0, big); err != nil {
		t.Fatal(err)
	}
	if kr.maxValue > ChunkSize+200 {
		t.Fatalf("a keychain item got %d bytes, limit %d", kr.maxValue, ChunkSize)
	}
	items, _ := v.List("")
	if items[0].Chunks != 50 || items[0].Size != len(big) || items[0].Mode != 0o600 {
		t.Fatalf("metadata %+v", items[0])
	}
	f, err := v.GetFile("", "big.bin")
	if err != nil || !bytes.Equal(f.Value, big) {
		t.Fatalf("round trip failed: %v (len %d)", err, len(f.Value))
	}
	// Rotating to a small value removes the old chunk items.
	if err := v.Rotate("", KindFile, "big.bin", "small"); err != nil {
		t.Fatal(err)
	}
	if n := len(kr.accounts); n != 1 {
		t.Fatalf("%d keychain items after rotate to a small value, want 1: %v", n, kr.accounts)
	}
	// A value that looks like a manifest is stored chunked, never misread.
	tricky := manifestMagic + "gen=x n=1 size=1 sha256=00"
	if err := v.SetEnv("", "TRICKY", tricky); err != nil {
		t.Fatal(err)
	}
	if got, err := v.GetEnv("", "TRICKY"); err != nil || got != tricky {
		t.Fatalf("tricky value: %q %v", got, err)
	}
	if err := v.Delete("", KindFile, "big.bin"); err != nil {
		t.Fatal(err)
	}
	if err := v.Delete("", KindEnv, "TRICKY"); err != nil {
		t.Fatal(err)
	}
	if len(kr.accounts) != 0 {
		t.Fatalf("items left after delete: %v", kr.accounts)
	}
}

func TestValidation(t *testing.T) {
	v, _ := newTestVault(t, "ws")
	for _, p := range []string{"/etc/passwd", "../x", "a/../../x", ".ssh/../../x", "a//b", "./a", "", ".", "a\\b", "a#1"} {
		if err := v.SetFile("", p, 0o600, []byte("x")); err == nil {
			t.Errorf("SetFile(%q) accepted", p)
		}
	}
	for _, n := range []string{"1ABC", "A-B", "", "A B", "A=B"} {
		if err := v.SetEnv("", n, "x"); err == nil {
			t.Errorf("SetEnv(%q) accepted", n)
		}
	}
	for _, vn := range []string{"-x", "a/b", strings.Repeat("a", 65), ".hidden"} {
		if err := v.SetEnv(vn, "OK", "x"); err == nil {
			t.Errorf("vault %q accepted", vn)
		}
	}
	if err := v.SetFile("", "x", 0o4755, []byte("x")); err == nil {
		t.Error("setuid mode accepted")
	}
	if err := v.Delete("", "blob", "X"); err == nil {
		t.Error("bad kind accepted")
	}
	if _, err := os.Stat(v.IndexPath()); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("rejected input wrote the index: %v", err)
	}
}

func TestTwoWorkspacesWithTheSameNameAreIsolated(t *testing.T) {
	keyring.MockInit()
	mk := func() *Vault {
		ws, err := config.NewWorkspace(filepath.Join(t.TempDir(), ".loopat")) // same Name "loopat"
		if err != nil {
			t.Fatal(err)
		}
		return New(ws, OSKeyring())
	}
	a, b := mk(), mk()
	if err := a.SetEnv("", "TOKEN", "value-a"); err != nil {
		t.Fatal(err)
	}
	if err := b.SetEnv("", "TOKEN", "value-b"); err != nil {
		t.Fatal(err)
	}
	sa, _ := a.ServiceName()
	sb, _ := b.ServiceName()
	if sa == sb || !strings.HasPrefix(sa, "loopat:loopat:") {
		t.Fatalf("service names %q %q", sa, sb)
	}
	if err := a.Purge(); err != nil {
		t.Fatal(err)
	}
	if got, err := b.GetEnv("", "TOKEN"); err != nil || got != "value-b" {
		t.Fatalf("b after purging a: %q %v", got, err)
	}
	if _, err := keyring.Get(sa, "default/env/TOKEN"); !errors.Is(err, keyring.ErrNotFound) {
		t.Fatalf("a's item survived purge: %v", err)
	}
	if _, err := os.Stat(a.IndexPath()); !errors.Is(err, os.ErrNotExist) {
		t.Fatal("a's index survived purge")
	}
}

func TestKeychainFailureWritesNothing(t *testing.T) {
	keyring.MockInitWithError(errors.New("org.freedesktop.Secret.Error.IsLocked"))
	ws, _ := config.NewWorkspace(t.TempDir())
	v := New(ws, struct{ Keyring }{osKeyring{timeout: time.Second}})
	err := v.SetEnv("", "TOKEN", "never-on-disk")
	if err == nil || !strings.Contains(err.Error(), "IsLocked") {
		t.Fatalf("SetEnv on a failing keychain: %v", err)
	}
	if _, err := os.Stat(v.IndexPath()); !errors.Is(err, os.ErrNotExist) {
		t.Fatal("index written although the keychain refused")
	}
	var ke *KeychainError
	if err := v.Probe(); !errors.As(err, &ke) || ke.Fix == "" {
		t.Fatalf("Probe = %v", err)
	}
	keyring.MockInit()
	if err := v.Probe(); err != nil {
		t.Fatalf("Probe on a working keychain: %v", err)
	}
}

func TestHungKeychainTimesOut(t *testing.T) {
	block := make(chan struct{})
	defer close(block)
	kr := osKeyring{timeout: 50 * time.Millisecond}
	_, err := kr.do(func() (string, error) { <-block; return "", nil })
	var ke *KeychainError
	if !errors.As(err, &ke) || ke.State != StateLocked {
		t.Fatalf("hung keychain: %v", err)
	}
}

func TestProbeReportsAbsentKeychain(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("D-Bus probe is Linux-only")
	}
	t.Setenv("DBUS_SESSION_BUS_ADDRESS", "unix:path="+filepath.Join(t.TempDir(), "no-bus"))
	var ke *KeychainError
	err := OSKeyring().(osKeyring).Probe()
	if !errors.As(err, &ke) || ke.State != StateAbsent || ke.Fix == "" {
		t.Fatalf("Probe without a session bus = %v", err)
	}
}

// memKeyring is a goroutine-safe in-memory Keyring (go-keyring's mock is not).
type memKeyring struct {
	mu sync.Mutex
	m  map[string]string
}

func (k *memKeyring) Set(s, a, v string) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.m[s+"|"+a] = v
	return nil
}

func (k *memKeyring) Get(s, a string) (string, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	v, ok := k.m[s+"|"+a]
	if !ok {
		return "", ErrNotFound
	}
	return v, nil
}

func (k *memKeyring) Delete(s, a string) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	delete(k.m, s+"|"+a)
	return nil
}

// Two Vault values on one workspace stand for the app and the CLI: concurrent writes
// must all land in the index (the file lock serialises them).
func TestConcurrentWritersKeepEveryEntry(t *testing.T) {
	ws, _ := config.NewWorkspace(t.TempDir())
	kr := &memKeyring{m: map[string]string{}}
	a, b := New(ws, kr), New(ws, kr)
	var wg sync.WaitGroup
	for i := 0; i < 20; i++ {
		wg.Add(2)
		go func() { defer wg.Done(); _ = a.SetEnv("", fmt.Sprintf("A_%d", i), "value-a") }()
		go func() { defer wg.Done(); _ = b.SetEnv("", fmt.Sprintf("B_%d", i), "value-b") }()
	}
	wg.Wait()
	items, err := a.List("")
	if err != nil || len(items) != 40 {
		t.Fatalf("%d items in the index, want 40 (%v)", len(items), err)
	}
	svcA, _ := a.ServiceName()
	svcB, _ := b.ServiceName()
	if svcA != svcB {
		t.Fatalf("one workspace got two service names: %s %s", svcA, svcB)
	}
}
