package services

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"sync"
	"time"

	"github.com/loopat/desktop/backend/config"
	"github.com/loopat/desktop/backend/doctor"
	"github.com/loopat/desktop/backend/events"
	"github.com/loopat/desktop/backend/rpc"
	"github.com/loopat/desktop/backend/version"
)

// SystemInfo is what the About page shows.
type SystemInfo struct {
	Workspace string            `json:"workspace"`
	Home      string            `json:"home"`
	Version   string            `json:"version"`
	Versions  map[string]string `json:"versions"`
	OS        string            `json:"os"`
}

// ConfigView is the raw config text plus, when it does not load, the precise error.
// After a save, Changed lists the keys that changed and Restart the ones among them
// that apply only after loopat restarts (the others are already in force).
type ConfigView struct {
	Path    string            `json:"path"`
	Text    string            `json:"text"`
	Error   *config.LoadError `json:"error,omitempty"`
	Changed []string          `json:"changed,omitempty"`
	Restart []string          `json:"restart,omitempty"`
	// Revision names the file's bytes this view was read from or saved as (sha256, hex).
	// A save passes back the revision it edits, so an edit made meanwhile elsewhere
	// (the Providers panel, another window, the CLI, a text editor) is not overwritten.
	Revision string `json:"revision"`
}

// TopicConfigChanged is published after a valid config is saved; its data is a ConfigChange.
const TopicConfigChanged = events.TopicConfigChanged

// ConfigChange is the data of TopicConfigChanged.
type ConfigChange struct {
	Config  config.Config `json:"config"`
	Changed []string      `json:"changed"`
	Restart []string      `json:"restart"`
}

// SystemService covers the workspace, its config file and the app itself.
type SystemService struct {
	ws   config.Workspace
	bus  events.Publisher
	live *config.Live
	// saveMu serialises SaveConfig so two saves cannot interleave write and publish.
	saveMu    sync.Mutex
	runDoctor func(context.Context) []doctor.Result
}

// NewSystemService serves and saves the config held by live.
func NewSystemService(ws config.Workspace, live *config.Live, bus events.Publisher,
	runDoctor func(context.Context) []doctor.Result) *SystemService {
	return &SystemService{ws: ws, live: live, bus: bus, runDoctor: runDoctor}
}

// Doctor runs the bootstrap checklist (the onboarding view).
func (s *SystemService) Doctor() ([]doctor.Result, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return s.runDoctor(ctx), nil
}

// Info returns versions and workspace facts.
func (s *SystemService) Info() (SystemInfo, error) {
	return SystemInfo{
		Workspace: s.ws.Name, Home: s.ws.Home, Version: version.Version,
		Versions: version.Components(), OS: runtime.GOOS + "/" + runtime.GOARCH,
	}, nil
}

// Config returns config.toml's text and its load error, if any.
func (s *SystemService) Config() (ConfigView, error) {
	data, err := os.ReadFile(s.ws.ConfigPath())
	if err != nil {
		return ConfigView{}, fmt.Errorf("read %s: %w", s.ws.ConfigPath(), err)
	}
	view := ConfigView{Path: s.ws.ConfigPath(), Text: string(data), Revision: revisionOf(data)}
	var le *config.LoadError
	if errors.As(s.live.LoadErr(), &le) {
		view.Error = le
	}
	return view, nil
}

// SaveConfig validates text and saves it only if it is valid; the view carries the
// error otherwise. base is the Revision of the view the text was edited from: when the
// file changed since, nothing is written and a conflict says so (the caller keeps its
// text). base "" saves regardless (the CLI and tests, which edit no earlier view).
// A valid config is written atomically and published to the live config at once; the
// view lists the changed keys that still need a restart.
func (s *SystemService) SaveConfig(text, base string) (ConfigView, error) {
	s.saveMu.Lock()
	defer s.saveMu.Unlock()
	if base != "" {
		current, err := os.ReadFile(s.ws.ConfigPath())
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			return ConfigView{}, fmt.Errorf("read %s: %w", s.ws.ConfigPath(), err)
		}
		if revisionOf(current) != base {
			return ConfigView{}, rpc.Conflict("config.toml was changed elsewhere since you opened it; nothing was saved",
				"Your text is still in the editor. Copy what you need, press Revert to load the saved file, then apply your change again.", nil)
		}
	}
	cfg, err := config.Parse(s.ws.ConfigPath(), []byte(text))
	var le *config.LoadError
	if errors.As(err, &le) {
		return ConfigView{Path: s.ws.ConfigPath(), Text: text, Error: le, Revision: base}, nil
	}
	if err != nil {
		return ConfigView{}, err
	}
	if err := config.WriteFileAtomic(s.ws.ConfigPath(), []byte(text), 0o600); err != nil {
		return ConfigView{}, fmt.Errorf("save config: %w", err)
	}
	old := s.live.Get()
	changed, restart := config.Changed(old, cfg), config.RestartKeys(old, cfg)
	s.live.Set(cfg)
	s.bus.Publish(TopicConfigChanged, ConfigChange{Config: cfg, Changed: nonNil(changed), Restart: nonNil(restart)})
	return ConfigView{Path: s.ws.ConfigPath(), Text: text, Changed: changed, Restart: restart,
		Revision: revisionOf([]byte(text))}, nil
}

// revisionOf names a config file's bytes (a missing file is the empty text).
func revisionOf(data []byte) string {
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// CurrentConfig is the config in force (defaults while the file is invalid). The UI
// reads the theme from it; tests use it to see that a saved key applied.
func (s *SystemService) CurrentConfig() config.Config { return s.live.Get() }

// OpenLogsFolder opens LOOPAT_HOME/logs in the platform's file manager.
func (s *SystemService) OpenLogsFolder() error {
	opener := "xdg-open"
	if runtime.GOOS == "darwin" {
		opener = "open"
	}
	if err := exec.Command(opener, s.ws.LogsDir()).Start(); err != nil {
		return fmt.Errorf("open %s with %s: %w", s.ws.LogsDir(), opener, err)
	}
	return nil
}
