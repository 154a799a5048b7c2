package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestWorkspaceName(t *testing.T) {
	for in, want := range map[string]string{
		"/home/a/.loopat": "loopat", "/tmp/..team": "team", "/x/work/": "work", "/x/plain": "plain",
	} {
		if got := WorkspaceName(in); got != want {
			t.Errorf("WorkspaceName(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestLoadCreatesDefaultsThatRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ws", "config.toml")
	cfg, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("config not created: %v", err)
	}
	if !strings.Contains(string(data), "extra_ca_certs") {
		t.Fatalf("template lacks documented keys:\n%s", data)
	}
	def := Default()
	if cfg.Sandbox.IdleMinutes != def.Sandbox.IdleMinutes || cfg.Agent.PermissionMode != def.Agent.PermissionMode ||
		len(cfg.Providers) != 1 || cfg.Providers[0].BaseURL != def.Providers[0].BaseURL || cfg.Machine.CPUs != def.Machine.CPUs {
		t.Fatalf("template disagrees with Default(): %+v", cfg)
	}
}

func TestInvalidConfigNamesFileLineAndKey(t *testing.T) {
	cases := []struct {
		name, body, key string
		line            int
	}{
		{"wrong type", "[sandbox]\nidle_minutes = \"soon\"\n", "sandbox.idle_minutes", 2},
		{"unknown key", "[ui]\ntheme = \"dark\"\ncolour = 3\n", "ui.colour", 3},
		{"bad value", "[agent]\n\npermission_mode = \"yolo\"\n", "agent.permission_mode", 3},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "config.toml")
			if err := os.WriteFile(path, []byte(c.body), 0o600); err != nil {
				t.Fatal(err)
			}
			cfg, err := Load(path)
			var le *LoadError
			if !errors.As(err, &le) {
				t.Fatalf("want *LoadError, got %v", err)
			}
			if le.File != path || le.Key != c.key || le.Line != c.line {
				t.Fatalf("got file=%s key=%q line=%d (%v); want key=%q line=%d", le.File, le.Key, le.Line, le, c.key, c.line)
			}
			if !strings.Contains(le.Error(), path) {
				t.Fatalf("message lacks file: %s", le)
			}
			if cfg.Agent.PermissionMode != "bypassPermissions" {
				t.Fatalf("defaults not returned on error: %+v", cfg.Agent)
			}
			// The broken file is left for the user to fix, never overwritten.
			if data, _ := os.ReadFile(path); string(data) != c.body {
				t.Fatal("invalid config was modified")
			}
		})
	}
}

func TestSaveLoadRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "config.toml")
	cfg := Default()
	cfg.Sandbox.ExtraCACerts = []string{"/usr/local/share/ca-certificates"}
	cfg.Providers = append(cfg.Providers, Provider{Name: "mock", BaseURL: "http://127.0.0.1:1", Models: []string{"m"}, KeyRef: "MOCK_KEY"})
	if err := Save(path, cfg); err != nil {
		t.Fatal(err)
	}
	got, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Providers) != 2 || got.Providers[1].Name != "mock" || got.Sandbox.ExtraCACerts[0] != "/usr/local/share/ca-certificates" {
		t.Fatalf("round trip lost data: %+v", got)
	}
}

func TestServiceSocketStaysShort(t *testing.T) {
	long, err := NewWorkspace("/" + strings.Repeat("x", 120))
	if err != nil {
		t.Fatal(err)
	}
	p := long.ServiceSocket()
	if len(p) > maxSocketPath || !strings.HasPrefix(p, long.ShortSocketDir()) || !strings.HasSuffix(p, "podman.sock") {
		t.Fatalf("socket path %q too long or misplaced", p)
	}
	short, _ := NewWorkspace("/tmp/ws")
	if got := short.ServiceSocket(); got != "/tmp/ws/run/podman.sock" {
		t.Fatalf("short path changed: %s", got)
	}
}
