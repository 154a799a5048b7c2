package loops

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/zalando/go-keyring"

	agentpkg "github.com/loopat/desktop/backend/agent"
	"github.com/loopat/desktop/backend/config"
	"github.com/loopat/desktop/backend/events"
	"github.com/loopat/desktop/backend/gateway"
	"github.com/loopat/desktop/backend/secrets"
	"github.com/loopat/desktop/backend/vault"
)

// placeholderGateway routes through the real gateway package, the way the app does:
// the sandbox gets a loopback URL and the loop's placeholder.
type placeholderGateway struct{ ph map[string]string }

func (g *placeholderGateway) Route(loopID string, p config.Provider, key string) (ModelRoute, error) {
	if g.ph[loopID] == "" {
		g.ph[loopID] = gateway.NewPlaceholder()
	}
	if _, err := gateway.New(p.BaseURL, key, g.ph[loopID], nil); err != nil {
		return ModelRoute{}, err
	}
	return ModelRoute{BaseURL: "http://127.0.0.1:4141", APIKey: g.ph[loopID]}, nil
}
func (g *placeholderGateway) Forget(string) {}

func TestExecEnvKeepsEveryProviderKeyOut(t *testing.T) {
	ws, _ := config.NewWorkspace(filepath.Join(t.TempDir(), "ws"))
	keyring.MockInit()
	v := vault.New(ws, vault.OSKeyring())
	for k, val := range map[string]string{"A_KEY": "sk-a-0123456789", "B_KEY": "sk-b-0123456789", "GH_TOKEN": "ghp_0123456789"} {
		if err := v.SetEnv("default", k, val); err != nil {
			t.Fatal(err)
		}
	}
	cfg := config.Default()
	cfg.Providers = []config.Provider{
		{Name: "a", BaseURL: "https://a.example", KeyRef: "A_KEY"},
		{Name: "b", BaseURL: "https://b.example", KeyRef: "B_KEY"},
	}
	scrub := secrets.New()
	m, err := NewManager(Options{Workspace: ws, Conn: downConn{}, Secrets: v, Scrub: scrub,
		Gateway: &placeholderGateway{ph: map[string]string{}}, Config: func() config.Config { return cfg }})
	if err != nil {
		t.Fatal(err)
	}
	meta := Meta{ID: "l1", Vault: "default", Provider: "a"}

	agent, err := m.execEnv(meta.ID, meta, true)
	if err != nil {
		t.Fatal(err)
	}
	term, err := m.execEnv(meta.ID, meta, false)
	if err != nil {
		t.Fatal(err)
	}
	if want := map[string]string{"GH_TOKEN": "ghp_0123456789"}; !reflect.DeepEqual(agent.env, want) || !reflect.DeepEqual(term.env, want) {
		t.Fatalf("secrets: agent %v, terminal %v, want %v (no provider key, not even provider b's)", agent.env, term.env, want)
	}
	if !reflect.DeepEqual(agent.plain, term.plain) {
		t.Fatalf("terminal model env %v differs from the agent's %v (same placeholder expected)", term.plain, agent.plain)
	}
	joined := strings.Join(term.plain, " ")
	if !strings.Contains(joined, "ANTHROPIC_BASE_URL=http://127.0.0.1:4141") || !strings.Contains(joined, "ANTHROPIC_API_KEY="+gateway.PlaceholderPrefix) {
		t.Fatalf("terminal model env = %v", term.plain)
	}
	// The exec's own environment (kept by podman on disk) holds no vault value.
	for _, kv := range term.plain {
		if strings.Contains(kv, "0123456789") {
			t.Fatalf("a vault value is in the exec environment: %v", term.plain)
		}
	}
	if got := scrub.String("GH_TOKEN is ghp_0123456789"); strings.Contains(got, "ghp_0123456789") {
		t.Fatalf("env secret not registered with the scrubber: %q", got)
	}

	// A loop whose provider has no key: the agent refuses with a hint, a terminal
	// still opens with the other secrets and no model route.
	cfg.Providers = append(cfg.Providers, config.Provider{Name: "c", BaseURL: "https://c.example", KeyRef: "C_KEY"})
	meta.Provider = "c"
	var p *envProblem
	if _, err := m.execEnv(meta.ID, meta, true); !errors.As(err, &p) || !strings.Contains(p.msg, "No API key") || p.hint == "" {
		t.Fatalf("agent without a key: %v", err)
	}
	term, err = m.execEnv(meta.ID, meta, false)
	if err != nil || len(term.plain) != 0 || !reflect.DeepEqual(term.env, map[string]string{"GH_TOKEN": "ghp_0123456789"}) {
		t.Fatalf("terminal without a key: model %v secrets %v err %v", term.plain, term.env, err)
	}
}

