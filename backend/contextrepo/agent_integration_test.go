//go:build integration

package contextrepo

import (
	"context"
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
	"github.com/loopat/desktop/backend/loops"
	"github.com/loopat/desktop/backend/loops/testimage"
	"github.com/loopat/desktop/backend/vault"
	"github.com/loopat/desktop/internal/testkit"
	"github.com/loopat/desktop/internal/testkit/looplink"
	"github.com/loopat/desktop/internal/testkit/mockapi"
)

type podmanConn struct{ ctx context.Context }

// linkGateway is loops.Gateway over the test's host link: the agent reaches the mock
// API (on host loopback) the way the app's agents reach their provider.
type linkGateway struct{ l *looplink.Link }

func (g linkGateway) Route(loopID string, p config.Provider, key string) (loops.ModelRoute, error) {
	u, ph, err := g.l.Route(loopID, p.BaseURL, key)
	return loops.ModelRoute{BaseURL: u, APIKey: ph}, err
}

func (g linkGateway) Forget(loopID string) { g.l.Forget(loopID) }

func (p podmanConn) Conn(context.Context) (context.Context, error) { return p.ctx, nil }

// The agent itself (the real claude CLI against the mock Messages API) writes a team
// memory note in its loop; promote takes it to the origin; the agent of a second loop
// reads it. The loops manager gets the context mounts as extra mounts, the way it will
// once it calls PrepareLoop itself.
func TestAgentNotePromotedToNextLoop(t *testing.T) {
	uri := testkit.StartPodmanService(t)
	conn := testkit.Connect(t, uri)
	if err := testimage.Ensure(); err != nil {
		t.Fatal(err)
	}
	claude := testkit.ClaudeBinary(t)
	ws, err := config.NewWorkspace(filepath.Join(t.TempDir(), testkit.UniqueName("ctx")))
	if err != nil {
		t.Fatal(err)
	}
	if err := ws.Ensure(); err != nil {
		t.Fatal(err)
	}
	keyring.MockInit()
	v := vault.New(ws, vault.OSKeyring())
	if err := v.SetEnv("default", "MOCK_KEY", "sk-test-not-secret"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		list, _ := containers.List(conn, new(containers.ListOptions).WithAll(true).
			WithFilters(map[string][]string{"label": {config.LabelKey + "=" + ws.Label()}}))
		for _, c := range list {
			_, _ = containers.Remove(conn, c.ID, new(containers.RemoveOptions).WithForce(true).WithTimeout(0))
		}
		_, _ = network.Remove(conn, "loopat-"+ws.Name, new(network.RemoveOptions).WithForce(true))
	})

	link := looplink.New(t, ws)
	var mu sync.Mutex
	mockURL := "http://127.0.0.1:9"
	cfg := func() config.Config {
		c := config.Default()
		c.Agent.DefaultProvider, c.Agent.DefaultModel = "mock", "claude-sonnet-4-5"
		mu.Lock()
		c.Providers = []config.Provider{{Name: "mock", BaseURL: mockURL, Models: []string{"claude-sonnet-4-5"}, KeyRef: "MOCK_KEY"}}
		mu.Unlock()
		return c
	}
	cs := New(Options{Workspace: ws, Secrets: v})
	ctx := context.Background()
	manager := func(extra []Mount) *loops.Manager {
		t.Helper()
		ms := []loops.Mount{{Source: claude, Target: testimage.ClaudePath, ReadOnly: true},
			{Source: link.Forwarder, Target: looplink.ForwarderTarget, ReadOnly: true}}
		for _, m := range extra {
			ms = append(ms, loops.Mount(m))
		}
		m, err := loops.NewManager(loops.Options{
			Workspace: ws, Config: cfg, Conn: podmanConn{conn}, Secrets: v, Events: events.New(), ExtraMounts: ms,
			Gateway: linkGateway{link}, AfterContainerStart: link.Attach,
			Images: loops.ImageFunc(func(ctx, conn context.Context, _ loops.Meta) (string, string, error) { return testimage.Ref, "", nil }),
		})
		if err != nil {
			t.Fatal(err)
		}
		if err := m.Start(ctx); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(m.Close)
		return m
	}
	// newLoop creates a loop, prepares its context and returns a manager serving those mounts.
	newLoop := func(title string) (*loops.Manager, string) {
		t.Helper()
		meta, err := manager(nil).Create(loops.CreateRequest{Title: title})
		if err != nil {
			t.Fatal(err)
		}
		mounts, err := cs.PrepareLoop(ctx, meta.ID, false)
		if err != nil {
			t.Fatal(err)
		}
		m := manager(mounts)
		if err := m.EnsureContainer(ctx, meta.ID); err != nil {
			t.Fatalf("ensure container: %v", err)
		}
		return m, meta.ID
	}
	turn := func(m *loops.Manager, id, text string) string {
		t.Helper()
		if _, err := m.Send(id, text); err != nil {
			t.Fatal(err)
		}
		wctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
		defer cancel()
		if err := m.Wait(wctx, id); err != nil {
			t.Fatalf("turn: %v", err)
		}
		raw, err := m.Messages(id)
		if err != nil {
			t.Fatal(err)
		}
		var b strings.Builder
		for _, l := range raw {
			b.Write(l)
			b.WriteByte('\n')
		}
		return b.String()
	}

	m1, id1 := newLoop("learn")
	// The mock listens on host loopback: the agent reaches it only through its link.
	srv := mockapi.New(mockapi.Options{})
	if err := srv.Listen("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	mu.Lock()
	mockURL = srv.URL()
	mu.Unlock()

	turn(m1, id1, "[[tool:bash echo 'the release needs two approvals' > /loopat/context/notes/memory/release.md]]")
	if got := readFile(t, filepath.Join(cs.LoopDir(id1, Notes), "memory", "release.md")); got != "the release needs two approvals\n" {
		t.Fatalf("agent's note on the host: %q", got)
	}
	res, err := cs.Promote(ctx, id1)
	if err != nil || status(t, res, Notes).Status != Promoted {
		t.Fatalf("promote: %+v %v", res, err)
	}

	m2, id2 := newLoop("use")
	out := turn(m2, id2, "[[tool:bash cat /loopat/context/notes/memory/release.md]]")
	if !strings.Contains(out, "two approvals") {
		t.Fatalf("second loop's agent did not see the promoted note:\n%s", out)
	}
}
