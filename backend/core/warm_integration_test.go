//go:build integration

package core_test

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/loopat/desktop/backend/core"
	"github.com/loopat/desktop/backend/loops"
	"github.com/loopat/desktop/backend/uninstall"
	"github.com/loopat/desktop/internal/testkit/appkit"
)

// openWarm opens the app with the mock key in the vault and waits for its warm loop.
func (f *coreFixture) openWarm() (*core.Core, string) {
	f.t.Helper()
	c := f.open()
	if err := c.Vault.SetEnv("default", appkit.MockKeyRef, f.realKey); err != nil {
		f.t.Fatal(err)
	}
	f.t.Cleanup(func() { _ = c.Vault.DeleteEnv("default", appkit.MockKeyRef) })
	c.Loops.KickWarm() // the start-up attempt may have run before the key was there
	return c, waitWarm(f.t, c, "")
}

// waitWarm waits for a warm loop other than not.
func waitWarm(t *testing.T, c *core.Core, not string) string {
	t.Helper()
	deadline := time.Now().Add(3 * time.Minute)
	for {
		if id := c.Loops.WarmLoopID(); id != "" && id != not {
			return id
		}
		if time.Now().After(deadline) {
			t.Fatal("no warm loop prepared in 3 minutes")
		}
		c.Loops.KickWarm()
		time.Sleep(200 * time.Millisecond)
	}
}

// containerExists asks podman itself (not the app) whether the container is there.
func containerExists(name string) bool {
	return exec.Command("podman", "container", "exists", name).Run() == nil
}

