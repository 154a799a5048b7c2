package loops

import (
	"errors"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/zalando/go-keyring"

	"github.com/loopat/desktop/backend/config"
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

	agentModel, agentSecrets, err := m.execEnv(meta.ID, meta, true)
	if err != nil {
		t.Fatal(err)
	}
	termModel, termSecrets, err := m.execEnv(meta.ID, meta, false)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"GH_TOKEN=ghp_0123456789"}; !reflect.DeepEqual(agentSecrets, want) || !reflect.DeepEqual(termSecrets, want) {
		t.Fatalf("secrets: agent %v, terminal %v, want %v (no provider key, not even provider b's)", agentSecrets, termSecrets, want)
	}
	if !reflect.DeepEqual(agentModel, termModel) {
		t.Fatalf("terminal model env %v differs from the agent's %v (same placeholder expected)", termModel, agentModel)
	}
	joined := strings.Join(termModel, " ")
	if !strings.Contains(joined, "ANTHROPIC_BASE_URL=http://127.0.0.1:4141") || !strings.Contains(joined, "ANTHROPIC_API_KEY="+gateway.PlaceholderPrefix) {
		t.Fatalf("terminal model env = %v", termModel)
	}
	if got := scrub.String("GH_TOKEN is ghp_0123456789"); strings.Contains(got, "ghp_0123456789") {
		t.Fatalf("env secret not registered with the scrubber: %q", got)
	}

	// A loop whose provider has no key: the agent refuses with a hint, a terminal
	// still opens with the other secrets and no model route.
	cfg.Providers = append(cfg.Providers, config.Provider{Name: "c", BaseURL: "https://c.example", KeyRef: "C_KEY"})
	meta.Provider = "c"
	var p *envProblem
	if _, _, err := m.execEnv(meta.ID, meta, true); !errors.As(err, &p) || !strings.Contains(p.msg, "No API key") || p.hint == "" {
		t.Fatalf("agent without a key: %v", err)
	}
	termModel, termSecrets, err = m.execEnv(meta.ID, meta, false)
	if err != nil || len(termModel) != 0 || !reflect.DeepEqual(termSecrets, []string{"GH_TOKEN=ghp_0123456789"}) {
		t.Fatalf("terminal without a key: model %v secrets %v err %v", termModel, termSecrets, err)
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
