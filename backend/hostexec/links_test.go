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
