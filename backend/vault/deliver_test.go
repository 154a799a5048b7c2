package vault

import (
	"archive/tar"
	"bytes"
	"io"
	"io/fs"
	"testing"
)

func TestTarFiles(t *testing.T) {
	data, err := TarFiles([]FileSecret{
		{Path: ".ssh/id_ed25519", Mode: 0o400, Value: []byte("KEY")},
		{Path: ".config/gh/hosts.yml", Mode: 0, Value: []byte("gh: token")},
		{Path: ".ssh/config", Mode: 0o644, Value: []byte("Host *")},
	}, 1000, 1000)
	if err != nil {
		t.Fatal(err)
	}
	type entry struct {
		mode int64
		typ  byte
		body string
	}
	got := map[string]entry{}
	tr := tar.NewReader(bytes.NewReader(data))
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if h.Uid != 1000 || h.Gid != 1000 {
			t.Fatalf("%s owned by %d:%d", h.Name, h.Uid, h.Gid)
		}
		body, _ := io.ReadAll(tr)
		got[h.Name] = entry{h.Mode, h.Typeflag, string(body)}
	}
	want := map[string]entry{
		".config/":             {0o700, tar.TypeDir, ""},
		".config/gh/":          {0o700, tar.TypeDir, ""},
		".config/gh/hosts.yml": {0o600, tar.TypeReg, "gh: token"},
		".ssh/":                {0o700, tar.TypeDir, ""},
		".ssh/config":          {0o644, tar.TypeReg, "Host *"},
		".ssh/id_ed25519":      {0o400, tar.TypeReg, "KEY"},
	}
	if len(got) != len(want) {
		t.Fatalf("entries %v", got)
	}
	for name, w := range want {
		if got[name] != w {
			t.Errorf("%s: got %+v want %+v", name, got[name], w)
		}
	}
	if _, err := TarFiles([]FileSecret{{Path: "../x", Mode: fs.FileMode(0o600)}}, 0, 0); err == nil {
		t.Fatal("escaping path packed")
	}
}
