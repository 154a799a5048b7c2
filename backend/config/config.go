// Package config locates the workspace (LOOPAT_HOME) and loads its config.toml.
//
// The config file is created with documented defaults on first start. A config that
// fails to parse is reported as a *LoadError naming the file, line and key; callers keep
// running on defaults so the UI can open and show the problem.
package config

import (
	_ "embed"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/pelletier/go-toml/v2"

	"github.com/loopat/desktop/backend/safefs"
)

//go:embed default.toml
var defaultTOML []byte

// DefaultTOML is the commented template written on first start.
func DefaultTOML() []byte { return append([]byte(nil), defaultTOML...) }

// Config is the workspace configuration (LOOPAT_HOME/config.toml).
type Config struct {
	Engine    Engine     `toml:"engine" json:"engine"`
	Machine   Machine    `toml:"machine" json:"machine"`
	Sandbox   Sandbox    `toml:"sandbox" json:"sandbox"`
	Agent     Agent      `toml:"agent" json:"agent"`
	Providers []Provider `toml:"providers" json:"providers"`
	UI        UI         `toml:"ui" json:"ui"`
	HostExec  HostExec   `toml:"host_exec" json:"hostExec"`
	Ports     Ports      `toml:"ports" json:"ports"`
	Loops     Loops      `toml:"loops" json:"loops"`
}

// Loops configures how loops start.
type Loops struct {
	// Warm keeps one loop prepared in the background (folder, context, container, link,
	// secrets, an idle agent) so "New loop" hands it out instead of starting cold.
	Warm bool `toml:"warm" json:"warm"`
}

// Ports configures forwarding of the ports a loop's processes listen on.
type Ports struct {
	// Range is where a host port comes from when the container's own number is taken ("lo-hi").
	Range       string `toml:"range" json:"range"`
	AutoForward bool   `toml:"auto_forward" json:"autoForward"`
}

// ParsePortRange parses "lo-hi" (1 <= lo <= hi <= 65535).
func ParsePortRange(s string) (lo, hi int, err error) {
	a, b, ok := strings.Cut(strings.TrimSpace(s), "-")
	if ok {
		lo, err = strconv.Atoi(strings.TrimSpace(a))
		if err == nil {
			hi, err = strconv.Atoi(strings.TrimSpace(b))
		}
	}
	if !ok || err != nil || lo < 1 || hi > 65535 || lo > hi {
		return 0, 0, fmt.Errorf("%q is not a port range like \"10000-20000\" (1-65535, low first)", s)
	}
	return lo, hi, nil
}

// Engine selects how the app reaches podman.
type Engine struct {
	// URL overrides discovery, e.g. unix:///run/podman/podman.sock. CONTAINER_HOST wins over it.
	URL string `toml:"url" json:"url"`
	// Podman is the podman executable used for `podman machine` and the app-managed service.
	Podman string `toml:"podman" json:"podman"`
}

// Machine configures the podman machine (macOS, and Linux where one exists).
type Machine struct {
	Name         string `toml:"name" json:"name"`
	CPUs         int    `toml:"cpus" json:"cpus"`
	MemoryMiB    int    `toml:"memory_mib" json:"memoryMiB"`
	DiskGiB      int    `toml:"disk_gib" json:"diskGiB"`
	StartTimeout int    `toml:"start_timeout_seconds" json:"startTimeoutSeconds"`
	StopOnQuit   bool   `toml:"stop_on_quit" json:"stopOnQuit"`
}

// Sandbox configures loop containers and image builds.
type Sandbox struct {
	// ExtraCACerts are PEM files or folders of them trusted by image builds and containers
	// (corporate TLS proxies).
	ExtraCACerts []string `toml:"extra_ca_certs" json:"extraCACerts"`
	// TrustHostCAs adds the CA certificates the host's administrator added to the system
	// trust store (Debian/Ubuntu /usr/local/share/ca-certificates, Fedora's anchors, the
	// macOS System keychain): behind a TLS-inspecting proxy the first build then just works.
	TrustHostCAs bool   `toml:"trust_host_cas" json:"trustHostCAs"`
	IdleMinutes  int    `toml:"idle_minutes" json:"idleMinutes"`
	BaseImage    string `toml:"base_image" json:"baseImage"`
}

// Agent holds defaults for the Claude Code agent in each loop.
type Agent struct {
	PermissionMode  string `toml:"permission_mode" json:"permissionMode"`
	DefaultProvider string `toml:"default_provider" json:"defaultProvider"`
	DefaultModel    string `toml:"default_model" json:"defaultModel"`
}

// Provider is an Anthropic-compatible model endpoint; its key lives in the vault.
type Provider struct {
	Name    string   `toml:"name" json:"name"`
	BaseURL string   `toml:"base_url" json:"baseURL"`
	Models  []string `toml:"models" json:"models"`
	KeyRef  string   `toml:"key" json:"keyRef"` // vault env secret name holding the API key
}

// UI holds presentation preferences.
type UI struct {
	Theme         string `toml:"theme" json:"theme"`
	Notifications bool   `toml:"notifications" json:"notifications"`
}

// HostExec configures the host-CLI channel.
type HostExec struct {
	TimeoutSeconds int  `toml:"timeout_seconds" json:"timeoutSeconds"`
	AllowAny       bool `toml:"allow_any_cli" json:"allowAnyCLI"`
}

