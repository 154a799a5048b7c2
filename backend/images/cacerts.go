package images

import (
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// collectCACerts reads config [sandbox].extra_ca_certs (PEM files, or folders whose *.crt and
// *.pem files are read) and returns one certificate per file named ca/NNN.crt, in config
// order, because update-ca-certificates only links the first certificate of each file.
func collectCACerts(sources []string) ([]entry, error) {
	var files []string
	for _, src := range sources {
		src = expandHome(strings.TrimSpace(src))
		if src == "" {
			continue
		}
		st, err := os.Stat(src)
		if err != nil {
			return nil, fmt.Errorf("extra CA certificates %q: %w", src, err)
		}
		if !st.IsDir() {
			files = append(files, src)
			continue
		}
		var inDir []string
		err = filepath.WalkDir(src, func(p string, d os.DirEntry, err error) error {
			if err != nil {
				return err
			}
			ext := strings.ToLower(filepath.Ext(p))
			if !d.IsDir() && (ext == ".crt" || ext == ".pem") {
				inDir = append(inDir, p)
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("extra CA certificates %q: %w", src, err)
		}
		sort.Strings(inDir)
		files = append(files, inDir...)
	}

	var out []entry
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			return nil, fmt.Errorf("extra CA certificate: %w", err)
		}
		found := 0
		for rest := data; ; {
			var block *pem.Block
			block, rest = pem.Decode(rest)
			if block == nil {
				break
			}
			if block.Type != "CERTIFICATE" {
				continue
			}
			found++
			out = append(out, entry{
				Path: caEntryPath(len(out)),
				Mode: 0o644,
				Data: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: block.Bytes}),
			})
		}
		if found == 0 {
			return nil, fmt.Errorf("extra CA certificate %s: no PEM CERTIFICATE block found", f)
		}
	}
	return out, nil
}

func expandHome(p string) string {
	if p == "~" || strings.HasPrefix(p, "~/") {
		if home, err := os.UserHomeDir(); err == nil {
			return filepath.Join(home, strings.TrimPrefix(p, "~"))
		}
	}
	return p
}
