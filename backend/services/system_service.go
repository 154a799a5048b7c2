package services

import (
	"context"
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
type ConfigView struct {
	Path  string            `json:"path"`
	Text  string            `json:"text"`
	Error *config.LoadError `json:"error,omitempty"`
}

// SystemService covers the workspace, its config file and the app itself.
type SystemService struct {
	ws     config.Workspace
	bus    events.Publisher
	mu     sync.Mutex
	cfg    config.Config
	cfgErr error
	// onConfig is told about every successfully saved config (services re-read settings).
	onConfig  func(config.Config)
	runDoctor func(context.Context) []doctor.Result
}

// NewSystemService wraps the loaded config (and its load error, if any).
func NewSystemService(ws config.Workspace, cfg config.Config, cfgErr error, bus events.Publisher,
	onConfig func(config.Config), runDoctor func(context.Context) []doctor.Result) *SystemService {
	return &SystemService{ws: ws, cfg: cfg, cfgErr: cfgErr, bus: bus, onConfig: onConfig, runDoctor: runDoctor}
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
	view := ConfigView{Path: s.ws.ConfigPath(), Text: string(data)}
	s.mu.Lock()
	defer s.mu.Unlock()
	var le *config.LoadError
	if errors.As(s.cfgErr, &le) {
		view.Error = le
	}
	return view, nil
}

// SaveConfig validates text and saves it only if it is valid; the view carries the error otherwise.
func (s *SystemService) SaveConfig(text string) (ConfigView, error) {
	cfg, err := config.Parse(s.ws.ConfigPath(), []byte(text))
	var le *config.LoadError
	if errors.As(err, &le) {
		return ConfigView{Path: s.ws.ConfigPath(), Text: text, Error: le}, nil
	}
	if err != nil {
		return ConfigView{}, err
	}
	tmp := s.ws.ConfigPath() + ".tmp"
	if err := os.WriteFile(tmp, []byte(text), 0o600); err != nil {
		return ConfigView{}, fmt.Errorf("save config: %w", err)
	}
	if err := os.Rename(tmp, s.ws.ConfigPath()); err != nil {
		return ConfigView{}, fmt.Errorf("save config: %w", err)
	}
	s.mu.Lock()
	s.cfg, s.cfgErr = cfg, nil
	s.mu.Unlock()
	if s.onConfig != nil {
		s.onConfig(cfg)
	}
	s.bus.Publish("config:changed", nil)
	return ConfigView{Path: s.ws.ConfigPath(), Text: text}, nil
}

// CurrentConfig is the config in force (defaults when the file is invalid).
func (s *SystemService) CurrentConfig() config.Config {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cfg
}

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
