package services

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/loopat/desktop/backend/config"
	"github.com/loopat/desktop/backend/events"
	"github.com/loopat/desktop/backend/rpc"
)

type systemFixture struct {
	svc    *SystemService
	live   *config.Live
	reg    *rpc.Registry
	events <-chan events.Event
	path   string
}

func newSystemFixture(t *testing.T) systemFixture {
	t.Helper()
	ws, err := config.NewWorkspace(filepath.Join(t.TempDir(), "ws"))
	if err != nil {
		t.Fatal(err)
	}
	if err := ws.Ensure(); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(ws.ConfigPath())
	if err != nil {
		t.Fatal(err)
	}
	live := config.NewLive(cfg, nil)
	bus := events.New()
	ch, cancel := bus.Subscribe(8, func(topic string) bool { return topic == TopicConfigChanged })
	t.Cleanup(cancel)
	svc := NewSystemService(ws, live, bus, nil)
	return systemFixture{svc: svc, live: live, reg: rpc.NewRegistry(svc), events: ch, path: ws.ConfigPath()}
}

// save sends text through the RPC registry as the UI does (with the revision of the
// file it was edited from) and decodes the answer.
func (f systemFixture) save(t *testing.T, text string) ConfigView {
	t.Helper()
	view, err := f.svc.Config()
	if err != nil {
		t.Fatal(err)
	}
	arg, _ := json.Marshal([]string{text, view.Revision})
	res, err := f.reg.Call("SystemService", "SaveConfig", arg)
	if err != nil {
		t.Fatalf("SaveConfig: %v", err)
	}
	return res.(ConfigView)
}

func (f systemFixture) current(t *testing.T) config.Config {
	t.Helper()
	res, err := f.reg.Call("SystemService", "CurrentConfig", nil)
	if err != nil {
		t.Fatal(err)
	}
	return res.(config.Config)
}

func (f systemFixture) change(t *testing.T) ConfigChange {
	t.Helper()
	select {
	case ev := <-f.events:
		return ev.Data.(ConfigChange)
	case <-time.After(2 * time.Second):
		t.Fatal("no config:changed event")
		return ConfigChange{}
	}
}

// Each class of live key: the save applies at once (CurrentConfig, subscribers, the
// event the UI follows) and lists no restart.
func TestSaveConfigAppliesLiveKeys(t *testing.T) {
	cases := []struct {
		name, text string
		key        string
		check      func(config.Config) bool
	}{
		{"idle minutes", "[sandbox]\nidle_minutes = 5\n", "sandbox.idle_minutes", func(c config.Config) bool { return c.Sandbox.IdleMinutes == 5 }},
		{"theme", "[ui]\ntheme = \"dark\"\n", "ui.theme", func(c config.Config) bool { return c.UI.Theme == "dark" }},
		{"notifications", "[ui]\nnotifications = false\n", "ui.notifications", func(c config.Config) bool { return !c.UI.Notifications }},
		{"host exec policy", "[host_exec]\nallow_any_cli = true\n", "host_exec.allow_any_cli", func(c config.Config) bool { return c.HostExec.AllowAny }},
		{"agent defaults", "[agent]\ndefault_model = \"claude-opus-4-1\"\n", "agent.default_model", func(c config.Config) bool { return c.Agent.DefaultModel == "claude-opus-4-1" }},
		{"providers", "[[providers]]\nname = \"local\"\nbase_url = \"http://127.0.0.1:9\"\n", "providers", func(c config.Config) bool { return len(c.Providers) == 1 && c.Providers[0].Name == "local" }},
		{"engine (reconnect)", "[engine]\npodman = \"/opt/podman/bin/podman\"\n", "engine.podman", func(c config.Config) bool { return c.Engine.Podman == "/opt/podman/bin/podman" }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newSystemFixture(t)
			var seen config.Config
			unsub := f.live.Subscribe(func(_, c config.Config) { seen = c })
			defer unsub()
			view := f.save(t, tc.text)
			if view.Error != nil {
				t.Fatalf("valid config refused: %+v", view.Error)
			}
			if !reflect.DeepEqual(view.Changed, []string{tc.key}) || len(view.Restart) != 0 {
				t.Fatalf("changed %v restart %v, want changed [%s] and no restart", view.Changed, view.Restart, tc.key)
			}
			if !tc.check(f.current(t)) || !tc.check(seen) {
				t.Fatalf("not applied: current %+v, subscriber %+v", f.current(t), seen)
			}
			ev := f.change(t)
			if !tc.check(ev.Config) || len(ev.Restart) != 0 {
				t.Fatalf("event %+v", ev)
			}
			data, err := os.ReadFile(f.path)
			if err != nil || string(data) != tc.text {
				t.Fatalf("file holds %q (%v)", data, err)
			}
			if st, _ := os.Stat(f.path); st.Mode().Perm() != 0o600 {
				t.Fatalf("config mode %v", st.Mode().Perm())
			}
		})
	}
}