// Without a gateway (tests only) the provider key is handed to the agent, but through
// the env file like every secret, never in the exec's environment.
func TestExecEnvDirectKeyIsASecret(t *testing.T) {
	ws, _ := config.NewWorkspace(filepath.Join(t.TempDir(), "ws"))
	keyring.MockInit()
	v := vault.New(ws, vault.OSKeyring())
	if err := v.SetEnv("default", "A_KEY", "sk-a-direct-0123456789"); err != nil {
		t.Fatal(err)
	}
	cfg := config.Default()
	cfg.Providers = []config.Provider{{Name: "a", BaseURL: "https://a.example", KeyRef: "A_KEY"}}
	m, err := NewManager(Options{Workspace: ws, Conn: downConn{}, Secrets: v, Config: func() config.Config { return cfg }})
	if err != nil {
		t.Fatal(err)
	}
	s, err := m.execEnv("l1", Meta{ID: "l1", Vault: "default", Provider: "a"}, true)
	if err != nil {
		t.Fatal(err)
	}
	if s.env["ANTHROPIC_API_KEY"] != "sk-a-direct-0123456789" {
		t.Fatalf("env file lacks the direct key: %v", s.env)
	}
	if strings.Contains(strings.Join(s.plain, " "), "sk-a-direct") || !strings.Contains(strings.Join(s.plain, " "), "ANTHROPIC_BASE_URL=https://a.example") {
		t.Fatalf("exec environment = %v", s.plain)
	}
}

// A context remote's token and SSH key stay on the host: a loop of the vault that holds
// them gets every other secret, and a copy of the token under another name is withheld
// too; a loop of another vault is not affected by the remote's names.
func TestExecEnvWithholdsRemoteCredentials(t *testing.T) {
	ws, _ := config.NewWorkspace(filepath.Join(t.TempDir(), "ws"))
	keyring.MockInit()
	v := vault.New(ws, vault.OSKeyring())
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(v.SetEnv("default", "KNOWLEDGE_TOKEN", "ghp_remote_0123456789"))
	must(v.SetEnv("default", "TOKEN_COPY", "ghp_remote_0123456789\n"))
	must(v.SetEnv("default", "OTHER", "other-value-0123"))
	must(v.SetFile("default", ".ssh/knowledge_key", 0o600, []byte("KEYBODY-remote-0123456789\n")))
	must(v.SetFile("default", ".ssh/id_other", 0o600, []byte("KEYBODY-other")))
	must(v.SetEnv("team", "KNOWLEDGE_TOKEN", "ghp_team_0123456789"))
	creds := []vault.HostCredential{{Vault: "", Env: "KNOWLEDGE_TOKEN", File: ".ssh/knowledge_key"}}
	failing := false
	m, err := NewManager(Options{Workspace: ws, Conn: downConn{}, Secrets: v, Gateway: &placeholderGateway{ph: map[string]string{}},
		HostCredentials: func() ([]vault.HostCredential, error) {
			if failing {
				return nil, errors.New("remotes.json: bad json")
			}
			return creds, nil
		}})
	if err != nil {
		t.Fatal(err)
	}
	s, err := m.execEnv("l1", Meta{ID: "l1", Vault: "default"}, false)
	if err != nil {
		t.Fatal(err)
	}
	if want := map[string]string{"OTHER": "other-value-0123"}; !reflect.DeepEqual(s.env, want) {
		t.Fatalf("env = %v, want %v", s.env, want)
	}
	if len(s.files) != 1 || s.files[0].Path != ".ssh/id_other" {
		t.Fatalf("files = %+v, want only .ssh/id_other", s.files)
	}
	s, err = m.execEnv("l2", Meta{ID: "l2", Vault: "team"}, false)
	if err != nil || s.env["KNOWLEDGE_TOKEN"] != "ghp_team_0123456789" {
		t.Fatalf("a loop of another vault: %v %v", s.env, err)
	}
	// When the remotes cannot be read, nothing is delivered (fail closed).
	failing = true
	var p *envProblem
	if _, err := m.execEnv("l1", Meta{ID: "l1", Vault: "default"}, false); !errors.As(err, &p) || !strings.Contains(p.msg, "context remotes") {
		t.Fatalf("unreadable remotes: %v", err)
	}
}

