package images

import (
	"context"
	"encoding/pem"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"time"
)

// hostCADirs are where administrators add CA certificates on Linux hosts: Debian and
// Ubuntu (update-ca-certificates), Fedora/RHEL/openSUSE (update-ca-trust).
var hostCADirs = []string{
	"/usr/local/share/ca-certificates",
	"/etc/pki/ca-trust/source/anchors",
	"/etc/pki/trust/anchors",
}

// hostCASources lists the host's admin-added CA certificate sources that exist and hold
// at least one entry. The distribution's own bundle is left out on purpose: the image's
// ca-certificates package has it already.
func hostCASources() []string {
	var out []string
	for _, d := range hostCADirs {
		if ents, err := os.ReadDir(d); err == nil && len(ents) > 0 {
			out = append(out, d)
		}
	}
	return out
}

// macSystemKeychainPEM returns the certificates in the macOS System keychain, where
// admin-added roots (MDM, corporate proxies) live; nil elsewhere or on failure.
func macSystemKeychainPEM() []byte {
	if runtime.GOOS != "darwin" {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "/usr/bin/security", "find-certificate", "-a", "-p",
		"/Library/Keychains/System.keychain").Output()
	if err != nil {
		return nil
	}
	return out
}

// dedupeCerts drops certificates already listed (same DER bytes) and renumbers the
// entries, so a CA named both in extra_ca_certs and found on the host counts once and
// the image hash does not depend on how it was found.
func dedupeCerts(in []entry) []entry {
	seen := map[string]bool{}
	var out []entry
	for _, e := range in {
		b, _ := pem.Decode(e.Data)
		if b == nil {
			continue
		}
		k := string(b.Bytes)
		if seen[k] {
			continue
		}
		seen[k] = true
		e.Path = caEntryPath(len(out))
		out = append(out, e)
	}
	return out
}

// tlsFailureMarkers are what npm, curl, apt and git print when a TLS-inspecting proxy's
// CA is not trusted.
var tlsFailureMarkers = []string{
	"SELF_SIGNED_CERT_IN_CHAIN", "self-signed certificate in certificate chain",
	"self signed certificate in certificate chain", "unable to get local issuer certificate",
	"UNABLE_TO_GET_ISSUER_CERT_LOCALLY", "certificate verify failed", "SSL certificate problem",
}

// TLSHint is the fix for a build that failed on an untrusted certificate.
const TLSHint = "A TLS-inspecting proxy on this network presents a certificate the sandbox does not trust. " +
	"Add its CA certificate (a PEM file or a folder of them) under Settings → Sandbox → Extra CA certificates " +
	"([sandbox].extra_ca_certs in config.toml), keep trust_host_cas = true, then build again."

// looksLikeTLSFailure reports whether build output lines show an untrusted certificate.
func looksLikeTLSFailure(lines []string) bool {
	joined := strings.Join(lines, "\n")
	for _, m := range tlsFailureMarkers {
		if strings.Contains(joined, m) {
			return true
		}
	}
	return false
}

func caEntryPath(i int) string { return fmt.Sprintf("ca/%03d.crt", i) }

// sandboxCACerts is every CA certificate the sandbox image trusts: extra_ca_certs (an
// unreadable one is an error: the user named it), then, with trust_host_cas, the host's
// admin-added CAs (unreadable or non-PEM ones are skipped: they are not the user's typo).
func sandboxCACerts(extra []string, trustHost bool) ([]entry, error) {
	certs, err := collectCACerts(extra)
	if err != nil {
		return nil, err
	}
	if trustHost {
		for _, src := range hostCASources() {
			if more, err := collectCACerts([]string{src}); err == nil {
				certs = append(certs, more...)
			}
		}
		certs = append(certs, pemEntries(macSystemKeychainPEM())...)
	}
	return dedupeCerts(certs), nil
}

// pemEntries splits a PEM bundle into one entry per certificate.
func pemEntries(data []byte) []entry {
	var out []entry
	for rest := data; ; {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			return out
		}
		if block.Type == "CERTIFICATE" {
			out = append(out, entry{Path: caEntryPath(len(out)), Mode: 0o644,
				Data: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: block.Bytes})})
		}
	}
}
