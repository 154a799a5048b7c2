//go:build integration

package loops

import (
	"context"
	"fmt"

	"encoding/json"
	agentpkg "github.com/loopat/desktop/backend/agent"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/containers/podman/v5/pkg/bindings/containers"
	"github.com/containers/podman/v5/pkg/bindings/network"
	"github.com/zalando/go-keyring"

	"github.com/loopat/desktop/backend/config"
	"github.com/loopat/desktop/backend/events"
	"github.com/loopat/desktop/backend/loops/testimage"
	"github.com/loopat/desktop/backend/vault"
	"github.com/loopat/desktop/internal/testkit"
	"github.com/loopat/desktop/internal/testkit/looplink"
	"github.com/loopat/desktop/internal/testkit/mockapi"
)

const testImage = testimage.Ref

type staticConn struct{ ctx context.Context }

func (s staticConn) Conn(context.Context) (context.Context, error) { return s.ctx, nil }

// harness is a workspace with a real podman service, real vault (in-memory keyring
// backend) and the mock Messages API on host loopback, reached as in the app: through
// the loop's host link and the model gateway (looplink), never a network route.
type harness struct {
	t      *testing.T
	ws     config.Workspace
	conn   context.Context
	bus    *events.Bus
	vault  *vault.Vault
	claude string
	mu     sync.Mutex
	cfg    config.Config
	mock   *mockapi.Server
	link   *looplink.Link
}

// linkGateway is loops.Gateway over the test's host link.
type linkGateway struct{ l *looplink.Link }

func (g linkGateway) Route(loopID string, p config.Provider, key string) (ModelRoute, error) {
	u, ph, err := g.l.Route(loopID, p.BaseURL, key)
	return ModelRoute{BaseURL: u, APIKey: ph}, err
}

func (g linkGateway) Forget(loopID string) { g.l.Forget(loopID) }

func newHarness(t *testing.T) *harness {
	t.Helper()
	uri := testkit.StartPodmanService(t)
	conn := testkit.Connect(t, uri)
	ensureTestImage(t)
	home := filepath.Join(t.TempDir(), testkit.UniqueName("lt"))
	ws, err := config.NewWorkspace(home)
	if err != nil {
		t.Fatal(err)
	}
	if err := ws.Ensure(); err != nil {
		t.Fatal(err)
	}
	keyring.MockInit()
	v := vault.New(ws, vault.OSKeyring())
	if err := v.SetEnv("default", "MOCK_KEY", "sk-test-not-secret"); err != nil {
		t.Fatalf("vault: %v", err)
	}
	h := &harness{t: t, ws: ws, conn: conn, bus: events.New(), vault: v, claude: testkit.ClaudeBinary(t), cfg: config.Default(),
		link: looplink.New(t, ws)}
	h.cfg.Agent.DefaultProvider = "mock"
	h.cfg.Agent.DefaultModel = "claude-sonnet-4-5"
	h.cfg.Loops.Warm = false // these tests drive one loop each; the warm loop is tested through core.Open (core/warm_integration_test.go)
	t.Cleanup(func() { h.cleanupPodman() })
	return h
}

func (h *harness) config() config.Config {
	h.mu.Lock()
	defer h.mu.Unlock()
	c := h.cfg
	base := "http://127.0.0.1:9" // nothing listens: only used before the mock is up
	if h.mock != nil {
		base = h.mock.URL()
	}
	c.Providers = []config.Provider{{Name: "mock", BaseURL: base, Models: []string{"claude-sonnet-4-5"}, KeyRef: "MOCK_KEY"}}
	return c
}

// options wires a manager as the app does: test image, the CLI mounted, and the model
// reached over the loop's host link (gateway, relay, forwarder mounted).
func (h *harness) options(extra ...Mount) Options {
	return Options{
		Workspace: h.ws, Config: h.config, Conn: staticConn{h.conn}, Secrets: h.vault, Events: h.bus,
		Images: ImageFunc(func(ctx, conn context.Context, _ Meta) (string, string, error) { return testImage, "", nil }),
		ExtraMounts: append([]Mount{{Source: h.claude, Target: testimage.ClaudePath, ReadOnly: true},
			{Source: h.link.Forwarder, Target: looplink.ForwarderTarget, ReadOnly: true}}, extra...),
		Gateway: linkGateway{h.link}, AfterContainerStart: h.link.Attach,
	}
}

