package loops

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/loopat/desktop/backend/agent"
	"github.com/loopat/desktop/backend/config"
)

func warmTestManager(t *testing.T, ws config.Workspace, noWarm bool) *Manager {
	t.Helper()
	m, err := NewManager(Options{Workspace: ws, Conn: downConn{}, NoWarm: noWarm})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.Close)
	return m
}

// A loop prepared ahead is no user loop: not listed, not found by Get, Send, Delete or
// Archive; a short-lived command (NoWarm) leaves a crash-left one alone (it may be a
// running app's), and its folder outlives its container (the retry's marker).
func TestWarmLoopIsNoUserLoopAndStaleOnesGoAtStart(t *testing.T) {
	ws, _ := config.NewWorkspace(filepath.Join(t.TempDir(), "ws"))
	cli := warmTestManager(t, ws, true)
	warm, err := cli.store.Create(NewLoop{Title: warmTitle, Warm: true})
	if err != nil {
		t.Fatal(err)
	}
	user, err := cli.Create(CreateRequest{Title: "mine"})
	if err != nil {
		t.Fatal(err)
	}
	if user.ID == warm.ID {
		t.Fatal("a NoWarm manager handed out a warm loop")
	}
	list, err := cli.List()
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 1 || list[0].ID != user.ID {
		t.Fatalf("List = %+v, want only the user's loop", list)
	}
	if _, err := cli.Get(warm.ID); !errors.Is(err, ErrNotFound) {
		t.Errorf("Get(warm) = %v", err)
	}
	if _, err := cli.Send(warm.ID, "hi"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Send(warm) = %v", err)
	}
	if err := cli.Delete(warm.ID); !errors.Is(err, ErrNotFound) {
		t.Errorf("Delete(warm) = %v", err)
	}
	if err := cli.Archive(warm.ID, true); !errors.Is(err, ErrNotFound) {
		t.Errorf("Archive(warm) = %v", err)
	}
	dir := filepath.Join(ws.LoopsDir(), warm.ID)
	_ = cli.Start(context.Background()) // the engine is down: an error, after the store pass
	if _, err := os.Stat(dir); err != nil {
		t.Fatalf("a NoWarm start removed the app's warm loop: %v", err)
	}

	// The app's start with the engine down cannot remove the container: the folder
	// stays (it still says Warm) so a later start retries, and no orphan is left.
	app := warmTestManager(t, ws, false)
	_ = app.Start(context.Background())
	if meta, err := app.store.Get(warm.ID); err != nil || !meta.Warm {
		t.Fatalf("the warm loop's folder went before its container: %+v %v", meta, err)
	}
	if _, err := app.Get(user.ID); err != nil {
		t.Fatalf("the user's loop: %v", err)
	}
}

// The refill holds back while a user's loop starts its agent, and, shortly after a
// Create, while new loops' turns run (a burst's first replies); a long turn long after
// the last Create does not hold it back, and idle loops never do.
func TestWarmRefillWaitsForABurstOfNewLoops(t *testing.T) {
	ws, _ := config.NewWorkspace(filepath.Join(t.TempDir(), "ws"))
	m := warmTestManager(t, ws, true)
	now := time.Now()
	m.runFor("idle")
	if m.userStartsInFlight(now) {
		t.Fatal("an idle loop held the refill back")
	}
	starting := m.runFor("starting")
	starting.mu.Lock()
	starting.busy = true // a turn whose agent is not started yet
	starting.mu.Unlock()
	if !m.userStartsInFlight(now) {
		t.Fatal("a loop starting its agent did not hold the refill back")
	}
	starting.mu.Lock()
	starting.sess = &agent.Session{} // agent started, first reply pending
	starting.mu.Unlock()
	if m.userStartsInFlight(now) {
		t.Fatal("a running turn held the refill back with no Create in the window")
	}
	if _, err := m.Create(CreateRequest{Title: "burst"}); err != nil {
		t.Fatal(err)
	}
	if !m.userStartsInFlight(time.Now()) {
		t.Fatal("a running turn right after a Create did not hold the refill back")
	}
	if m.userStartsInFlight(time.Now().Add(warmBurstWindow + time.Second)) {
		t.Fatal("a running turn held the refill back past the burst window")
	}
	starting.mu.Lock()
	starting.busy, starting.sess = false, nil // the turn ended (and Close has no agent to kill)
	starting.mu.Unlock()
	if m.userStartsInFlight(time.Now()) {
		t.Fatal("idle loops held the refill back after a Create")
	}
}