// waitGone waits until the loop's container and folder are gone.
func waitGone(t *testing.T, c *core.Core, id string) {
	t.Helper()
	name := c.Loops.Sandbox().ContainerName(id)
	dir := filepath.Join(c.Workspace.LoopsDir(), id)
	deadline := time.Now().Add(time.Minute)
	for containerExists(name) || exists(dir) {
		if time.Now().After(deadline) {
			t.Fatalf("warm loop %s not removed: container %v, folder %v", id, containerExists(name), exists(dir))
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func exists(p string) bool { _, err := os.Stat(p); return err == nil }

// "New loop" hands out the warm loop: same id, its agent already running (the first
// message goes to that process), a reply comes back; until then it is no user loop.
// Then the next one is prepared; a config change discards it and the next loop starts
// cold with the new settings.
func TestWarmLoopHandedOutRepliesAndConfigInvalidates(t *testing.T) {
	f := newCoreFixture(t)
	c, warm := f.openWarm()

	list, err := c.Loops.List()
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range list {
		if m.ID == warm {
			t.Fatal("the warm loop is listed as a user loop")
		}
	}
	if _, err := c.Loops.Get(warm); !errors.Is(err, loops.ErrNotFound) {
		t.Fatalf("Get(warm) = %v, want not found", err)
	}
	if _, err := c.Loops.Send(warm, "hi"); !errors.Is(err, loops.ErrNotFound) {
		t.Fatalf("Send(warm) = %v, want not found", err)
	}
	if ok, err := c.Loops.Sandbox().Running(context.Background(), warm); err != nil || !ok {
		t.Fatalf("warm loop's container not running: %v %v", ok, err)
	}

	start := time.Now()
	meta, err := c.Loops.Create(loops.CreateRequest{Title: "handed out"})
	if err != nil {
		t.Fatal(err)
	}
	if meta.ID != warm || meta.Title != "handed out" || meta.Warm {
		t.Fatalf("Create = %+v, want the warm loop %s under the new title", meta, warm)
	}
	agentBefore := c.Loops.AgentProcessID(meta.ID)
	if agentBefore == "" {
		t.Fatal("the handed-out loop has no agent waiting")
	}
	out := turn(t, c, meta.ID, "hello warm")
	t.Logf("warm loop: create + first turn %s", time.Since(start).Round(time.Millisecond))
	if !strings.Contains(out, "echo: hello warm") {
		t.Fatalf("no reply in the transcript:\n%s", out)
	}
	if got := c.Loops.AgentProcessID(meta.ID); got != agentBefore {
		t.Fatalf("the turn ran in agent %q, not the prepared %q", got, agentBefore)
	}
	if got, err := c.Loops.Get(meta.ID); err != nil || got.Warm {
		t.Fatalf("handed-out loop: %+v %v", got, err)
	}

	// The next one is prepared; a saved config with another model discards it.
	next := waitWarm(t, c, warm)
	cfg := appkit.MockConfig(f.mock.URL(), "") + "\n"
	cfg = strings.Replace(cfg, `default_model = "claude-sonnet-4-5"`, `default_model = "claude-opus-4-1"`, 1)
	cfg = strings.Replace(cfg, `models = ["claude-sonnet-4-5"]`, `models = ["claude-sonnet-4-5", "claude-opus-4-1"]`, 1)
	view, err := c.System.SaveConfig(cfg, "")
	if err != nil || view.Error != nil {
		t.Fatalf("save config: %v %+v", err, view.Error)
	}
	waitGone(t, c, next)
	cold, err := c.Loops.Create(loops.CreateRequest{Title: "after the change"})
	if err != nil {
		t.Fatal(err)
	}
	if cold.ID == next || cold.Model != "claude-opus-4-1" {
		t.Fatalf("after a model change Create = %s model %s; want a new loop with the new model (stale warm %s)", cold.ID, cold.Model, next)
	}
	if out := turn(t, c, cold.ID, "hello cold"); !strings.Contains(out, "echo: hello cold") {
		t.Fatalf("no reply from the loop made after the change:\n%s", out)
	}

	// Turned off live: the warm loop goes and none is prepared.
	id := waitWarm(t, c, next)
	if view, err := c.System.SaveConfig(cfg+"\n[loops]\nwarm = false\n", ""); err != nil || view.Error != nil {
		t.Fatalf("save config: %v %+v", err, view.Error)
	}
	waitGone(t, c, id)
	c.Loops.KickWarm()
	time.Sleep(500 * time.Millisecond)
	if got := c.Loops.WarmLoopID(); got != "" {
		t.Fatalf("warm loop %s prepared with [loops] warm = false", got)
	}
}

// A secret removed from the vault after the warm loop was prepared must not reach the
// next loop: the warm one (which holds it in its tmpfs) is discarded, never handed out.
func TestWarmLoopRevokedSecretNotHandedOut(t *testing.T) {
	f := newCoreFixture(t)
	c := f.open()
	if err := c.Vault.SetEnv("default", appkit.MockKeyRef, f.realKey); err != nil {
		t.Fatal(err)
	}
	if err := c.Vault.SetEnv("default", "MY_TOKEN", f.token); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = c.Vault.DeleteEnv("default", appkit.MockKeyRef)
		_ = c.Vault.DeleteEnv("default", "MY_TOKEN")
	})
	c.Loops.KickWarm()
	warm := waitWarm(t, c, "")
	// The warm loop holds the token (delivered into its tmpfs)...
	name := c.Loops.Sandbox().ContainerName(warm)
	if env := sandboxSh(t, name, `cat /proc/[0-9]*/environ 2>/dev/null | tr '\0' '\n'`, "2000"); !strings.Contains(env, "MY_TOKEN="+f.token) {
		t.Fatal("the warm loop's agent lacks the vault token: the test proves nothing")
	}
	// ...the user revokes it, then starts a loop.
	if err := c.Vault.DeleteEnv("default", "MY_TOKEN"); err != nil {
		t.Fatal(err)
	}
	meta, err := c.Loops.Create(loops.CreateRequest{Title: "after revoking"})
	if err != nil {
		t.Fatal(err)
	}
	if meta.ID == warm {
		t.Fatal("the warm loop holding a revoked secret was handed out")
	}
	// Into a file: the transcript would mask the token anyway.
	turn(t, c, meta.ID, `[[tool:bash echo "tok=$MY_TOKEN" > tok.txt]]`)
	if got := strings.TrimSpace(readFile(t, filepath.Join(c.Loops.Store().WorkDir(meta.ID), "tok.txt"))); got != "tok=" {
		t.Fatalf("the new loop's agent sees %q, want the revoked token gone", got)
	}
	waitGone(t, c, warm)
}

// Close removes the warm loop's container and folder; so does uninstall (it closes the
// loops first), leaving no container of the workspace.
func TestWarmLoopRemovedOnCloseAndUninstall(t *testing.T) {
	f := newCoreFixture(t)
	c, warm := f.openWarm()
	name := c.Loops.Sandbox().ContainerName(warm)
	closeStart := time.Now()
	c.Close()
	t.Logf("close with a warm loop: %s", time.Since(closeStart).Round(time.Millisecond))
	// Close waits a bounded time for the removal: on a loaded machine the container may
	// outlive it, but then its folder still says warm, and the next start removes both.
	// The remove request may also time out on the client while podman goes on to remove
	// the container: then the folder stays behind, still marked warm, for the next start.
	// What must never happen is a container without its warm folder, or a folder that is
	// no longer marked warm (it would show as a user loop).
	dir := filepath.Join(c.Workspace.LoopsDir(), warm)
	if containerExists(name) || exists(dir) {
		if b, err := os.ReadFile(filepath.Join(dir, "meta.json")); err != nil || !strings.Contains(string(b), `"warm": true`) {
			t.Fatalf("Close left the warm loop half removed (container present: %v) without its warm folder: %v", containerExists(name), err)
		}
		t.Log("the warm loop outlived Close's bound; the next start must remove it")
	}

	c2, warm2 := f.openWarm()
	if warm2 == warm {
		t.Fatal("the closed app's warm loop came back")
	}
	waitGone(t, c2, warm)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	res := uninstall.Run(ctx, c2.UninstallDeps(), uninstall.Options{}, func(uninstall.Step) {})
	if !res.Complete() {
		t.Fatalf("uninstall incomplete: %+v", res)
	}
	out, err := exec.Command("podman", "ps", "-a", "--format", "{{.Names}}").CombinedOutput()
	if err != nil {
		t.Fatalf("podman ps: %v %s", err, out)
	}
	prefix := c2.Workspace.ResourcePrefix() + "-"
	for _, n := range strings.Fields(string(out)) {
		if strings.HasPrefix(n, prefix) {
			t.Errorf("uninstall left container %s", n)
		}
	}
	// Nothing is prepared after the uninstall (the manager is closed).
	c2.Loops.KickWarm()
	time.Sleep(500 * time.Millisecond)
	if got := c2.Loops.WarmLoopID(); got != "" {
		t.Fatalf("a warm loop %s was prepared after the uninstall", got)
	}
}
