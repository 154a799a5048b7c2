//go:build integration

package images

import (
	"testing"
	"time"

	"github.com/containers/podman/v5/pkg/bindings/containers"
	"github.com/containers/podman/v5/pkg/specgen"
	"github.com/google/uuid"

	"github.com/loopat/desktop/backend/config"
)

// A probe container left behind by a process that exited before removing it (loopat
// doctor abandons a hung check at its timeout) is removed by the next probe of the same
// workspace once it is stale; a young probe (another process's, still running) and a
// probe of another workspace are left alone.
func TestStaleProbeContainersAreRemovedByTheNextProbe(t *testing.T) {
	b := itBuilder(t, nil)
	ctx := ctxT(t, 3*time.Minute)
	ref, present, err := b.SandboxImageStatus(ctx, svc.Conn)
	if err != nil || !present {
		t.Fatalf("sandbox image %s must be built (scripts/test/build-sandbox.sh): present=%v %v", ref, present, err)
	}
	call, stop := joinContexts(svc.Conn, ctx)
	defer stop()
	ws, other := b.ws.Label(), "itest-other-"+uuid.NewString()[:8]
	leftover := func(workspace string) string {
		t.Helper()
		s := specgen.NewSpecGenerator(ref, false)
		s.Name = "loopat-" + sanitizeName(workspace) + "-probe-" + uuid.NewString()[:8]
		s.Command = []string{"sleep", "600"}
		s.Labels = map[string]string{config.LabelKey: workspace, probeLabel: "1"}
		s.NetNS = specgen.Namespace{NSMode: specgen.NoNetwork}
		c, err := containers.CreateWithSpec(call, s, nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := containers.Start(call, c.ID, nil); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { // after the test's call context is gone: the service's own
			_, _ = containers.Remove(svc.Conn, c.ID, new(containers.RemoveOptions).WithForce(true))
		})
		return c.ID
	}
	exists := func(id string) bool {
		ok, err := containers.Exists(call, id, nil)
		if err != nil {
			t.Fatal(err)
		}
		return ok
	}
	mine, theirs := leftover(ws), leftover(other)

	// Young: another process may still be waiting for it.
	removeStaleProbes(call, ws, time.Hour)
	if !exists(mine) {
		t.Fatal("a probe younger than the stale age was removed")
	}
	// The next doctor run's probe sweeps what is stale, of its own workspace only.
	removeStaleProbes(call, ws, 0)
	if exists(mine) {
		t.Fatal("the stale probe container was left running")
	}
	if !exists(theirs) {
		t.Fatal("another workspace's probe container was removed")
	}
	// And a probe itself still answers and leaves nothing behind.
	out, code, err := runOnce(call, ref, ws, []string{"echo", "probe ok"})
	if err != nil || code != 0 || out != "probe ok" {
		t.Fatalf("probe: %q %d %v", out, code, err)
	}
	left, err := containers.List(call, new(containers.ListOptions).WithAll(true).
		WithFilters(map[string][]string{"label": {config.LabelKey + "=" + ws}}))
	if err != nil || len(left) != 0 {
		t.Fatalf("containers left for the workspace: %d %v", len(left), err)
	}
}
