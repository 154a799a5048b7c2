package vault

import (
	"archive/tar"
	"bytes"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
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

// EnvScript's output, sourced by a real sh, gives each variable its exact value: quotes,
// newlines, $(...), backticks and backslashes are data, never run.
func TestEnvScriptRoundTripsThroughSh(t *testing.T) {
	marker := filepath.Join(t.TempDir(), "ran")
	envs := map[string]string{
		"PLAIN":   "ghp_0123456789abcdef",
		"QUOTES":  `it's "quoted" ''`,
		"SUBST":   "$(touch " + marker + ") `touch " + marker + "` ${HOME}",
		"NEWLINE": "line1\nline2\n",
		"BACKSL":  `a\b\\c\'`,
		"EMPTY":   "",
	}
	script, err := EnvScript(envs)
	if err != nil {
		t.Fatal(err)
	}
	f := filepath.Join(t.TempDir(), "env")
	if err := os.WriteFile(f, script, 0o600); err != nil {
		t.Fatal(err)
	}
	for k, want := range envs {
		out, err := exec.Command("sh", "-c", `. "$0" && printf '%s' "$(printenv `+k+`; echo x)"`, f).Output()
		if err != nil {
			t.Fatalf("source env file: %v", err)
		}
		got := strings.TrimSuffix(string(out), "x")
		if want += "\n"; got != want { // printenv's newline
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}
	if _, err := os.Stat(marker); err == nil {
		t.Fatal("a value was run as a command")
	}
	if _, err := EnvScript(map[string]string{"BAD NAME": "x"}); err == nil {
		t.Error("a name that is not a shell identifier was accepted")
	}
	if _, err := EnvScript(map[string]string{"NUL": "a\x00b"}); err == nil || strings.Contains(err.Error(), "a\x00b") {
		t.Errorf("NUL value: %v", err)
	}
}

func TestWithoutHostCredentials(t *testing.T) {
	envs := map[string]string{"GH_TOKEN": "tok-123", "COPY": " tok-123\n", "OTHER": "x"}
	files := []FileSecret{{Path: ".ssh/deploy", Value: []byte("KEY\n")}, {Path: ".ssh/copy", Value: []byte("KEY")}, {Path: ".ssh/id", Value: []byte("MINE")}}
	creds := []HostCredential{{Env: "GH_TOKEN", File: ".ssh/deploy"}, {Vault: "other", Env: "OTHER"}}
	gotEnvs, gotFiles, withheld := WithoutHostCredentials(DefaultVault, envs, files, creds)
	if len(gotEnvs) != 1 || gotEnvs["OTHER"] != "x" {
		t.Errorf("envs = %v", gotEnvs)
	}
	if len(gotFiles) != 1 || gotFiles[0].Path != ".ssh/id" {
		t.Errorf("files = %+v", gotFiles)
	}
	if want := "env COPY,env GH_TOKEN,file .ssh/copy,file .ssh/deploy"; strings.Join(withheld, ",") != want {
		t.Errorf("withheld = %v, want %s", withheld, want)
	}
	// Another vault's credential names do not touch this vault.
	gotEnvs, _, _ = WithoutHostCredentials("team", envs, files, creds[:1])
	if len(gotEnvs) != 3 {
		t.Errorf("vault team lost secrets: %v", gotEnvs)
	}
}

func TestTarSecretsHasEnvEntry(t *testing.T) {
	data, err := TarSecrets([]FileSecret{{Path: ".ssh/id", Value: []byte("K")}}, []byte("export A='b'\n"), EnvFile+".new", 2000, 2000)
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(bytes.NewReader(data))
	h, err := tr.Next()
	if err != nil || h.Name != EnvFile+".new" || h.Mode != 0o600 || h.Uid != 2000 {
		t.Fatalf("first entry %+v, %v", h, err)
	}
	if b, _ := io.ReadAll(tr); string(b) != "export A='b'\n" {
		t.Fatalf("env entry = %q", b)
	}
	if err := CheckFilePath(EnvFile); err == nil {
		t.Fatal("a file secret could be named like the env file")
	}
}
