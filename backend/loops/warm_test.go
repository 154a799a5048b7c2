package loops

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

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
