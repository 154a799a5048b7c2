package ports

import (
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/loopat/desktop/backend/config"
	"github.com/loopat/desktop/backend/ports/portwire"
)

// boundAddr is the address cp's forward listens on (m.mu taken).
func boundAddr(t *testing.T, m *Manager, loopID string, cp int) string {
	t.Helper()
	m.mu.Lock()
	defer m.mu.Unlock()
	f := m.loops[loopID].fwd[cp]
	if f == nil {
		t.Fatalf("port %d not forwarded", cp)
	}
	return f.ln.Addr().(*net.TCPAddr).IP.String()
}

func TestShareOnNetworkIsPerPortAndEndsWithTheForward(t *testing.T) {
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "loop3"), 0o700)
	m := New(Options{LoopsDir: dir, Open: fakeRelay("127.0.0.1:1"),
		Config: func() config.Ports { return config.Ports{Range: "34000-34999", AutoForward: true} }})
	defer m.Close()

	if _, err := m.ShareOnNetwork("loop3", 34500, true); err == nil {
		t.Fatal("a port that is not forwarded was shared on the network")
	}
	l, err := m.Forward("loop3", 34500)
	if err != nil || len(l) != 1 || l[0].Network {
		t.Fatalf("forward: %+v %v", l, err)
	}
	if _, err := m.Forward("loop3", 34501); err != nil {
		t.Fatal(err)
	}
	if a := boundAddr(t, m, "loop3", 34500); a != "127.0.0.1" {
		t.Fatalf("default bind %s, want loopback", a)
	}
	host := l[0].HostPort

	l, err = m.ShareOnNetwork("loop3", 34500, true)
	if err != nil {
		t.Fatal(err)
	}
	if a := boundAddr(t, m, "loop3", 34500); a != "0.0.0.0" {
		t.Fatalf("shared bind %s, want 0.0.0.0", a)
	}
	if a := boundAddr(t, m, "loop3", 34501); a != "127.0.0.1" {
		t.Fatalf("the other port moved to %s: the choice is per port", a)
	}
	for _, f := range l {
		if f.Network != (f.ContainerPort == 34500) {
			t.Fatalf("list %+v", l)
		}
		if f.ContainerPort == 34500 && f.HostPort != host {
			t.Fatalf("host port changed %d -> %d when shared", host, f.HostPort)
		}
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "loop3", FileName)); strings.Contains(string(b), "network") {
		t.Fatalf("the network choice was persisted: %s", b)
	}

	if _, err := m.ShareOnNetwork("loop3", 34500, false); err != nil {
		t.Fatal(err)
	}
	if a := boundAddr(t, m, "loop3", 34500); a != "127.0.0.1" {
		t.Fatalf("unshared bind %s", a)
	}

	// Stopping the forward ends the choice: forwarded again, it is loopback only.
	m.ShareOnNetwork("loop3", 34500, true)
	m.Stop("loop3", 34500)
	l, _ = m.Forward("loop3", 34500)
	if a := boundAddr(t, m, "loop3", 34500); a != "127.0.0.1" {
		t.Fatalf("re-forwarded on %s after a stop, want loopback", a)
	}
}

func TestNetworkShareRefusesFoldersWithSecrets(t *testing.T) {
	dir := t.TempDir()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.MkdirAll(filepath.Join(dir, "dist", "assets"), 0o755))
	must(os.MkdirAll(filepath.Join(dir, "site", "deep", ".git"), 0o755))
	must(os.WriteFile(filepath.Join(dir, ".env.local"), []byte("TOKEN=x"), 0o600))
	must(os.WriteFile(filepath.Join(dir, "dist", "index.html"), []byte("built"), 0o644))
	must(os.Symlink("../.env.local", filepath.Join(dir, "dist", "assets", "config")))
	must(os.Symlink("/", filepath.Join(dir, "dist", "root")))

	m := New(Options{LoopsDir: t.TempDir()})
	defer m.Close()
	local, err := m.Share("loop1", dir, "", false)
	if err != nil || local.Network {
		t.Fatalf("loopback share of the workdir: %+v %v", local, err)
	}
	for _, sub := range []string{"", ".", "site"} {
		if _, err := m.Share("loop1", dir, sub, true); err == nil || !strings.Contains(err.Error(), "not shared on the network") {
			t.Errorf("network share of %q (holds secrets): %v", sub, err)
		}
	}
	if sh, _ := m.SharedOf("loop1"); sh != local {
		t.Fatalf("a refused share replaced the running one: %+v", sh)
	}
	sh, err := m.Share("loop1", dir, "dist", true)
	if err != nil || !sh.Network || sh.Sub != "dist" {
		t.Fatalf("network share of dist: %+v %v", sh, err)
	}
	m.mu.Lock()
	st := m.shares["loop1"]
	m.mu.Unlock()
	if st == nil || st.Shared != sh {
		t.Fatalf("share state %+v", st)
	}
	if found, err := SecretIn(dir, "dist"); err != nil || found != "" {
		t.Fatalf("dist (links are not followed): %q %v", found, err)
	}
	if found, _ := SecretIn(dir, "site"); found != "site/deep/.git" {
		t.Fatalf("SecretIn(site) = %q", found)
	}
}

// auto_forward changed in the settings applies to a loop's detected ports at once, with
// no new report from its relay: off closes the automatic forwards (not one added by
// hand), on opens them again.
func TestAutoForwardFollowsTheSettingsLive(t *testing.T) {
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "loop4"), 0o700)
	var mu sync.Mutex
	auto := false
	m := New(Options{LoopsDir: dir, Open: fakeRelay("127.0.0.1:1"),
		Config: func() config.Ports {
			mu.Lock()
			defer mu.Unlock()
			return config.Ports{Range: "35000-35999", AutoForward: auto}
		}})
	defer m.Close()
	relayEnd, hostEnd := net.Pipe()
	defer relayEnd.Close()
	go m.ServeConn("loop4", hostEnd)
	portwire.WriteUpdate(relayEnd, portwire.Update{Ports: []portwire.Port{{Port: 35501}}})
	if _, err := m.Forward("loop4", 35502); err != nil { // by hand: forwarded whatever auto_forward says
		t.Fatal(err)
	}
	forwarded := func() map[int]bool {
		out := map[int]bool{}
		l, _ := m.Ports("loop4")
		for _, f := range l {
			if f.HostPort != 0 {
				out[f.ContainerPort] = true
			}
		}
		return out
	}
	deadline := time.Now().Add(2 * time.Second)
	for l, _ := m.Ports("loop4"); len(l) < 2 && time.Now().Before(deadline); l, _ = m.Ports("loop4") {
		time.Sleep(20 * time.Millisecond)
	}
	if f := forwarded(); f[35501] || !f[35502] {
		t.Fatalf("auto_forward off: %v", f)
	}
	mu.Lock()
	auto = true
	mu.Unlock()
	m.Reconfigure()
	if f := forwarded(); !f[35501] || !f[35502] {
		t.Fatalf("auto_forward turned on: %v", f)
	}
	mu.Lock()
	auto = false
	mu.Unlock()
	m.Reconfigure()
	if f := forwarded(); f[35501] || !f[35502] {
		t.Fatalf("auto_forward turned off again: %v", f)
	}
}