func (h *harness) manager() *Manager {
	h.t.Helper()
	o := h.options()
	o.PartialMessages, o.InterruptGrace = true, 10*time.Second
	m, err := NewManager(o)
	if err != nil {
		h.t.Fatal(err)
	}
	if err := m.Start(context.Background()); err != nil {
		h.t.Fatal(err)
	}
	h.t.Cleanup(m.Close)
	return m
}

// startMock brings the loop's container up (and so its host link) and serves the mock
// API on host loopback: the agent reaches it only through the link's gateway.
func (h *harness) startMock(m *Manager, loopID string) *mockapi.Server {
	h.t.Helper()
	if err := m.EnsureContainer(context.Background(), loopID); err != nil {
		h.t.Fatalf("ensure container: %v", err)
	}
	srv := mockapi.New(mockapi.Options{Scenarios: map[string]mockapi.Scenario{
		// CLI 2.1.328 refuses a standalone "sleep 60" (the built-in [[slow-tool]]), so run it in sh.
		"long-tool": func(c mockapi.Conversation) mockapi.Reply {
			if c.Step == 0 {
				return mockapi.Reply{Content: []mockapi.Block{mockapi.ToolUse("Bash", map[string]any{"command": "sh -c 'sleep 60' && echo finished"})}}
			}
			return mockapi.Reply{Content: []mockapi.Block{mockapi.Text("long tool done")}}
		},
	}})
	if err := srv.Listen("127.0.0.1:0"); err != nil {
		h.t.Fatal(err)
	}
	h.t.Cleanup(func() { srv.Close() })
	h.mu.Lock()
	h.mock = srv
	h.mu.Unlock()
	return srv
}

func (h *harness) cleanupPodman() {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	c, err := testkitConnect(ctx, h)
	if err != nil {
		return
	}
	list, _ := containers.List(c, new(containers.ListOptions).WithAll(true).
		WithFilters(map[string][]string{"label": {config.LabelKey + "=" + h.ws.Label()}}))
	for _, lc := range list {
		_, _ = containers.Remove(c, lc.ID, new(containers.RemoveOptions).WithForce(true).WithTimeout(0))
	}
	_, _ = network.Remove(c, "loopat-"+h.ws.Name, new(network.RemoveOptions).WithForce(true))
}

func testkitConnect(_ context.Context, h *harness) (context.Context, error) { return h.conn, nil }

func ensureTestImage(t *testing.T) {
	t.Helper()
	if err := testimage.Ensure(); err != nil {
		t.Fatal(err)
	}
}

// waitTurn waits for the loop to go idle.
func waitTurn(t *testing.T, m *Manager, id string, d time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	if err := m.Wait(ctx, id); err != nil {
		msgs, _ := m.Messages(id)
		var b strings.Builder
		for _, l := range msgs {
			b.Write(l)
			b.WriteByte('\n')
		}
		t.Fatalf("turn did not end: %v\ntranscript:\n%s", err, b.String())
	}
}

type line struct {
	Type    string `json:"type"`
	Subtype string `json:"subtype"`
	Result  string `json:"result"`
	Message json.RawMessage
	Text    string `json:"text"`
	Hint    string `json:"hint"`
	IsError bool   `json:"is_error"`
}

func transcript(t *testing.T, m *Manager, id string) ([]line, string) {
	t.Helper()
	raw, err := m.Messages(id)
	if err != nil {
		t.Fatal(err)
	}
	var out []line
	var b strings.Builder
	for _, r := range raw {
		var l line
		_ = json.Unmarshal(r, &l)
		l.Text = l.Text + ""
		out = append(out, l)
		b.Write(r)
		b.WriteByte('\n')
	}
	return out, b.String()
}

// lastResult is the text of the last result line.
func lastResult(t *testing.T, m *Manager, id string) (string, string) {
	t.Helper()
	ls, all := transcript(t, m, id)
	for i := len(ls) - 1; i >= 0; i-- {
		if ls[i].Type == "result" {
			return ls[i].Result, all
		}
	}
	return "", all
}

func agentCmd(args ...string) agentCommand {
	return agentCommand{Args: args, User: SandboxUser, WorkDir: SandboxWork, NoStdin: true}
}

func fmtSscan(s string, n *int) (int, error) { return fmt.Sscan(s, n) }

type agentCommand = agentpkg.Command

func jsonUnmarshal(b []byte, v any) { _ = json.Unmarshal(b, v) }
