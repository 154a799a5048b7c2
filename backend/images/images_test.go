package images

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"io/fs"
	"math/big"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/loopat/desktop/backend/config"
)

func testCert(t *testing.T, cn string) []byte {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now(), NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

// testBuilder uses the real embedded Containerfile with a stand-in forwarder.
func testBuilder(t *testing.T, fwd []byte, certs ...string) *Builder {
	t.Helper()
	cf, err := fs.ReadFile(assets, containerfilePath)
	if err != nil {
		t.Fatal(err)
	}
	files := fstest.MapFS{containerfilePath: {Data: cf}}
	if fwd != nil {
		files[forwarderPath] = &fstest.MapFile{Data: fwd, Mode: 0o755}
	}
	b := NewBuilder(config.Workspace{Home: t.TempDir(), Name: "unit"},
		config.Sandbox{BaseImage: "docker.io/library/debian:bookworm-slim", ExtraCACerts: certs}, nil, nil)
	b.files = files
	return b
}

func TestBaseRefNeedsForwarder(t *testing.T) {
	b := testBuilder(t, nil)
	if _, err := b.BaseRef(); !errors.Is(err, ErrForwarderMissing) {
		t.Fatalf("BaseRef without forwarder: got %v, want ErrForwarderMissing", err)
	}
	if !strings.Contains(ErrForwarderMissing.Error(), "run make build") {
		t.Fatal("error must tell how to fix it")
	}
}

func TestBaseRefFormatAndStability(t *testing.T) {
	b := testBuilder(t, []byte("fwd-v1"))
	r1, err := b.BaseRef()
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`^localhost/loopat-sandbox-[0-9a-f]{16}:latest$`).MatchString(r1) {
		t.Fatalf("ref %q has the wrong form", r1)
	}
	r2, _ := b.BaseRef()
	if r1 != r2 {
		t.Fatalf("BaseRef not stable: %s vs %s", r1, r2)
	}
}

// Every file the Containerfile COPYs is in the context, and the context holds nothing else
// than those files and the Containerfile.
func TestContextHoldsEveryCopiedFile(t *testing.T) {
	caDir := t.TempDir()
	os.WriteFile(filepath.Join(caDir, "a.crt"), testCert(t, "a"), 0o644)
	b := testBuilder(t, []byte("fwd"), caDir)
	c, err := b.baseContext()
	if err != nil {
		t.Fatal(err)
	}
	cf, _ := c.file("Containerfile")
	copies := regexp.MustCompile(`(?m)^COPY\s+(?:--\S+\s+)*(\S+)\s+\S+$`).FindAllSubmatch(cf, -1)
	if len(copies) < 2 {
		t.Fatalf("expected COPY lines for ca/ and the forwarder, got %d", len(copies))
	}
	covered := map[string]bool{"Containerfile": true}
	for _, m := range copies {
		src := strings.TrimSuffix(string(m[1]), "/")
		found := false
		for _, e := range c.entries {
			if e.Path == src || strings.HasPrefix(e.Path, src+"/") {
				found, covered[e.Path] = true, true
			}
		}
		if !found {
			t.Errorf("COPY source %q is not in the build context", src)
		}
	}
	for _, e := range c.entries {
		if e.Mode.IsDir() {
			for p := range covered {
				if strings.HasPrefix(p, e.Path+"/") {
					covered[e.Path] = true
				}
			}
		}
		if !covered[e.Path] {
			t.Errorf("context entry %q is not copied by the Containerfile", e.Path)
		}
	}
}

