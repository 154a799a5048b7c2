package images

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func testCertPEM(t *testing.T, cn string) []byte {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now(), NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true}
	der, err := x509.CreateCertificate(rand.Reader, tpl, tpl, &k.PublicKey, k)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

func TestSandboxCACertsDedupesAndSkipsBadHostFiles(t *testing.T) {
	dir := t.TempDir()
	a, b := testCertPEM(t, "a"), testCertPEM(t, "b")
	if err := os.WriteFile(filepath.Join(dir, "a.crt"), a, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "a-again.pem"), a, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "b.crt"), b, 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := sandboxCACerts([]string{dir, filepath.Join(dir, "b.crt")}, false)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].Path != "ca/000.crt" || got[1].Path != "ca/001.crt" {
		t.Fatalf("want 2 distinct certificates numbered from 000, got %+v", got)
	}

	// A host source with a file that is not PEM is skipped, not an error.
	saved := hostCADirs
	t.Cleanup(func() { hostCADirs = saved })
	host := t.TempDir()
	if err := os.WriteFile(filepath.Join(host, "der.crt"), []byte{0x30, 0x82, 0x01}, 0o644); err != nil {
		t.Fatal(err)
	}
	hostCADirs = []string{host, dir}
	got, err = sandboxCACerts(nil, true)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 {
		t.Fatalf("want the 2 host certificates, got %d", len(got))
	}
	// Named by the user but unreadable: a clear error.
	if _, err := sandboxCACerts([]string{filepath.Join(dir, "missing.crt")}, true); err == nil {
		t.Fatal("a missing extra_ca_certs entry must be an error")
	}
}

func TestTLSFailureGetsTheSettingHint(t *testing.T) {
	tail := []string{"npm error code SELF_SIGNED_CERT_IN_CHAIN", "npm error errno SELF_SIGNED_CERT_IN_CHAIN"}
	if !looksLikeTLSFailure(tail) {
		t.Fatal("npm's self-signed chain error not recognised")
	}
	if looksLikeTLSFailure([]string{"E: Unable to locate package foo"}) {
		t.Fatal("an apt error is not a TLS failure")
	}
	e := &BuildError{Image: "x", Err: os.ErrInvalid, Tail: tail, Hint: TLSHint}
	if !strings.Contains(e.Error(), "extra_ca_certs") {
		t.Fatalf("error lacks the setting: %s", e.Error())
	}
}