// Status details published to the UI are masked like the transcript: an agent's crash
// output or a model API retry message may quote a secret.
func TestStatusDetailIsScrubbed(t *testing.T) {
	ws, _ := config.NewWorkspace(filepath.Join(t.TempDir(), "ws"))
	scrub := secrets.New()
	scrub.Add("ghp_status_0123456789")
	bus := events.New()
	m, err := NewManager(Options{Workspace: ws, Conn: downConn{}, Scrub: scrub, Events: bus})
	if err != nil {
		t.Fatal(err)
	}
	meta, err := m.Create(CreateRequest{Title: "status"})
	if err != nil {
		t.Fatal(err)
	}
	statuses, cancel := bus.Subscribe(16, func(s string) bool { return strings.HasSuffix(s, ":status") })
	defer cancel()
	r := m.runFor(meta.ID)
	r.mu.Lock()
	r.busy, r.idle = true, make(chan struct{})
	r.mu.Unlock()
	retry := `{"type":"system","subtype":"api_retry","attempt":1,"max_retries":3,"error_status":401,"error":"bad key ghp_status_0123456789"}`
	l, err := agentpkg.ParseLine([]byte(retry), "")
	if err != nil {
		t.Fatal(err)
	}
	m.onLine(meta.ID, r, l)
	m.onExit(meta.ID, r, nil, agentpkg.Exit{Code: 1, StderrTail: "fatal: token ghp_status_0123456789 rejected"})
	var details []string
	for len(statuses) > 0 {
		ev := <-statuses
		details = append(details, ev.Data.(map[string]string)["detail"])
	}
	if len(details) != 2 {
		t.Fatalf("status events: %q", details)
	}
	for _, d := range details {
		if strings.Contains(d, "ghp_status") || !strings.Contains(d, "***") {
			t.Fatalf("status detail not masked: %q", d)
		}
	}
}

func TestSecretFragments(t *testing.T) {
	key := "-----BEGIN KEY-----\nAAAABBBBCCCCDDDDEEEE\nshort\n-----END KEY-----\n"
	got := secretFragments([]byte(key))
	want := []string{key, "AAAABBBBCCCCDDDDEEEE"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("fragments = %q, want %q", got, want)
	}
}

// The wrapper gives the command the env file's variables (exactly, whatever they hold)
// and runs it as is when no file was delivered.
func TestEnvWrapperLoadsTheEnvFile(t *testing.T) {
	script, err := vault.EnvScript(map[string]string{"MY_TOKEN": "v'a\"l $(x)\nue"})
	if err != nil {
		t.Fatal(err)
	}
	f := filepath.Join(t.TempDir(), vault.EnvFile)
	if err := os.WriteFile(f, script, 0o600); err != nil {
		t.Fatal(err)
	}
	run := func(path string) string {
		args := withSecretEnv([]string{"printenv", "MY_TOKEN"})
		args[3] = path // the wrapper's $0: the env file (SecretsDir does not exist on the host)
		out, _ := exec.Command(args[0], args[1:]...).Output()
		return string(out)
	}
	if got := run(f); got != "v'a\"l $(x)\nue\n" {
		t.Fatalf("wrapped command saw MY_TOKEN=%q", got)
	}
	if got := run(f + ".absent"); got != "" {
		t.Fatalf("without an env file: %q", got)
	}
}

// A result line the agent prints with no turn running (the agent is hostile process
// output), or a second end of the same turn, must not panic or start anything.
func TestStrayResultOutsideATurnIsIgnored(t *testing.T) {
	ws, err := config.NewWorkspace(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if err := ws.Ensure(); err != nil {
		t.Fatal(err)
	}
	m, err := NewManager(Options{Workspace: ws, Conn: downConn{}, Scrub: secrets.New(), Events: events.New()})
	if err != nil {
		t.Fatal(err)
	}
	meta, err := m.Create(CreateRequest{Title: "stray"})
	if err != nil {
		t.Fatal(err)
	}
	r := m.runFor(meta.ID)
	result := `{"type":"result","subtype":"success","is_error":false,"result":"x","session_id":"s"}`
	for i := 0; i < 3; i++ {
		l, err := agentpkg.ParseLine([]byte(result), "")
		if err != nil {
			t.Fatal(err)
		}
		m.onLine(meta.ID, r, l) // no turn: ignored
	}
	r.mu.Lock()
	r.busy, r.idle = true, make(chan struct{})
	r.mu.Unlock()
	m.endTurn(meta.ID, r, false)
	m.endTurn(meta.ID, r, false) // a second end of the same turn is a no-op
	r.mu.Lock()
	busy := r.busy
	r.mu.Unlock()
	if busy {
		t.Fatal("turn still busy after endTurn")
	}
}
