//go:build integration

package doctor

import (
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/loopat/desktop/backend/config"
	"github.com/loopat/desktop/backend/engine"
	"github.com/loopat/desktop/backend/images"
)

// Real podman (the engine starts its own service), the real image builder with the sandbox
// image that test setup built (scripts/test/build-sandbox.sh), the real Secret Service
// (scripts/test/with-keyring.sh) and real git.
func TestIntegrationDoctorAllGreen(t *testing.T) {
	if os.Getenv("DBUS_SESSION_BUS_ADDRESS") == "" {
		t.Fatal("no D-Bus session: run integration tests under scripts/test/with-keyring.sh (make test-integration)")
	}
	home, err := os.MkdirTemp("", "doc")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(home) })
	ws, err := config.NewWorkspace(filepath.Join(home, ".loopat"))
	if err != nil {
		t.Fatal(err)
	}
	if err := ws.Ensure(); err != nil {
		t.Fatal(err)
	}
	cfg, cfgErr := config.Load(ws.ConfigPath())
	if cfgErr != nil {
		t.Fatal(cfgErr)
	}
	// Same CA setting as test setup, so the content-hash tag matches the built image.
	if entries, _ := os.ReadDir("/usr/local/share/ca-certificates"); len(entries) > 0 {
		cfg.Sandbox.ExtraCACerts = []string{"/usr/local/share/ca-certificates"}
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	eng := engine.NewWithOptions(ws, cfg, nil, log, engine.Options{Getenv: func(string) string { return "" }, RootfulSocket: "/nonexistent/podman.sock"})
	eng.Start(context.Background())
	t.Cleanup(func() { eng.Close() })

	start := time.Now()
	rs := Run(context.Background(), Deps{Workspace: ws, Config: cfg, ConfigErr: cfgErr, Engine: eng,
		Images: images.NewBuilder(ws, cfg.Sandbox, nil, log)})
	took := time.Since(start)
	for _, r := range rs {
		t.Logf("%-13s ok=%-5v %s %s", r.ID, r.OK, r.Label, r.Hint)
		if !r.OK {
			t.Errorf("%s failed: %s (hint: %s)", r.ID, r.Label, r.Hint)
		}
	}
	m := byID(rs)
	if !strings.Contains(m[IDEngine].Label, engine.SourceOwnService) || !strings.Contains(m[IDClaude].Label, "Claude Code") {
		t.Errorf("labels: engine %q, claude %q", m[IDEngine].Label, m[IDClaude].Label)
	}
	// No speed budget here: a functional test under a loaded CI run is no place to judge one.
	t.Logf("MEASURED doctor cold (engine starting its own service): %s", took.Round(time.Millisecond))
	start = time.Now()
	Run(context.Background(), Deps{Workspace: ws, Config: cfg, Engine: eng, Images: images.NewBuilder(ws, cfg.Sandbox, nil, log)})
	t.Logf("MEASURED doctor warm: %s", time.Since(start).Round(time.Millisecond))
}
