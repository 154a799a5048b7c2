//go:build integration && race

package loops

import (
	"context"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/containers/podman/v5/pkg/bindings/containers"
)

// Race tests of a loop's lifetime with real containers: built only with -race
// (make test-race), so the plain integration run does not repeat them.

func containerExists(t *testing.T, h *harness, name string) bool {
	t.Helper()
	ok, err := containers.Exists(h.conn, name, nil)
	if err != nil {
		t.Fatalf("container exists %s: %v", name, err)
	}
	return ok
}

// startGate blocks a start at one step until the start's context ends or the gate
// opens, and reports whether it was cancelled.
type startGate struct {
	entered   chan struct{}
	open      chan struct{}
	cancelled chan struct{}
}

func newStartGate() *startGate {
	return &startGate{entered: make(chan struct{}, 1), open: make(chan struct{}), cancelled: make(chan struct{}, 1)}
}

func (g *startGate) wait(ctx context.Context) error {
	select {
	case g.entered <- struct{}{}:
	default:
	}
	select {
	case <-ctx.Done():
		g.cancelled <- struct{}{}
		return ctx.Err()
	case <-g.open:
		return nil
	case <-time.After(5 * time.Minute):
		return nil
	}
}

// A Delete that lands while the turn is starting (before the container exists, and
// after it exists but before the agent runs) cancels the start and returns only after
// it ended: no container and no agent are left, even when the step it was blocked in
// would have gone on.
func TestRaceDeleteDuringStart(t *testing.T) {
	h := newHarness(t)
	for _, step := range []string{"image", "link"} {
		t.Run(step, func(t *testing.T) {
			gate := newStartGate()
			o := h.options()
			if step == "image" {
				o.Images = ImageFunc(func(ctx, conn context.Context, _ Meta) (string, string, error) {
					return testImage, "", gate.wait(ctx)
				})
			} else {
				attach := o.AfterContainerStart
				o.AfterContainerStart = func(ctx, conn context.Context, id, name string) error {
					if err := gate.wait(ctx); err != nil {
						return err
					}
					return attach(ctx, conn, id, name)
				}
			}
			m, err := NewManager(o)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(m.Close)
			meta, err := m.Create(CreateRequest{Title: "delete during start " + step})
			if err != nil {
				t.Fatal(err)
			}
			name := m.Sandbox().ContainerName(meta.ID)
			if _, err := m.Send(meta.ID, "hello"); err != nil {
				t.Fatal(err)
			}
			select {
			case <-gate.entered:
			case <-time.After(5 * time.Minute): // a first container start under load
				t.Fatal("the start never reached the gate")
			}
			if step == "link" && !containerExists(t, h, name) {
				t.Fatal("no container at the link step")
			}
			if err := m.Delete(meta.ID); err != nil {
				t.Fatalf("delete during start: %v", err)
			}
			select {
			case <-gate.cancelled:
			default:
				t.Fatal("Delete returned without cancelling the start")
			}
			close(gate.open) // a start that was not stopped would go on now
			m.Close()        // waits for every turn and agent of the manager
			if containerExists(t, h, name) {
				t.Fatalf("container %s exists after Delete during the start", name)
			}
			if _, err := m.Get(meta.ID); err == nil {
				t.Fatal("loop folder back after Delete")
			}
			if id := m.AgentProcessID(meta.ID); id != "" {
				t.Fatalf("agent %s alive after Delete", id)
			}
		})
	}
}

// Archive during a running turn (the agent's tool runs `sleep 60`) ends the turn and
// the agent and stops the container before it returns.
func TestRaceArchiveDuringTurn(t *testing.T) {
	h := newHarness(t)
	m := h.manager()
	meta, err := m.Create(CreateRequest{Title: "archive during turn"})
	if err != nil {
		t.Fatal(err)
	}
	h.startMock(m, meta.ID)
	if _, err := m.Send(meta.ID, "[[long-tool]]"); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(90 * time.Second)
	for sleepers(t, m, meta.ID) == 0 {
		if time.Now().After(deadline) {
			_, all := transcript(t, m, meta.ID)
			t.Fatalf("slow tool never started:\n%s", all)
		}
		time.Sleep(300 * time.Millisecond)
	}
	if _, err := m.Send(meta.ID, "[[echo]] queued"); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if err := m.Archive(meta.ID, true); err != nil {
		t.Fatal(err)
	}
	t.Logf("archive during a turn: %v", time.Since(start))
	// Archive has returned: the turn is over, nothing queued runs, the container is down.
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if err := m.Wait(ctx, meta.ID); err != nil {
		t.Fatalf("turn still running after Archive: %v", err)
	}
	if id := m.AgentProcessID(meta.ID); id != "" {
		t.Fatalf("agent %s alive after Archive", id)
	}
	if _, running := containerID(t, h, m.Sandbox().ContainerName(meta.ID)); running {
		t.Fatal("container running after Archive")
	}
	got, _ := m.Get(meta.ID)
	if got.Status != StatusStopped || !got.Archived {
		t.Fatalf("after Archive: status=%s archived=%v", got.Status, got.Archived)
	}
	ls, all := transcript(t, m, meta.ID)
	for _, l := range ls {
		if l.Type == "user_input" && strings.Contains(l.Text, "queued") {
			t.Fatalf("the queued message ran in an archived loop:\n%s", all)
		}
	}
	if ls[len(ls)-1].Type != "interrupted" {
		t.Fatalf("the turn did not end as interrupted:\n%s", all)
	}
}

// Close during the re-link of a container a previous run left running cancels the
// re-link and returns only after it (and every other goroutine of the manager) ended.
func TestRaceCloseDuringRelink(t *testing.T) {
	h := newHarness(t)
	m1, err := NewManager(h.options())
	if err != nil {
		t.Fatal(err)
	}
	meta, err := m1.Create(CreateRequest{Title: "close during relink"})
	if err != nil {
		t.Fatal(err)
	}
	if err := m1.EnsureContainer(context.Background(), meta.ID); err != nil {
		t.Fatal(err)
	}
	m1.Close()

	before := runtime.NumGoroutine()
	gate := newStartGate()
	o := h.options()
	o.AfterContainerStart = func(ctx, conn context.Context, id, name string) error { return gate.wait(ctx) }
	m2, err := NewManager(o)
	if err != nil {
		t.Fatal(err)
	}
	if err := m2.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	select {
	case <-gate.entered:
	case <-time.After(time.Minute):
		t.Fatal("the re-link never started")
	}
	start := time.Now()
	m2.Close()
	t.Logf("close during re-link: %v", time.Since(start))
	select {
	case <-gate.cancelled:
	default:
		t.Fatal("Close returned before the re-link ended (or without cancelling it)")
	}
	// The engine connection's idle HTTP goroutines may come and go: count only ours.
	settleGoroutines(t, -1, 5*time.Second)
	t.Logf("goroutines: %d before the manager, %d after Close", before, runtime.NumGoroutine())
}
