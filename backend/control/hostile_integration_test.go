//go:build integration

package control_test

import (
	"context"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/loopat/desktop/backend/config"
	"github.com/loopat/desktop/backend/control"
	"github.com/loopat/desktop/backend/loops"
	"github.com/loopat/desktop/backend/loops/testimage"
	"github.com/loopat/desktop/backend/rpc"
	"github.com/loopat/desktop/internal/testkit"
)

type staticConn struct{ ctx context.Context }

func (s staticConn) Conn(context.Context) (context.Context, error) { return s.ctx, nil }

// Canary stands in for the app's services: any call that reaches it is a breach.
type Canary struct{ calls atomic.Int32 }

func (c *Canary) Touch() error { c.calls.Add(1); return nil }

// The control socket gives whoever connects full control of the app, so it must live in
// no tree a loop can see or write. From inside a real loop container, as the agent, the
// attacker looks for it everywhere it can reach, tries the host path, and plants a fake
// "run/control.sock" (a symlink to a socket of its own) in its writable workdir; the
// container's mounts must not include the socket's folder, the socket must be
// unreachable, and a fresh CLI client must still reach only the app's real socket.
func TestHostileControlSocketOutOfTheLoopsReach(t *testing.T) {
	uri := testkit.StartPodmanService(t)
	conn := testkit.Connect(t, uri)
	if err := testimage.Ensure(); err != nil {
		t.Fatal(err)
	}
	home, err := os.MkdirTemp("", "hc")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(home) })
	ws, err := config.NewWorkspace(filepath.Join(home, testkit.UniqueName("hc")))
	if err != nil {
		t.Fatal(err)
	}
	if err := ws.Ensure(); err != nil {
		t.Fatal(err)
	}
	sock := control.SocketPath(ws)
	if !strings.HasPrefix(sock, ws.RunDir()+string(filepath.Separator)) {
		t.Fatalf("precondition: socket %s is not in run/ (path too long for this test)", sock)
	}
	canary := &Canary{}
	srv, err := control.Listen(sock, rpc.NewRegistry(canary), slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)

	ctx := context.Background()
	m, err := loops.NewManager(loops.Options{
		Workspace: ws, Conn: staticConn{conn},
		Images: loops.ImageFunc(func(ctx, conn context.Context, _ loops.Meta) (string, string, error) { return testimage.Ref, "", nil }),
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.Close)
	meta, err := m.Create(loops.CreateRequest{Title: "hostile control socket"})
	if err != nil {
		t.Fatal(err)
	}
	container := m.Sandbox().ContainerName(meta.ID)
	t.Cleanup(func() {
		_ = exec.Command("podman", "rm", "-f", "-t", "0", container).Run()
		_ = exec.Command("podman", "network", "rm", "-f", m.Sandbox().NetworkName()).Run()
	})
	startCtx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()
	if err := m.EnsureContainer(startCtx, meta.ID); err != nil {
		t.Fatalf("start the loop container: %v", err)
	}
	agent := func(script string) string {
		t.Helper()
		out, err := exec.Command("podman", "exec", "--user", "2000", "--workdir", loops.SandboxWork, container, "sh", "-c", script).CombinedOutput()
		if err != nil {
			t.Fatalf("agent: %s: %v\n%s", script, err, out)
		}
		return string(out)
	}

	// 1. No mount of the container is the socket's folder or holds it.
	mounts, err := exec.Command("podman", "inspect", "--format", "{{range .Mounts}}{{.Source}}\n{{end}}", container).Output()
	if err != nil {
		t.Fatal(err)
	}
	for _, src := range strings.Fields(string(mounts)) {
		if rel, err := filepath.Rel(src, sock); err == nil && !strings.HasPrefix(rel, "..") {
			t.Errorf("the loop container mounts %s, which holds the control socket %s", src, sock)
		}
	}

	// 2. The agent searches everything it can reach for a socket, and tries the host path.
	found := agent(`find / \( -path /proc -o -path /sys -o -path /dev \) -prune -o -type s -print 2>/dev/null || true`)
	if strings.Contains(found, "control.sock") {
		t.Errorf("the agent sees the control socket:\n%s", found)
	}
	if out := agent(`for p in ` + sock + ` ` + ws.RunDir() + `; do test -e "$p" && echo "reachable: $p"; done; true`); out != "" {
		t.Errorf("the agent reaches the host's socket path:\n%s", out)
	}

	// 3. The agent plants a run/control.sock of its own in its workdir (a socket it serves
	// and a symlink to it); the host's client never looks in a loop's tree.
	agent(`mkdir -p run && perl -e 'use Socket; socket(S, PF_UNIX, SOCK_STREAM, 0) or die "$!"; bind(S, pack_sockaddr_un("run/agent.sock")) or die "$!"; chmod 0600, "run/agent.sock"' && ` +
		`ln -sf agent.sock run/control.sock`)
	// The search really sees sockets the agent can reach (its own), just not the app's.
	if planted := agent(`find / \( -path /proc -o -path /sys -o -path /dev \) -prune -o -type s -print 2>/dev/null || true`); !strings.Contains(planted, "run/agent.sock") {
		t.Fatalf("precondition: the agent's search does not even find its own socket:\n%s", planted)
	}
	c, err := control.Dial(ws)
	if err != nil {
		t.Fatalf("the CLI no longer reaches the app's own socket: %v", err)
	}
	if err := c.Call(ctx, "Canary", "Touch", nil); err != nil {
		t.Fatal(err)
	}
	if got := canary.calls.Load(); got != 1 {
		t.Fatalf("calls reaching the app = %d, want exactly the test's own 1 (nothing from the loop)", got)
	}
	workdirSock := filepath.Join(m.Store().WorkDir(meta.ID), "run", "control.sock")
	if _, err := control.DialPath(workdirSock); err == nil {
		t.Errorf("a client accepted the agent's planted socket %s", workdirSock)
	}
}