// Default returns the built-in defaults (the same values default.toml documents).
func Default() Config {
	return Config{
		Engine:  Engine{Podman: "podman"},
		Machine: Machine{Name: "", CPUs: 4, MemoryMiB: 4096, DiskGiB: 60, StartTimeout: 180},
		Sandbox: Sandbox{TrustHostCAs: true, IdleMinutes: 30, BaseImage: "docker.io/library/debian:bookworm-slim"},
		Agent:   Agent{PermissionMode: "bypassPermissions", DefaultProvider: "anthropic", DefaultModel: "claude-sonnet-4-5"},
		Providers: []Provider{{
			Name: "anthropic", BaseURL: "https://api.anthropic.com",
			Models: []string{"claude-sonnet-4-5", "claude-opus-4-1"}, KeyRef: "ANTHROPIC_API_KEY",
		}},
		UI:       UI{Theme: "system", Notifications: true},
		HostExec: HostExec{TimeoutSeconds: 120},
		Ports:    Ports{Range: "10000-20000", AutoForward: true},
		Loops:    Loops{Warm: true},
	}
}

// LoadError describes an invalid config file precisely enough to fix it.
type LoadError struct {
	File string `json:"file"`
	Line int    `json:"line"`
	Key  string `json:"key"`
	Msg  string `json:"message"`
}

func (e *LoadError) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		fmt.Fprintf(&b, ":%d", e.Line)
	}
	if e.Key != "" {
		fmt.Fprintf(&b, ": key %q", e.Key)
	}
	b.WriteString(": ")
	b.WriteString(e.Msg)
	return b.String()
}

// Load reads path, creating it from the template if absent. On a parse or validation
// error it returns the defaults together with a *LoadError.
func Load(path string) (Config, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			return Default(), fmt.Errorf("create config dir: %w", err)
		}
		if err := os.WriteFile(path, defaultTOML, 0o600); err != nil {
			return Default(), fmt.Errorf("write default config: %w", err)
		}
		data = defaultTOML
	} else if err != nil {
		return Default(), fmt.Errorf("read config: %w", err)
	}
	return Parse(path, data)
}

// Parse decodes data (named path in errors) over the defaults and validates it.
func Parse(path string, data []byte) (Config, error) {
	cfg := Default()
	dec := toml.NewDecoder(strings.NewReader(string(data)))
	dec.DisallowUnknownFields()
	// Decode into a fresh value so a half-decoded file never leaks into the defaults.
	var parsed = Default()
	parsed.Providers = nil
	if err := dec.Decode(&parsed); err != nil {
		return cfg, toLoadError(path, data, err)
	}
	if parsed.Providers == nil {
		parsed.Providers = cfg.Providers
	}
	if err := validate(path, data, parsed); err != nil {
		return cfg, err
	}
	return parsed, nil
}

func toLoadError(path string, data []byte, err error) *LoadError {
	le := &LoadError{File: path, Msg: err.Error()}
	var de *toml.DecodeError
	var sme *toml.StrictMissingError
	switch {
	case errors.As(err, &de):
		le.Line, _ = de.Position()
		le.Key = strings.Join(de.Key(), ".")
		le.Msg = de.Error()
	case errors.As(err, &sme) && len(sme.Errors) > 0:
		first := sme.Errors[0]
		le.Line, _ = first.Position()
		le.Key = strings.Join(first.Key(), ".")
		le.Msg = "unknown key"
	}
	if le.Line == 0 && le.Key != "" {
		le.Line = lineOfKey(data, le.Key)
	}
	return le
}

func validate(path string, data []byte, c Config) error {
	bad := func(key, msg string) error {
		return &LoadError{File: path, Key: key, Line: lineOfKey(data, key), Msg: msg}
	}
	switch c.Agent.PermissionMode {
	case "bypassPermissions", "acceptEdits", "default", "plan":
	default:
		return bad("agent.permission_mode", fmt.Sprintf("%q is not one of bypassPermissions, acceptEdits, default, plan", c.Agent.PermissionMode))
	}
	if c.Sandbox.IdleMinutes < 0 {
		return bad("sandbox.idle_minutes", "must be 0 (never) or a positive number of minutes")
	}
	if c.Machine.StartTimeout <= 0 {
		return bad("machine.start_timeout_seconds", "must be positive")
	}
	if c.HostExec.TimeoutSeconds <= 0 {
		return bad("host_exec.timeout_seconds", "must be positive")
	}
	if _, _, err := ParsePortRange(c.Ports.Range); err != nil {
		return bad("ports.range", err.Error())
	}
	switch c.UI.Theme {
	case "system", "light", "dark":
	default:
		return bad("ui.theme", fmt.Sprintf("%q is not one of system, light, dark", c.UI.Theme))
	}
	seen := map[string]bool{}
	for _, p := range c.Providers {
		if p.Name == "" || seen[p.Name] {
			return bad("providers.name", fmt.Sprintf("provider name %q is empty or repeated", p.Name))
		}
		seen[p.Name] = true
		if !strings.HasPrefix(p.BaseURL, "http://") && !strings.HasPrefix(p.BaseURL, "https://") {
			return bad("providers.base_url", fmt.Sprintf("provider %q: base_url must start with http:// or https://", p.Name))
		}
	}
	return nil
}

// lineOfKey finds the 1-based line where the last segment of a dotted key is assigned.
func lineOfKey(data []byte, key string) int {
	last := key[strings.LastIndex(key, ".")+1:]
	for i, line := range strings.Split(string(data), "\n") {
		t := strings.TrimSpace(line)
		if strings.HasPrefix(t, last) && strings.HasPrefix(strings.TrimSpace(strings.TrimPrefix(t, last)), "=") {
			return i + 1
		}
	}
	return 0
}

// Save writes cfg to path atomically.
func Save(path string, cfg Config) error {
	data, err := toml.Marshal(cfg)
	if err != nil {
		return fmt.Errorf("encode config: %w", err)
	}
	if err := safefs.WriteFileAtomic(path, data, 0o600); err != nil {
		return fmt.Errorf("write config: %w", err)
	}
	return nil
}
