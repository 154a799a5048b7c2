package core

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/loopat/desktop/backend/engine"
)

func openTestCore(t *testing.T) *Core {
	t.Helper()
	t.Setenv("LOOPAT_HOME", filepath.Join(t.TempDir(), "ws"))
	t.Setenv("CONTAINER_HOST", "") // the configured URL must be the one discovery uses
	c, err := Open(context.Background(), Options{Stderr: os.Stderr})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

// Saving [engine] settings reconnects the engine with them, without a restart.
func TestSavedEngineURLReconnects(t *testing.T) {
	c := openTestCore(t)
	uri := "unix://" + filepath.Join(t.TempDir(), "no-podman.sock")
	view, err := c.System.SaveConfig("[engine]\nurl = \""+uri+"\"\n", "")
	if err != nil || view.Error != nil || len(view.Restart) != 0 {
		t.Fatalf("save: %+v %v", view, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	st, err := c.Engine.WaitFor(ctx, func(s engine.State) bool { return s.URI == uri })
	if err != nil {
		t.Fatalf("engine did not rediscover with the saved url: %+v %v", st, err)
	}
	if st.Source != engine.SourceConfig || st.Phase == engine.PhaseReady {
		t.Fatalf("state %+v", st)
	}
	if got := c.doctorDeps().Config.Engine.URL; got != uri {
		t.Fatalf("doctor reads %q, not the saved url", got)
	}
}

// A saved [host_exec] is what each loop's policy is computed from, with its own mise.toml
// (hostexec.Links.RefreshPolicies hands it to every linked loop).
func TestSavedHostExecPolicyApplies(t *testing.T) {
	c := openTestCore(t)
	id := "loop-a"
	dir := filepath.Join(c.Workspace.LoopsDir(), id)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "mise.toml"), []byte("[host]\nclis = [\"gh\"]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	before := c.loopPolicy(id)
	if !before.Enabled || before.AllowAny || before.Timeout != 120*time.Second {
		t.Fatalf("policy before %+v", before)
	}
	if view, err := c.System.SaveConfig("[host_exec]\nallow_any_cli = true\ntimeout_seconds = 9\n", ""); err != nil || view.Error != nil || len(view.Restart) != 0 {
		t.Fatalf("save: %+v %v", view, err)
	}
	after := c.loopPolicy(id)
	if !after.AllowAny || after.Timeout != 9*time.Second || len(after.CLIs) != 1 {
		t.Fatalf("policy after %+v", after)
	}
}

// The subscription core takes is released by Close.
func TestCloseUnsubscribesFromLiveConfig(t *testing.T) {
	c := openTestCore(t)
	if c.Live.Subscribers() == 0 {
		t.Fatal("core does not follow the live config")
	}
	c.Close()
	if n := c.Live.Subscribers(); n != 0 {
		t.Fatalf("%d subscriptions left after Close", n)
	}
}
