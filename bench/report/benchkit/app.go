//go:build bench

package benchkit

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"github.com/loopat/desktop/backend/core"
	"github.com/loopat/desktop/backend/images/podmansvc"
	"github.com/loopat/desktop/internal/testkit/appkit"
	"github.com/loopat/desktop/internal/testkit/mockapi"
)

// keyringEnv marks a process already running under scripts/test/with-keyring.sh.
const keyringEnv = "LOOPAT_BENCH_IN_KEYRING"

// InKeyring re-executes this program under scripts/test/with-keyring.sh (a private
// D-Bus session and Secret Service, thrown away afterwards) unless it already runs there:
// the app's vault then stores the bench's key exactly as it would a user's, and nothing
// touches the keyring of whoever runs the bench. It returns only in the inner process.
func InKeyring() error {
	if os.Getenv(keyringEnv) == "1" {
		return nil
	}
	root, err := RepoRoot()
	if err != nil {
		return err
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	script := filepath.Join(root, "scripts", "test", "with-keyring.sh")
	env := append(os.Environ(), keyringEnv+"=1")
	return syscall.Exec(script, append([]string{script, self}, os.Args[1:]...), env)
}

// App is loopat opened through core.Open on a throwaway LOOPAT_HOME, with a private
// podman service and the mock Messages API on the host's loopback as its provider.
type App struct {
	Core  *core.Core
	Conn  context.Context // bindings connection to the private service
	URI   string
	Mock  *mockapi.Server
	Home  string
	stops []func()
}

// OpenApp starts the service, writes config.toml (extra is appended) and opens the app.
func OpenApp(extra string) (*App, error) {
	a := &App{}
	ok := false
	defer func() {
		if !ok {
			a.Close()
		}
	}()
	svc, err := podmansvc.Start(context.Background())
	if err != nil {
		return nil, err
	}
	a.URI, a.Conn = svc.URI, svc.Conn
	a.stops = append(a.stops, svc.Stop)
	base, err := os.MkdirTemp("", "loopat-bench-")
	if err != nil {
		return nil, err
	}
	a.stops = append(a.stops, func() { os.RemoveAll(base) })
	a.Home = filepath.Join(base, fmt.Sprintf("bench%d", os.Getpid()))
	if err := os.MkdirAll(a.Home, 0o700); err != nil {
		return nil, err
	}
	a.Mock = mockapi.New(mockapi.Options{})
	// The provider is on the host's loopback: only the host-side gateway reaches it.
	if err := a.Mock.Listen("127.0.0.1:0"); err != nil {
		return nil, err
	}
	a.stops = append(a.stops, func() { a.Mock.Close() })
	if err := os.WriteFile(filepath.Join(a.Home, "config.toml"), []byte(appkit.MockConfig(a.Mock.URL(), extra)), 0o600); err != nil {
		return nil, err
	}
	os.Setenv("CONTAINER_HOST", a.URI)
	os.Setenv("LOOPAT_HOME", a.Home)
	c, err := core.Open(context.Background(), core.Options{Stderr: io.Discard})
	if err != nil {
		return nil, fmt.Errorf("core.Open: %w", err)
	}
	a.Core = c
	a.stops = append(a.stops, a.removeResources, c.Close)
	if c.ConfigErr != nil {
		return nil, fmt.Errorf("config: %w", c.ConfigErr)
	}
	c.Start(context.Background())
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := c.Engine.WaitReady(ctx); err != nil {
		return nil, fmt.Errorf("engine: %w", err)
	}
	if err := c.Vault.SetEnv("default", "MOCK_KEY", "sk-bench-not-a-real-key"); err != nil {
		return nil, fmt.Errorf("vault (run under scripts/test/with-keyring.sh): %w", err)
	}
	// A vault secret for the agent's tools, as a user has: loop starts deliver it.
	if err := c.Vault.SetEnv("default", "BENCH_TOKEN", "tok-bench-not-a-real-token"); err != nil {
		return nil, fmt.Errorf("vault: %w", err)
	}
	a.stops = append(a.stops, func() {
		_ = c.Vault.DeleteEnv("default", "MOCK_KEY")
		_ = c.Vault.DeleteEnv("default", "BENCH_TOKEN")
	})
	ok = true
	return a, nil
}

// Close ends the app and removes what it made: containers, network, the workspace's
// image tag (the cached sandbox image stays), the home folder and the podman service.
func (a *App) Close() {
	for i := len(a.stops) - 1; i >= 0; i-- {
		a.stops[i]()
	}
	a.stops = nil
}

func (a *App) removeResources() { appkit.RemoveWorkspace(a.Conn, a.Home) }