// Flipping any single byte of any context file, or changing a mode, changes the tag.
func TestHashCoversEveryByteAndMode(t *testing.T) {
	caDir := t.TempDir()
	os.WriteFile(filepath.Join(caDir, "a.crt"), testCert(t, "a"), 0o644)
	b := testBuilder(t, []byte("forwarder-binary-bytes"), caDir)
	c, err := b.baseContext()
	if err != nil {
		t.Fatal(err)
	}
	orig := c.hash()
	seen := map[string]bool{orig: true}
	for i, e := range c.entries {
		if e.Mode.IsDir() {
			continue
		}
		for _, pos := range []int{0, len(e.Data) / 2, len(e.Data) - 1} {
			mod := &buildContext{entries: append([]entry(nil), c.entries...)}
			data := append([]byte(nil), e.Data...)
			data[pos] ^= 0x01
			mod.entries[i].Data = data
			if h := mod.hash(); h == orig {
				t.Errorf("flipping byte %d of %s kept the hash", pos, e.Path)
			}
		}
		mod := &buildContext{entries: append([]entry(nil), c.entries...)}
		mod.entries[i].Mode ^= 0o100
		if h := mod.hash(); seen[h] {
			t.Errorf("changing the mode of %s kept the hash", e.Path)
		}
		mod = &buildContext{entries: append([]entry(nil), c.entries...)}
		mod.entries[i].Path += "x"
		if h := mod.hash(); seen[h] {
			t.Errorf("renaming %s kept the hash", e.Path)
		}
	}
	// Entry order does not matter (the tar is written in sorted order).
	rev := &buildContext{}
	for i := len(c.entries) - 1; i >= 0; i-- {
		rev.entries = append(rev.entries, c.entries[i])
	}
	if rev.hash() != orig {
		t.Error("hash depends on insertion order")
	}
}

// The sources (forwarder, CA file, base image setting) all reach the tag.
func TestBaseRefFollowsSources(t *testing.T) {
	caDir := t.TempDir()
	caFile := filepath.Join(caDir, "corp.crt")
	os.WriteFile(caFile, testCert(t, "one"), 0o644)
	ref := func(b *Builder) string {
		t.Helper()
		r, err := b.BaseRef()
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	r0 := ref(testBuilder(t, []byte("fwd"), caDir))
	if r := ref(testBuilder(t, []byte("fwe"), caDir)); r == r0 {
		t.Error("forwarder change kept the tag")
	}
	if r := ref(testBuilder(t, []byte("fwd"))); r == r0 {
		t.Error("dropping the CA kept the tag")
	}
	os.WriteFile(caFile, testCert(t, "two"), 0o644)
	if r := ref(testBuilder(t, []byte("fwd"), caDir)); r == r0 {
		t.Error("CA content change kept the tag")
	}
	b := testBuilder(t, []byte("fwd"), caDir)
	b.sb.BaseImage = "docker.io/library/debian:trixie-slim"
	c, _ := b.baseContext()
	cf, _ := c.file("Containerfile")
	if !bytes.Contains(cf, []byte("ARG BASE_IMAGE=docker.io/library/debian:trixie-slim\n")) {
		t.Errorf("configured base image not in the Containerfile:\n%s", cf)
	}
	if r := ref(b); r == r0 {
		t.Error("base image change kept the tag")
	}
	b.sb.BaseImage = "debian\nRUN rm -rf /"
	if _, err := b.BaseRef(); err == nil {
		t.Error("a base image with a newline must be rejected")
	}
}

// writeTo puts exactly the hashed entries on disk (the bindings tar that folder).
func TestWriteToMatchesEntries(t *testing.T) {
	caDir := t.TempDir()
	os.WriteFile(filepath.Join(caDir, "a.crt"), testCert(t, "a"), 0o644)
	b := testBuilder(t, []byte("fwd"), caDir)
	c, err := b.baseContext()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := c.writeTo(dir); err != nil {
		t.Fatal(err)
	}
	onDisk := &buildContext{}
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if p == dir {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		info, _ := d.Info()
		if d.IsDir() {
			onDisk.addDir(filepath.ToSlash(rel))
			return nil
		}
		data, _ := os.ReadFile(p)
		onDisk.addFile(filepath.ToSlash(rel), info.Mode(), data)
		return nil
	})
	if onDisk.hash() != c.hash() {
		t.Fatalf("files on disk hash %s, context hashes %s", onDisk.hash(), c.hash())
	}
	st, _ := os.Stat(filepath.Join(dir, "bin", "loopat-host"))
	if st.Mode().Perm() != 0o755 {
		t.Errorf("forwarder mode %v, want 0755", st.Mode().Perm())
	}
	if st, err := os.Stat(filepath.Join(dir, "ca")); err != nil || !st.IsDir() {
		t.Error("ca/ folder missing")
	}
}

