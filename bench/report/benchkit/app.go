//go:build bench

package benchkit

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/containers/podman/v5/pkg/bindings"
	"github.com/containers/podman/v5/pkg/bindings/containers"
	podmanimages "github.com/containers/podman/v5/pkg/bindings/images"
	"github.com/containers/podman/v5/pkg/bindings/network"

	"github.com/loopat/desktop/backend/core"
	"github.com/loopat/desktop/backend/images"
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

// caFolder is what scripts/test/build-sandbox.sh trusts, so the app's image tag is the
// cached one (as in backend/core's integration fixture).
const caFolder = "/usr/local/share/ca-certificates"

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
	uri, stop, err := StartPodmanService()
	if err != nil {
		return nil, err
	}
	a.URI = uri
	a.stops = append(a.stops, stop)
	if a.Conn, err = bindings.NewConnection(context.Background(), uri); err != nil {
		return nil, fmt.Errorf("connect podman: %w", err)
	}
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
	ca := ""
	if entries, err := os.ReadDir(caFolder); err == nil && len(entries) > 0 {
		ca = fmt.Sprintf("extra_ca_certs = [%q]\n", caFolder)
	}
	cfg := fmt.Sprintf(`[agent]
default_provider = "mock"
default_model = "claude-sonnet-4-5"

[sandbox]
%sidle_minutes = 30

[[providers]]
name = "mock"
base_url = %q
models = ["claude-sonnet-4-5"]
key = "MOCK_KEY"
%s`, ca, a.Mock.URL(), extra)
	if err := os.WriteFile(filepath.Join(a.Home, "config.toml"), []byte(cfg), 0o600); err != nil {
		return nil, err
	}
	os.Setenv("CONTAINER_HOST", uri)
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

func (a *App) removeResources() {
	prefix := a.Core.Workspace.ResourcePrefix()
	list, _ := containers.List(a.Conn, new(containers.ListOptions).WithAll(true))
	for _, c := range list {
		if len(c.Names) > 0 && strings.HasPrefix(c.Names[0], prefix+"-") {
			_, _ = containers.Remove(a.Conn, c.ID, new(containers.RemoveOptions).WithForce(true).WithTimeout(0))
		}
	}
	_, _ = network.Remove(a.Conn, prefix, new(network.RemoveOptions).WithForce(true))
	tag := images.WorkspaceTag(a.Core.Workspace.Label())
	imgs, _ := podmanimages.List(a.Conn, nil)
	for _, im := range imgs {
		for _, name := range im.RepoTags {
			if repo, ok := strings.CutSuffix(name, ":"+tag); ok {
				_ = podmanimages.Untag(a.Conn, im.ID, tag, repo, nil)
			}
		}
	}
}

// StartPodmanService runs a private `podman system service` on a fresh socket.
func StartPodmanService() (string, func(), error) {
	dir, err := os.MkdirTemp("", "loopat-bench-podman-")
	if err != nil {
		return "", nil, err
	}
	sock := filepath.Join(dir, "podman.sock")
	cmd := exec.Command("podman", "system", "service", "--time=0", "unix://"+sock)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		os.RemoveAll(dir)
		return "", nil, fmt.Errorf("start podman service: %w", err)
	}
	stop := func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
		_, _ = cmd.Process.Wait()
		os.RemoveAll(dir)
	}
	for i := 0; i < 300; i++ {
		if c, err := net.Dial("unix", sock); err == nil {
			c.Close()
			return "unix://" + sock, stop, nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	stop()
	return "", nil, fmt.Errorf("podman service did not come up")
}
