//go:build integration

package loops

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/containers/podman/v5/pkg/bindings/containers"
	"github.com/containers/podman/v5/pkg/bindings/network"
	"github.com/containers/podman/v5/pkg/bindings/system"

	"github.com/loopat/desktop/backend/config"
	"github.com/loopat/desktop/backend/loops/testimage"
	"github.com/loopat/desktop/internal/testkit"
)

type fixedConn struct{ c context.Context }

func (f fixedConn) Conn(ctx context.Context) (context.Context, error) { return f.c, nil }

// A file the agent writes in the workdir belongs on the host to the user podman runs as:
// rootless, the user itself (keep-id maps it to the sandbox user); rootful, the sandbox
// uid 2000 the app gives the loop's folders to. The mode comes from the server's info,
// whatever our own euid is. Runs in both suites (make test-integration as root,
// make test-rootless as an unprivileged user).
func TestSandboxWorkdirFilesBelongToTheHostUser(t *testing.T) {
	if err := testimage.Ensure(); err != nil {
		t.Fatal(err)
	}
	uri := testkit.StartPodmanService(t)
	conn := testkit.Connect(t, uri)
	info, err := system.Info(conn, nil)
	if err != nil {
		t.Fatal(err)
	}
	rootless := info.Host.Security.Rootless

	ws, err := config.NewWorkspace(filepath.Join(t.TempDir(), ".owner"))
	if err != nil {
		t.Fatal(err)
	}
	if err := ws.Ensure(); err != nil {
		t.Fatal(err)
	}
	sb := NewSandbox(ws, fixedConn{conn})
	work := filepath.Join(t.TempDir(), "work")
	if err := os.MkdirAll(work, 0o755); err != nil {
		t.Fatal(err)
	}
	os.Chmod(filepath.Dir(work), 0o755)
	if !rootless {
		if err := chownForSandbox(work); err != nil {
			t.Fatal(err)
		}
	}
	loopID := "owner" + strings.ToLower(testkit.UniqueName("")[1:9])
	t.Cleanup(func() {
		sb.Remove(context.Background(), loopID)
		network.Remove(conn, sb.NetworkName(), new(network.RemoveOptions).WithForce(true))
	})
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	if _, err := sb.Ensure(ctx, loopID, ContainerSpec{Image: testimage.Ref, Mounts: []Mount{{Source: work, Target: SandboxWork}}}); err != nil {
		t.Fatalf("loop container (rootless=%v): %v", rootless, err)
	}
	data, err := containers.Inspect(conn, sb.ContainerName(loopID), nil)
	if err != nil {
		t.Fatal(err)
	}
	if data.Config.Labels[config.LabelKey] != ws.ID || !strings.Contains(sb.ContainerName(loopID), ws.ID) {
		t.Fatalf("container not labelled/named by the workspace id %s: %s %v", ws.ID, data.Name, data.Config.Labels)
	}
	out, err := exec.Command("podman", "--url", uri, "exec", "--user", SandboxUser, sb.ContainerName(loopID),
		"sh", "-c", "id -u && echo hi > "+SandboxWork+"/agent.txt").CombinedOutput()
	if err != nil {
		t.Fatalf("agent write (rootless=%v): %v\n%s", rootless, err, out)
	}
	if !strings.HasPrefix(strings.TrimSpace(string(out)), "2000") {
		t.Fatalf("agent runs as %q, want uid 2000", out)
	}
	fi, err := os.Lstat(filepath.Join(work, "agent.txt"))
	if err != nil {
		t.Fatal(err)
	}
	owner := int(fi.Sys().(*syscall.Stat_t).Uid)
	want := SandboxUID
	if rootless {
		want = os.Geteuid()
	}
	if owner != want {
		t.Fatalf("rootless=%v: agent's file owned by uid %d on the host, want %d", rootless, owner, want)
	}
	t.Logf("rootless=%v: agent's file is uid %d on the host", rootless, owner)
}
