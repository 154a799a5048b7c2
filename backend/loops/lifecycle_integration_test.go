//go:build integration

package loops

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/containers/podman/v5/pkg/bindings/containers"
	"github.com/containers/podman/v5/pkg/specgen"

	"github.com/loopat/desktop/backend/config"
)

func containerID(t *testing.T, h *harness, name string) (string, bool) {
	t.Helper()
	info, err := containers.Inspect(h.conn, name, nil)
	if err != nil {
		t.Fatalf("inspect %s: %v", name, err)
	}
	return info.ID, info.State != nil && info.State.Running
}

// Idle stop, restart on the next message with the conversation intact, recreation when
// the mounts drift, and orphan reporting at start.
func TestLoopContainerLifecycle(t *testing.T) {
	h := newHarness(t)
	m := h.manager()
	meta, err := m.Create(CreateRequest{Title: "lifecycle"})
	if err != nil {
		t.Fatal(err)
	}
	h.startMock(m, meta.ID)
	if _, err := m.Send(meta.ID, "first"); err != nil {
		t.Fatal(err)
	}
	waitTurn(t, m, meta.ID, 2*time.Minute)
	name := m.Sandbox().ContainerName(meta.ID)
	id1, running := containerID(t, h, name)
	if !running {
		t.Fatal("container not running after a turn")
	}
	info, _ := containers.Inspect(h.conn, name, nil)
	labels := info.Config.Labels
	if labels[config.LabelKey] != h.ws.Label() || labels[LabelLoopID] != meta.ID || labels[LabelConfigHash] == "" {
		t.Fatalf("labels = %v", labels)
	}
	if info.Config.User != SandboxUser {
		t.Fatalf("container user = %q", info.Config.User)
	}

	// Idle: a sweep with a tiny limit stops the container and the agent.
	m.sweepIdle(context.Background(), time.Nanosecond)
	if _, running := containerID(t, h, name); running {
		t.Fatal("idle container still running")
	}
	if got, _ := m.Get(meta.ID); got.Status != StatusStopped || m.AgentProcessID(meta.ID) != "" {
		t.Fatalf("after idle stop: status=%s agent=%q", got.Status, m.AgentProcessID(meta.ID))
	}
	// The next message starts it again and the conversation continues.
	if _, err := m.Send(meta.ID, "second"); err != nil {
		t.Fatal(err)
	}
	waitTurn(t, m, meta.ID, 2*time.Minute)
	if res, all := lastResult(t, m, meta.ID); !strings.Contains(res, "history: 2 user messages") {
		t.Fatalf("after idle restart:\n%s", all)
	}
	if id, running := containerID(t, h, name); id != id1 || !running {
		t.Fatalf("idle restart recreated (%s -> %s) or did not start the container", id1, id)
	}

	// Drift: a changed mount set recreates the container (a new manager with an extra mount).
	m.Close()
	extra := t.TempDir()
	m2, err := NewManager(h.options(Mount{Source: extra, Target: "/loopat/context/extra", ReadOnly: true}))
	if err != nil {
		t.Fatal(err)
	}
	defer m2.Close()

	// An orphan: a workspace-labelled loop container whose loop folder does not exist.
	orphanName := "loopat-" + h.ws.Name + "-orphan0000"
	g := specgen.NewSpecGenerator(testImage, false)
	g.Name = orphanName
	g.Labels = map[string]string{config.LabelKey: h.ws.Label(), LabelLoopID: "orphan0000"}
	g.Command = []string{"true"}
	if _, err := containers.CreateWithSpec(h.conn, g, nil); err != nil {
		t.Fatal(err)
	}
	if err := m2.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	orphans := m2.Orphans()
	if len(orphans) != 1 || orphans[0].LoopID != "orphan0000" {
		t.Fatalf("orphans = %+v", orphans)
	}
	if ok, _ := containers.Exists(h.conn, orphanName, nil); !ok {
		t.Fatal("orphan was deleted")
	}
	// A container left running by the previous backend is still subject to the idle stop.
	m2.sweepIdle(context.Background(), time.Nanosecond)
	if _, running := containerID(t, h, name); running {
		t.Fatal("container left running by the previous backend was not idle-stopped")
	}

	if _, err := m2.Send(meta.ID, "third"); err != nil {
		t.Fatal(err)
	}
	waitTurn(t, m2, meta.ID, 2*time.Minute)
	if res, all := lastResult(t, m2, meta.ID); !strings.Contains(res, "history: 3 user messages") {
		t.Fatalf("after recreation:\n%s", all)
	}
	if id, _ := containerID(t, h, name); id == id1 {
		t.Fatal("container not recreated after its mounts changed")
	}
}

// Model API errors and a crashing CLI end the turn with an error line and status error.
func TestLoopAgentFailuresAreReported(t *testing.T) {
	h := newHarness(t)
	o := h.options()
	o.AgentEnv = []string{"CLAUDE_CODE_MAX_RETRIES=1"} // the CLI retries even a 401 ten times over minutes
	m, err := NewManager(o)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	retries, cancelRetries := h.bus.Subscribe(256, func(topic string) bool { return strings.HasSuffix(topic, ":status") })
	defer cancelRetries()
	meta, err := m.Create(CreateRequest{Title: "failures"})
	if err != nil {
		t.Fatal(err)
	}
	h.startMock(m, meta.ID)
	if _, err := m.Send(meta.ID, "[[error:401]]"); err != nil {
		t.Fatal(err)
	}
	waitTurn(t, m, meta.ID, 3*time.Minute)
	ls, all := transcript(t, m, meta.ID)
	last := ls[len(ls)-1]
	if last.Type != "error" || last.Hint == "" {
		t.Fatalf("model API error not reported:\n%s", all)
	}
	if got, _ := m.Get(meta.ID); got.Status != StatusError {
		t.Fatalf("status = %s", got.Status)
	}
	sawRetry := false
	for len(retries) > 0 {
		ev := <-retries
		if strings.Contains(ev.Data.(map[string]string)["detail"], "retry 1 of 1") {
			sawRetry = true
		}
	}
	if !sawRetry {
		t.Fatal("API retries were not shown in the status detail")
	}

	// A CLI that cannot run (missing binary) is reported as such.
	m.Close()
	ob := h.options()
	ob.Events, ob.AgentBinary = nil, "claude-does-not-exist"
	bad, err := NewManager(ob)
	if err != nil {
		t.Fatal(err)
	}
	defer bad.Close()
	c2, err := bad.Create(CreateRequest{Title: "crash"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := bad.Send(c2.ID, "hello"); err != nil {
		t.Fatal(err)
	}
	waitTurn(t, bad, c2.ID, 2*time.Minute)
	ls, all = transcript(t, bad, c2.ID)
	var msg struct{ Message string }
	raw, _ := bad.Messages(c2.ID)
	jsonUnmarshal(raw[len(raw)-1], &msg)
	if ls[len(ls)-1].Type != "error" || !strings.Contains(msg.Message, "exit code 127") || !strings.Contains(msg.Message, "not found") {
		t.Fatalf("crash not reported:\n%s", all)
	}
}
