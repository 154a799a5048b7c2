package hostexec

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/loopat/desktop/backend/config"
)

// RefreshPolicies hands every linked loop (and only those) the policy computed now.
func TestLinksRefreshPolicies(t *testing.T) {
	ws, err := config.NewWorkspace(filepath.Join(t.TempDir(), "home"))
	if err != nil {
		t.Fatal(err)
	}
	srv := NewServer(ws, nil)
	timeout := time.Minute
	l := NewLinks(context.Background(), LinksOptions{Server: srv, Policy: func(id string) Policy {
		return Policy{Enabled: true, CLIs: []string{"gh-" + id}, Timeout: timeout}
	}})
	l.current["loop-b"], l.current["loop-a"] = linked{}, linked{}

	if got := l.Linked(); len(got) != 2 || got[0] != "loop-a" || got[1] != "loop-b" {
		t.Fatalf("linked %v", got)
	}
	timeout = 9 * time.Second
	l.RefreshPolicies()
	for _, id := range []string{"loop-a", "loop-b"} {
		p, ok := srv.policy(id)
		if !ok || !p.Enabled || p.Timeout != 9*time.Second || len(p.CLIs) != 1 || p.CLIs[0] != "gh-"+id {
			t.Fatalf("%s: %+v %v", id, p, ok)
		}
	}
	if _, ok := srv.policy("loop-c"); ok {
		t.Fatal("a loop without a link got a policy")
	}
}

// An attach in progress (its loop's lock held across the relay's exec) blocks neither
// another loop's attach nor Linked: 8 loops started at once link in parallel.
func TestLinksAttachLockIsPerLoop(t *testing.T) {
	l := NewLinks(context.Background(), LinksOptions{Server: NewServer(config.Workspace{}, nil)})
	a := l.loopLock("loop-a")
	if l.loopLock("loop-a") != a {
		t.Fatal("one loop got two attach locks")
	}
	a.Lock() // loop-a's attach is waiting for its relay
	defer a.Unlock()
	done := make(chan struct{})
	go func() {
		b := l.loopLock("loop-b")
		b.Lock()
		_ = l.Linked()
		b.Unlock()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("loop-b's attach waited for loop-a's")
	}
	if a.TryLock() {
		t.Fatal("loop-a's lock was free while its attach ran")
	}
}