func TestSaveConfigReportsRestartOnlyKeys(t *testing.T) {
	f := newSystemFixture(t)
	view := f.save(t, "[sandbox]\nbase_image = \"docker.io/library/ubuntu:24.04\"\nidle_minutes = 10\n")
	if view.Error != nil {
		t.Fatal(view.Error)
	}
	if !reflect.DeepEqual(view.Restart, []string{"sandbox.base_image"}) {
		t.Fatalf("restart %v, want [sandbox.base_image]", view.Restart)
	}
	if !reflect.DeepEqual(view.Changed, []string{"sandbox.idle_minutes", "sandbox.base_image"}) {
		t.Fatalf("changed %v", view.Changed)
	}
	if ev := f.change(t); !reflect.DeepEqual(ev.Restart, []string{"sandbox.base_image"}) {
		t.Fatalf("event restart %v", ev.Restart)
	}
	// Saving the same text again changes nothing and needs nothing.
	if again := f.save(t, "[sandbox]\nbase_image = \"docker.io/library/ubuntu:24.04\"\nidle_minutes = 10\n"); len(again.Changed)+len(again.Restart) != 0 {
		t.Fatalf("unchanged save reported %+v", again)
	}
}

func TestSaveConfigRefusesInvalidAndKeepsFileAndLive(t *testing.T) {
	f := newSystemFixture(t)
	before, _ := os.ReadFile(f.path)
	view := f.save(t, "[ui]\ntheme = \"purple\"\n")
	if view.Error == nil || view.Error.Key != "ui.theme" || !strings.Contains(view.Error.Msg, "purple") {
		t.Fatalf("error %+v", view.Error)
	}
	if view.Text != "[ui]\ntheme = \"purple\"\n" {
		t.Fatal("the user's text was lost")
	}
	after, _ := os.ReadFile(f.path)
	if string(after) != string(before) {
		t.Fatal("invalid config was written")
	}
	if f.current(t).UI.Theme != "system" {
		t.Fatalf("invalid config published: %q", f.current(t).UI.Theme)
	}
	select {
	case ev := <-f.events:
		t.Fatalf("event for a refused save: %+v", ev)
	default:
	}
}

// A workspace started with a broken file shows the error until a valid save clears it.
func TestConfigShowsLoadErrorUntilSaved(t *testing.T) {
	f := newSystemFixture(t)
	bad := []byte("[ui]\ntheme = 3\n")
	os.WriteFile(f.path, bad, 0o600)
	cfg, err := config.Load(f.path)
	f.svc.live = config.NewLive(cfg, err)
	view, _ := f.svc.Config()
	if view.Error == nil || view.Error.Key == "" {
		t.Fatalf("load error not shown: %+v", view)
	}
	f.svc.SaveConfig("[ui]\ntheme = \"light\"\n", "")
	if view, _ := f.svc.Config(); view.Error != nil {
		t.Fatalf("error kept after a valid save: %+v", view.Error)
	}
}

// A save names the revision it edited: when the file changed meanwhile (here a provider
// added in Settings → Providers while the Advanced editor was open) nothing is written,
// the answer is a conflict, and the other edit survives.
func TestSaveConfigRefusesAnEditOfAnOlderRevision(t *testing.T) {
	f := newSystemFixture(t)
	opened, err := f.svc.Config()
	if err != nil || opened.Revision == "" {
		t.Fatalf("no revision: %+v %v", opened, err)
	}
	providers := NewProviderService(context.Background(), f.live.Get, mockVault(t), "", f.svc)
	if _, err := providers.Save("", config.Provider{Name: "second", BaseURL: "http://127.0.0.1:9/", KeyRef: "SECOND_KEY"}); err != nil {
		t.Fatalf("provider save: %v", err)
	}
	withProvider, _ := os.ReadFile(f.path)
	if !strings.Contains(string(withProvider), `name = "second"`) {
		t.Fatalf("provider not written:\n%s", withProvider)
	}
	dark := func(text string) string {
		t.Helper()
		out := strings.Replace(text, `theme = "system"`, `theme = "dark"`, 1)
		if out == text {
			t.Fatalf("no theme line in the default config:\n%s", text)
		}
		return out
	}
	arg, _ := json.Marshal([]string{dark(opened.Text), opened.Revision})
	_, err = f.reg.Call("SystemService", "SaveConfig", arg)
	var re *rpc.Error
	if !errors.As(err, &re) || re.Kind != rpc.KindConflict || re.Hint == "" {
		t.Fatalf("stale save not refused as a conflict with a hint: %v", err)
	}
	after, _ := os.ReadFile(f.path)
	if string(after) != string(withProvider) {
		t.Fatalf("the stale save overwrote the provider edit:\n%s", after)
	}
	if f.current(t).UI.Theme == "dark" {
		t.Fatal("the refused text was published")
	}
	// Editing the fresh file saves, and the answer names the new revision.
	fresh, _ := f.svc.Config()
	saved := f.save(t, dark(fresh.Text))
	if saved.Error != nil || saved.Revision == fresh.Revision || saved.Revision == "" {
		t.Fatalf("fresh save: %+v", saved)
	}
	if again, _ := f.svc.Config(); again.Revision != saved.Revision || !strings.Contains(again.Text, `name = "second"`) {
		t.Fatalf("saved revision %s, file now %s:\n%s", saved.Revision, again.Revision, again.Text)
	}
	if f.current(t).UI.Theme != "dark" {
		t.Fatal("the fresh save did not apply")
	}
}
