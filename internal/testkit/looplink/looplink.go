// Package looplink gives loop integration tests the model route the app wires in
// backend/core, with the app's own parts: every loop container runs the loopat-host
// relay over a host link (hostexec.Links, a podman exec), the agent calls its model at
// Addr inside the sandbox, and gateway.Router forwards each of those connections to the
// loop's provider with the real key (the agent only holds a placeholder). The provider
// (a mock API) can then listen on host loopback, which works rootful and rootless alike:
// the sandbox never gets a network route to it.
package looplink

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/loopat/desktop/backend/config"
	"github.com/loopat/desktop/backend/events"
	"github.com/loopat/desktop/backend/gateway"
	"github.com/loopat/desktop/backend/hostexec"
)

// Addr is where the agent finds its model inside the sandbox (core.GatewayAddr).
const Addr = gateway.SandboxAddr

// ForwarderTarget is where the loopat-host binary must be mounted in the loop image.
const ForwarderTarget = "/usr/local/bin/loopat-host"

// Link is the host side of every loop's link in one test workspace.
type Link struct {
	// Forwarder is the loopat-host binary built for this test: mount it read-only at
	// ForwarderTarget in each loop container.
	Forwarder string

	router *gateway.Router
	links  *hostexec.Links
}

// New builds the forwarder and serves the model gateway until the test ends. Host exec
// stays off (no policy); the links carry the gateway only.
func New(t testing.TB, ws config.Workspace) *Link {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	log := slog.Default().With("component", "test-gateway")
	hx := hostexec.NewServer(ws, events.New())
	router := gateway.NewRouter(log)
	hx.HandleGateway(Addr, router)
	l := &Link{Forwarder: buildForwarder(t), router: router,
		links: hostexec.NewLinks(ctx, hostexec.LinksOptions{Server: hx, Log: log})}
	t.Cleanup(func() {
		cancel()
		_ = router.Shutdown()
	})
	return l
}

// Route points loopID's model traffic at baseURL with key and returns what the agent
// gets instead: the in-sandbox gateway URL and the loop's placeholder key.
func (l *Link) Route(loopID, baseURL, key string) (agentURL, placeholder string, err error) {
	return l.router.Route(loopID, baseURL, key)
}

// Forget drops a deleted loop's route.
func (l *Link) Forget(loopID string) { l.router.Forget(loopID) }

// Attach links loopID's container unless its live link already serves that container
// (the loops.Options.AfterContainerStart hook, as in core).
func (l *Link) Attach(ctx context.Context, conn context.Context, loopID, container string) error {
	return l.links.Attach(ctx, conn, loopID, container)
}

// buildForwarder builds the static loopat-host binary into a temp dir the sandbox
// user can read (the bind mount keeps the file's mode).
func buildForwarder(t testing.TB) string {
	t.Helper()
	dir := t.TempDir()
	bin := filepath.Join(dir, "loopat-host")
	cmd := exec.Command("go", "build", "-o", bin, "github.com/loopat/desktop/cmd/loopat-host")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build loopat-host: %v\n%s", err, out)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(errors.Join(errors.New("forwarder dir"), err))
	}
	return bin
}
