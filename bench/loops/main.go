//go:build bench

// Command loops benchmarks loop start and turn latency against the plain podman CLI and a
// one-shot claude run. Needs root podman, the local base image and the claude CLI
// (scripts/test/claude-cli.sh):
//
//	go run -tags bench,remote,containers_image_openpgp ./bench/loops [-n 5]
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/containers/podman/v5/pkg/bindings"
	"github.com/containers/podman/v5/pkg/bindings/containers"
	"github.com/containers/podman/v5/pkg/bindings/network"
	"github.com/zalando/go-keyring"

	"github.com/loopat/desktop/backend/agent"
	"github.com/loopat/desktop/backend/config"
	"github.com/loopat/desktop/backend/loops"
	"github.com/loopat/desktop/backend/loops/testimage"
	"github.com/loopat/desktop/backend/vault"
	"github.com/loopat/desktop/internal/testkit/mockapi"
)

type staticConn struct{ ctx context.Context }

func (s staticConn) Conn(context.Context) (context.Context, error) { return s.ctx, nil }

func main() {
	n := flag.Int("n", 5, "runs per measurement (median reported)")
	flag.Parse()
	slog.SetDefault(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})))
	if err := run(*n); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func median(ds []time.Duration) time.Duration {
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[len(s)/2]
}

func claudeBinary() (string, error) {
	if p := os.Getenv("LOOPAT_TEST_CLAUDE_BIN"); p != "" {
		return filepath.Abs(p)
	}
	p, err := filepath.Abs(".cache/claude-code/node_modules/@anthropic-ai/claude-code-linux-x64/claude")
	if err != nil {
		return "", err
	}
	if _, err := os.Stat(p); err != nil {
		return "", fmt.Errorf("claude CLI not found (run scripts/test/claude-cli.sh from the repo root): %w", err)
	}
	return p, nil
}