func TestEmptyCAFolderWhenNone(t *testing.T) {
	c, err := testBuilder(t, []byte("fwd")).baseContext()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := c.writeTo(dir); err != nil {
		t.Fatal(err)
	}
	ents, err := os.ReadDir(filepath.Join(dir, "ca"))
	if err != nil || len(ents) != 0 {
		t.Fatalf("want an empty ca/ folder, got %v %v", ents, err)
	}
}

func TestCollectCACerts(t *testing.T) {
	dir := t.TempDir()
	bundle := append(testCert(t, "x"), testCert(t, "y")...)
	os.WriteFile(filepath.Join(dir, "bundle.pem"), bundle, 0o644)
	os.WriteFile(filepath.Join(dir, "README"), []byte("not a cert"), 0o644) // ignored in folders
	single := filepath.Join(t.TempDir(), "one.crt")
	os.WriteFile(single, testCert(t, "z"), 0o644)
	got, err := collectCACerts([]string{single, dir})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 {
		t.Fatalf("want 3 certificates (bundle split), got %d", len(got))
	}
	for i, e := range got {
		if want := []string{"ca/000.crt", "ca/001.crt", "ca/002.crt"}[i]; e.Path != want {
			t.Errorf("entry %d path %s, want %s", i, e.Path, want)
		}
		if bytes.Count(e.Data, []byte("BEGIN CERTIFICATE")) != 1 {
			t.Errorf("%s must hold exactly one certificate", e.Path)
		}
	}
	bad := filepath.Join(t.TempDir(), "bad.crt")
	os.WriteFile(bad, []byte("garbage"), 0o644)
	if _, err := collectCACerts([]string{bad}); err == nil || !strings.Contains(err.Error(), "bad.crt") {
		t.Errorf("a file without a certificate must be an error naming it, got %v", err)
	}
	if _, err := collectCACerts([]string{"/nonexistent/ca.pem"}); err == nil {
		t.Error("a missing CA path must be an error")
	}
}

func TestWorkspaceTag(t *testing.T) {
	for in, want := range map[string]string{"loopat": "ws-loopat", "My Work/Space": "ws-my_work_space", "a.b-c_d": "ws-a.b-c_d"} {
		if got := WorkspaceTag(in); got != want {
			t.Errorf("WorkspaceTag(%q) = %q, want %q", in, got, want)
		}
	}
	if got := WorkspaceTag(strings.Repeat("x", 300)); len(got) > 128 {
		t.Errorf("tag longer than 128: %d", len(got))
	}
	if got := workspaceRef("localhost/loopat-sandbox-0123:latest", "w"); got != "localhost/loopat-sandbox-0123:ws-w" {
		t.Errorf("workspaceRef = %s", got)
	}
}

func TestReadForwarderPicksTheSandboxArchitecture(t *testing.T) {
	files := fstest.MapFS{
		"bin/loopat-host-arm64": {Data: []byte("arm")},
		"bin/loopat-host-amd64": {Data: []byte("intel")},
		"bin/loopat-host":       {Data: []byte("single")},
	}
	for arch, want := range map[string]string{"arm64": "arm", "amd64": "intel", "riscv64": "single"} {
		got, err := readForwarderFor(files, arch)
		if err != nil || string(got) != want {
			t.Fatalf("%s: got %q, %v; want %q", arch, got, err, want)
		}
	}
	if _, err := readForwarderFor(fstest.MapFS{}, "amd64"); !errors.Is(err, ErrForwarderMissing) {
		t.Fatalf("no forwarder: want ErrForwarderMissing, got %v", err)
	}
}
