//go:build integration

package tray_test

import (
	"context"
	"debug/buildinfo"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The .deb from scripts/package-deb.sh installs into a clean container from the local
// base image (apt resolves its Depends from Debian's mirror), lands in the application
// menu, and `loopat version` / `loopat doctor --json` run there.
func TestIntegrationDebInstallsInCleanContainer(t *testing.T) {
	root := repoFile(t, ".")
	dir := shortDir(t)

	bin := shippedBinary(t, root)
	t.Logf("packaging %s", bin)

	out, err := exec.Command(filepath.Join(root, "scripts", "package-deb.sh"), bin, "v0.0.0-debtest", filepath.Join(dir, "deb")).CombinedOutput()
	if err != nil {
		t.Fatalf("package-deb.sh: %v\n%s", err, out)
	}
	deb := strings.TrimSpace(string(out))
	if filepath.Base(deb) != "loopat_0.0.0+debtest_"+debArch(t)+".deb" {
		t.Fatalf("unexpected package name %q", deb)
	}
	fields, err := exec.Command("dpkg-deb", "--field", deb, "Depends").Output()
	if err != nil || strings.TrimSpace(string(fields)) != "podman, libwebkit2gtk-4.1-0, libgtk-3-0, catatonit" {
		t.Fatalf("Depends %q (%v)", fields, err)
	}

	results := filepath.Join(dir, "out")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	began := time.Now()
	cmd := exec.CommandContext(ctx, filepath.Join(root, "scripts", "test", "deb-install.sh"), deb, results)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("deb-install.sh: %v\n%s", err, tail(string(out), 4000))
	}
	t.Logf("MEASURED apt-get install ./loopat.deb (with Depends from the mirror) + checks in a clean container: %s",
		time.Since(began).Round(time.Second))

	read := func(name string) string {
		b, err := os.ReadFile(filepath.Join(results, name))
		if err != nil {
			t.Fatalf("result %s: %v", name, err)
		}
		return string(b)
	}
	files := read("files.txt")
	want := []string{"/usr/bin/loopat", "/usr/lib/loopat/loopat-headless", "/usr/share/applications/loopat.desktop"}
	for _, s := range []string{"16", "24", "32", "48", "64", "128", "256", "512"} {
		want = append(want, "/usr/share/icons/hicolor/"+s+"x"+s+"/apps/loopat.png")
	}
	for _, w := range want {
		if !strings.Contains(files, w+"\n") {
			t.Errorf("package lacks %s", w)
		}
	}
	if got := strings.TrimSpace(read("which.txt")); got != "/usr/bin/loopat" {
		t.Errorf("loopat on PATH is %q", got)
	}
	desktop := read("loopat.desktop")
	for _, line := range []string{"[Desktop Entry]", "Type=Application", "Exec=loopat", "Icon=loopat", "Categories=Development;IDE;"} {
		if !strings.Contains(desktop, line+"\n") {
			t.Errorf("desktop entry lacks %q", line)
		}
	}
	if v := read("version.txt"); !strings.HasPrefix(v, "loopat ") {
		t.Errorf("loopat version printed %q", v)
	}
	var checks []struct {
		ID    string `json:"id"`
		OK    bool   `json:"ok"`
		Label string `json:"label"`
	}
	doctor := read("doctor.json")
	if err := json.Unmarshal([]byte(doctor), &checks); err != nil {
		t.Fatalf("doctor --json is not JSON: %v\n%s\nstderr: %s", err, doctor, read("doctor.stderr"))
	}
	if len(checks) == 0 || checks[0].ID == "" || checks[0].Label == "" {
		t.Fatalf("doctor --json lists no checks: %s", doctor)
	}
	t.Logf("doctor in the container (exit %s): %d checks", strings.TrimSpace(read("doctor.rc")), len(checks))
}

// shippedBinary is the binary `make package` ships: LOOPAT_DEB_BIN (make test-integration
// builds it first and sets it) or build/bin/loopat. It must be the real desktop build (cgo,
// the wails desktop and production tags), not a stand-in, or the test would pass on a
// package users never get; a missing or stand-in binary fails with how to build it.
func shippedBinary(t *testing.T, root string) string {
	t.Helper()
	bin := os.Getenv("LOOPAT_DEB_BIN")
	if bin == "" {
		bin = filepath.Join(root, "build", "bin", "loopat")
	}
	fi, err := os.Stat(bin)
	if err != nil || fi.Mode()&0o111 == 0 {
		t.Fatalf("the .deb test packages the real binary: %s is missing or not executable (run make build first): %v", bin, err)
	}
	info, err := buildinfo.ReadFile(bin)
	if err != nil {
		t.Fatalf("%s is not a Go binary: %v", bin, err)
	}
	settings := map[string]string{}
	for _, s := range info.Settings {
		settings[s.Key] = s.Value
	}
	tags := "," + settings["-tags"] + ","
	if settings["CGO_ENABLED"] != "1" || !strings.Contains(tags, ",desktop,") || !strings.Contains(tags, ",production,") {
		t.Fatalf("%s is not the desktop build make build makes (CGO_ENABLED=%q, tags %q): run make build first",
			bin, settings["CGO_ENABLED"], settings["-tags"])
	}
	if age := time.Since(fi.ModTime()); age > time.Hour {
		t.Logf("note: %s was built %s ago", bin, age.Round(time.Minute))
	}
	return bin
}

func debArch(t *testing.T) string {
	out, err := exec.Command("dpkg", "--print-architecture").Output()
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(out))
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "…" + s[len(s)-n:]
}