func startService() (string, func(), error) {
	dir, err := os.MkdirTemp("", "loopat-bench-")
	if err != nil {
		return "", nil, err
	}
	uri := "unix://" + filepath.Join(dir, "podman.sock")
	cmd := exec.Command("podman", "system", "service", "--time=0", uri)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return "", nil, fmt.Errorf("start podman service: %w", err)
	}
	stop := func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
		_, _ = cmd.Process.Wait()
		os.RemoveAll(dir)
	}
	for i := 0; i < 300; i++ {
		if c, err := net.Dial("unix", filepath.Join(dir, "podman.sock")); err == nil {
			c.Close()
			return uri, stop, nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	stop()
	return "", nil, fmt.Errorf("podman service did not come up")
}

func run(n int) error {
	claude, err := claudeBinary()
	if err != nil {
		return err
	}
	if err := testimage.Ensure(); err != nil {
		return err
	}
	uri, stop, err := startService()
	if err != nil {
		return err
	}
	defer stop()
	ctx := context.Background()
	conn, err := bindings.NewConnection(ctx, uri)
	if err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	home, err := os.MkdirTemp("", "loopat-bench-home-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(home)
	ws, err := config.NewWorkspace(filepath.Join(home, fmt.Sprintf("bench%d", os.Getpid())))
	if err != nil {
		return err
	}
	if err := ws.Ensure(); err != nil {
		return err
	}
	keyring.MockInit()
	v := vault.New(ws, vault.OSKeyring())
	if err := v.SetEnv("default", "MOCK_KEY", "sk-bench"); err != nil {
		return err
	}
	var mockURL string
	cfg := func() config.Config {
		c := config.Default()
		c.Agent.DefaultProvider, c.Agent.DefaultModel = "mock", "claude-sonnet-4-5"
		c.Providers = []config.Provider{{Name: "mock", BaseURL: mockURL, Models: []string{"claude-sonnet-4-5"}, KeyRef: "MOCK_KEY"}}
		return c
	}
	m, err := loops.NewManager(loops.Options{
		Workspace: ws, Config: cfg, Conn: staticConn{conn}, Secrets: v,
		Images:      loops.ImageFunc(func(ctx, conn context.Context, _ loops.Meta) (string, string, error) { return testimage.Ref, "", nil }),
		ExtraMounts: []loops.Mount{{Source: claude, Target: testimage.ClaudePath, ReadOnly: true}},
	})
	if err != nil {
		return err
	}
	defer m.Close()
	defer func() {
		list, _ := containers.List(conn, new(containers.ListOptions).WithAll(true).
			WithFilters(map[string][]string{"label": {config.LabelKey + "=" + ws.Label()}}))
		for _, c := range list {
			_, _ = containers.Remove(conn, c.ID, new(containers.RemoveOptions).WithForce(true).WithTimeout(0))
		}
		_, _ = network.Remove(conn, m.Sandbox().NetworkName(), new(network.RemoveOptions).WithForce(true))
	}()
	if err := m.Sandbox().EnsureNetwork(ctx); err != nil {
		return err
	}

	// 1. Warm loop start: create + container start + first exec, image present.
	var ours, cli []time.Duration
	for i := 0; i < n+1; i++ { // the first run warms caches and is dropped
		t0 := time.Now()
		meta, err := m.Create(loops.CreateRequest{Title: fmt.Sprintf("bench %d", i)})
		if err != nil {
			return err
		}
		if err := m.EnsureContainer(ctx, meta.ID); err != nil {
			return err
		}
		p, err := m.Sandbox().Exec(ctx, meta.ID, agent.Command{Args: []string{"true"}, User: loops.SandboxUser, NoStdin: true}, false, 0, 0)
		if err != nil {
			return err
		}
		p.Stdin().Close()
		if code, err := p.Wait(); err != nil || code != 0 {
			return fmt.Errorf("first exec: code %d %v", code, err)
		}
		d := time.Since(t0)
		name := fmt.Sprintf("loopat-bench-cli-%d-%d", os.Getpid(), i)
		t1 := time.Now()
		if out, err := exec.Command("podman", "run", "-d", "--init", "--name", name, "--network", m.Sandbox().NetworkName(),
			"--user", loops.SandboxUser, testimage.Ref, "sleep", "infinity").CombinedOutput(); err != nil {
			return fmt.Errorf("podman run: %v %s", err, out)
		}
		if out, err := exec.Command("podman", "exec", name, "true").CombinedOutput(); err != nil {
			return fmt.Errorf("podman exec: %v %s", err, out)
		}
		dc := time.Since(t1)
		_ = exec.Command("podman", "rm", "-f", "-t", "0", name).Run()
		if i > 0 {
			ours, cli = append(ours, d), append(cli, dc)
		}
		_ = m.Delete(meta.ID)
	}

	// 2. Second turn in the long-lived process vs a one-shot `claude -p` of the same prompt.
	meta, err := m.Create(loops.CreateRequest{Title: "bench turns"})
	if err != nil {
		return err
	}
	if err := m.EnsureContainer(ctx, meta.ID); err != nil {
		return err
	}
	rep, err := network.Inspect(conn, m.Sandbox().NetworkName(), nil)
	if err != nil {
		return err
	}
	gw := ""
	for _, s := range rep.Subnets {
		if s.Gateway != nil && s.Gateway.To4() != nil {
			gw = s.Gateway.String()
		}
	}
	mock := mockapi.New(mockapi.Options{})
	if err := mock.Listen(gw + ":0"); err != nil {
		return err
	}
	defer mock.Close()
	mockURL = mock.URL()
	turn := func(text string) (time.Duration, error) {
		t0 := time.Now()
		if _, err := m.Send(meta.ID, text); err != nil {
			return 0, err
		}
		wctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
		defer cancel()
		if err := m.Wait(wctx, meta.ID); err != nil {
			return 0, err
		}
		if got, _ := m.Get(meta.ID); got.Status != loops.StatusIdle {
			return 0, fmt.Errorf("turn ended in status %s", got.Status)
		}
		return time.Since(t0), nil
	}
	first, err := turn("hello")
	if err != nil {
		return err
	}
	var later, oneshot []time.Duration
	for i := 0; i < n; i++ {
		d, err := turn("hello again")
		if err != nil {
			return err
		}
		later = append(later, d)
		t0 := time.Now()
		p, err := m.Sandbox().Exec(ctx, meta.ID, agent.Command{
			Args: []string{"claude", "-p", "--model", "claude-sonnet-4-5", "hello again"}, User: loops.SandboxUser, WorkDir: "/tmp", NoStdin: true,
			Env: []string{"HOME=/tmp/oneshot-home", "ANTHROPIC_BASE_URL=" + mockURL, "ANTHROPIC_API_KEY=sk-bench", "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1"},
		}, false, 0, 0)
		if err != nil {
			return err
		}
		p.Stdin().Close()
		var out strings.Builder
		buf := make([]byte, 4096)
		for {
			k, rerr := p.Stdout().Read(buf)
			out.Write(buf[:k])
			if rerr != nil {
				break
			}
		}
		if code, err := p.Wait(); err != nil || code != 0 || !strings.Contains(out.String(), "echo: hello again") {
			return fmt.Errorf("one-shot claude: code %d %v %q", code, err, out.String())
		}
		oneshot = append(oneshot, time.Since(t0))
	}

	host, _ := os.Hostname()
	fmt.Printf("loops benchmark (median of %d, host %s, %d CPUs, podman service via bindings vs podman CLI)\n", n, host, numCPU())
	fmt.Printf("%-44s %10s %10s %8s %6s\n", "measure", "loopat", "baseline", "ratio", "goal")
	row := func(name string, a, b time.Duration, goal string) {
		fmt.Printf("%-44s %10s %10s %7.2fx %6s\n", name, a.Round(time.Millisecond), b.Round(time.Millisecond), float64(a)/float64(b), goal)
	}
	row("warm loop start vs podman run -d + exec true", median(ours), median(cli), "<=0.8x")
	row("later turn (long-lived) vs one-shot claude -p", median(later), median(oneshot), "<=0.1x")
	fmt.Printf("first turn (agent process start + reply): %s\n", first.Round(time.Millisecond))
	return nil
}

func numCPU() int {
	data, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return 0
	}
	return strings.Count(string(data), "processor\t:")
}
