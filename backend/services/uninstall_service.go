package services

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/loopat/desktop/backend/events"
	"github.com/loopat/desktop/backend/uninstall"
)

// Uninstall event topics.
const (
	TopicUninstallProgress = events.TopicUninstallProgress // uninstall.Step
	TopicUninstallDone     = events.TopicUninstallDone     // UninstallDone
)

// UninstallDone is the payload of "uninstall:done". Quit tells the desktop shell to exit:
// the workspace's engine service, keychain items and (without keep-data) files are gone.
type UninstallDone struct {
	Result uninstall.Result `json:"result"`
	Quit   bool             `json:"quit"`
}

// UninstallService is the settings screen's Uninstall button: a plan, then one confirmed
// run whose progress arrives as events.
type UninstallService struct {
	ctx  context.Context // app lifetime
	deps uninstall.Deps
	bus  events.Publisher

	mu      sync.Mutex
	running bool
}

// NewUninstallService wires uninstall to the app's workspace, engine, vault and loops.
func NewUninstallService(appCtx context.Context, deps uninstall.Deps, bus events.Publisher) *UninstallService {
	return &UninstallService{ctx: appCtx, deps: deps, bus: bus}
}

// Plan lists exactly what an uninstall would remove and what stays.
func (s *UninstallService) Plan(keepData bool) (uninstall.Plan, error) {
	ctx, cancel := context.WithTimeout(s.ctx, 30*time.Second)
	defer cancel()
	return uninstall.MakePlan(ctx, s.deps, uninstall.Options{KeepData: keepData})
}

// Run starts the uninstall in the background when confirmName is the workspace name.
// Progress: "uninstall:progress" per step; the end: "uninstall:done".
func (s *UninstallService) Run(confirmName string, keepData bool) error {
	name := s.deps.Workspace.Name
	if !uninstall.Confirmed(confirmName, name) {
		return fmt.Errorf("type the workspace name %q to confirm the uninstall", name)
	}
	s.mu.Lock()
	if s.running {
		s.mu.Unlock()
		return errors.New("an uninstall is already running")
	}
	s.running = true
	s.mu.Unlock()
	// The run outlives app shutdown requests: a half-finished uninstall is worse than a late quit.
	ctx := context.WithoutCancel(s.ctx)
	go func() {
		res := uninstall.Run(ctx, s.deps, uninstall.Options{KeepData: keepData}, func(st uninstall.Step) {
			s.publish(TopicUninstallProgress, st)
		})
		s.mu.Lock()
		s.running = false
		s.mu.Unlock()
		s.publish(TopicUninstallDone, UninstallDone{Result: res, Quit: res.Complete()})
	}()
	return nil
}

// Running reports whether an uninstall is in progress (for a reloaded settings screen).
func (s *UninstallService) Running() (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.running, nil
}

func (s *UninstallService) publish(topic string, data any) {
	if s.bus != nil {
		s.bus.Publish(topic, data)
	}
}
