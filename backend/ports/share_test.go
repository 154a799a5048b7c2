package ports

import (
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestShareServesReadOnlyAndHidesSecrets(t *testing.T) {
	dir := t.TempDir()
	write := func(rel, body string) {
		p := filepath.Join(dir, rel)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("index.html", "<h1>app</h1>")
	write("app.js", "console.log(1)")
	write("docs/index.html", "docs index")
	write(".git/config", "[core]\n\tfsmonitor = evil")
	write(".env", "SECRET=1")
	write("sub/.env.local", "SECRET=2")
	write("sub/.ssh/id_ed25519", "KEY")
	write(".claude/settings.json", "{}")
	write("node_modules/x/index.js", "x")
	os.Symlink("/etc/passwd", filepath.Join(dir, "passwd"))
	os.Symlink("app.js", filepath.Join(dir, "inner-link.js"))
	os.Symlink("/etc", filepath.Join(dir, "etc"))

	h, err := ShareHandler(dir, "")
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	defer srv.Close()
	get := func(method, p string) (int, string) {
		req, _ := http.NewRequest(method, srv.URL+p, nil)
		req.URL.Opaque = p // send the path byte for byte
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	for p, want := range map[string]string{"/": "<h1>app</h1>", "/app.js": "console.log(1)", "/docs/": "docs index", "/some/spa/route": "<h1>app</h1>"} {
		if code, body := get("GET", p); code != 200 || body != want {
			t.Errorf("GET %s = %d %q, want %q", p, code, body, want)
		}
	}
	for _, p := range []string{"/.git/config", "/.git/", "/.env", "/sub/.env.local", "/sub/.ssh/id_ed25519", "/.claude/settings.json",
		"/node_modules/x/index.js", "/passwd", "/inner-link.js", "/etc/passwd", "/../../etc/passwd", "/%2e%2e/%2e%2e/etc/passwd",
		"/docs/../.git/config", "/.GIT/config"} {
		code, body := get("GET", p)
		if strings.Contains(body, "root:") || strings.Contains(body, "SECRET") || strings.Contains(body, "KEY") || strings.Contains(body, "fsmonitor") {
			t.Errorf("GET %s leaked: %d %q", p, code, body)
		}
		if code == 200 && body != "<h1>app</h1>" {
			t.Errorf("GET %s = %d %q", p, code, body)
		}
	}
	if code, _ := get("POST", "/app.js"); code != http.StatusMethodNotAllowed {
		t.Errorf("POST = %d", code)
	}
}

func TestShareSubFolderRefusesLinksAndSecrets(t *testing.T) {
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "site", "a"), 0o755)
	os.WriteFile(filepath.Join(dir, "site", "index.html"), []byte("site"), 0o644)
	os.WriteFile(filepath.Join(dir, "top.txt"), []byte("top"), 0o644)
	os.Symlink("/etc", filepath.Join(dir, "out"))
	os.Symlink("site", filepath.Join(dir, "in"))
	for _, sub := range []string{"out", "in", "../", ".git", "site/../..", "nope", "top.txt"} {
		if _, err := ShareHandler(dir, sub); err == nil {
			t.Errorf("share of %q accepted", sub)
		}
	}
	h, err := ShareHandler(dir, "site")
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	defer srv.Close()
	for p, want := range map[string]string{"/": "site", "/x/y": "site", "/../top.txt": ""} {
		resp, err := http.Get(srv.URL + p)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if want != "" && string(b) != want || strings.Contains(string(b), "top") {
			t.Errorf("GET %s = %q", p, b)
		}
	}
}

func TestManagerShare(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "index.html"), []byte("hi"), 0o644)
	m := New(Options{LoopsDir: t.TempDir()})
	defer m.Close()
	sh, err := m.Share("loop1", dir, "", false)
	if err != nil || !strings.HasPrefix(sh.URL, "http://127.0.0.1:") {
		t.Fatalf("%+v %v", sh, err)
	}
	resp, err := http.Get(sh.URL)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(b) != "hi" {
		t.Fatalf("%q", b)
	}
	m.StopShare("loop1")
	if _, ok := m.SharedOf("loop1"); ok {
		t.Fatal("share kept")
	}
	if _, err := http.Get(sh.URL); err == nil {
		t.Fatal("share still serving")
	}
}
