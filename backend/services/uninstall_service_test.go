package services

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/zalando/go-keyring"

	"github.com/loopat/desktop/backend/config"
	"github.com/loopat/desktop/backend/events"
	"github.com/loopat/desktop/backend/rpc"
	"github.com/loopat/desktop/backend/uninstall"
	"github.com/loopat/desktop/backend/vault"
)

// Driven the way the settings screen drives it: by name over the rpc registry.
func TestUninstallServiceConfirmAndEvents(t *testing.T) {
	keyring.MockInit()
	ws, err := config.NewWorkspace(filepath.Join(t.TempDir(), ".myws"))
	if err != nil {
		t.Fatal(err)
	}
	if err := ws.Ensure(); err != nil {
		t.Fatal(err)
	}
	v := vault.New(ws, vault.OSKeyring())
	if err := v.SetEnv("", "TOKEN", "value-never-shown"); err != nil {
		t.Fatal(err)
	}
	bus := events.New()
	sub, cancel := bus.Subscribe(64, func(topic string) bool { return strings.HasPrefix(topic, "uninstall:") })
	defer cancel()
	deps := uninstall.Deps{
		Workspace: ws, Keychain: v,
		Conn: func(context.Context) (context.Context, error) { return nil, errors.New("engine is absent") },
	}
	reg := rpc.NewRegistry(NewUninstallService(context.Background(), deps, bus))
	call := func(method, args string) (any, error) {
		return reg.Call("UninstallService", method, json.RawMessage(args))
	}

	res, err := call("Plan", `[true]`)
	if err != nil {
		t.Fatal(err)
	}
	plan := res.(uninstall.Plan)
	if plan.Workspace != "myws" || !plan.KeepData || len(plan.Keychain) != 1 || len(plan.Unchecked) == 0 {
		t.Fatalf("plan %+v", plan)
	}
	for _, wrong := range []string{`["", false]`, `["mywsx", false]`, `["my", false]`} {
		if _, err := call("Run", wrong); err == nil || !strings.Contains(err.Error(), `"myws"`) {
			t.Fatalf("Run %s: %v", wrong, err)
		}
	}
	if _, err := os.Stat(ws.Home); err != nil {
		t.Fatal("a refused Run removed the workspace")
	}

	if _, err := call("Run", `["myws", false]`); err != nil {
		t.Fatal(err)
	}
	var progress []uninstall.Step
	deadline := time.After(20 * time.Second)
	for {
		select {
		case ev := <-sub:
			switch ev.Topic {
			case TopicUninstallProgress:
				progress = append(progress, ev.Data.(uninstall.Step))
				continue
			case TopicUninstallDone:
				done := ev.Data.(UninstallDone)
				// Podman could not be checked, so the app must not quit: the result screen lists it.
				if done.Quit || len(done.Result.Remaining) == 0 {
					t.Fatalf("done %+v", done)
				}
				if len(progress) != 2*len(uninstall.Steps) {
					t.Fatalf("progress %+v", progress)
				}
				// Without podman the workspace id and config.toml stay (the next run needs
				// them to find this workspace's containers); everything else is gone.
				left, err := os.ReadDir(ws.Home)
				if err != nil && !errors.Is(err, os.ErrNotExist) {
					t.Fatal(err)
				}
				for _, e := range left {
					if e.Name() != "workspace-id" && e.Name() != "config.toml" {
						t.Fatalf("%s left in the home after uninstall", e.Name())
					}
				}
				if running, _ := call("Running", `[]`); running.(bool) {
					t.Fatal("still running after done")
				}
				return
			}
		case <-deadline:
			t.Fatalf("no uninstall:done; progress %+v", progress)
		}
	}
}
