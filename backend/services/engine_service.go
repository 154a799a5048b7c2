package services

import (
	"context"
	"os"
	"runtime"
	"time"

	"github.com/loopat/desktop/backend/doctor"
	"github.com/loopat/desktop/backend/engine"
	"github.com/loopat/desktop/backend/machine"
)

// Bounds for UI-triggered engine work; machine start has its own configured timeout.
const (
	reconnectTimeout   = 30 * time.Second
	machineListTimeout = 15 * time.Second
	machineInitTimeout = 30 * time.Minute // downloads the VM image
	machineStopTimeout = 2 * time.Minute
	doctorTimeout      = 10 * time.Second
)

// EngineService exposes the podman engine, the podman machine and the bootstrap
// checklist. State changes arrive as "engine:state" events, machine output as
// "machine:progress" events.
type EngineService struct {
	ctx  context.Context // app lifetime
	eng  *engine.Engine
	deps func() doctor.Deps // built per run: the checklist reads the live config
}

// NewEngineService wires the engine and the checklist's dependencies (their Engine is
// set to eng).
func NewEngineService(appCtx context.Context, eng *engine.Engine, deps func() doctor.Deps) *EngineService {
	return &EngineService{ctx: appCtx, eng: eng, deps: func() doctor.Deps {
		d := deps()
		d.Engine = eng
		return d
	}}
}

// State is the current engine state.
func (s *EngineService) State() (engine.State, error) { return s.eng.State(), nil }

// Reconnect re-runs discovery now; it fails with the reason when podman is not ready.
func (s *EngineService) Reconnect() error {
	ctx, cancel := context.WithTimeout(s.ctx, reconnectTimeout)
	defer cancel()
	if st := s.eng.Refresh(ctx); st.Phase != engine.PhaseReady {
		return &engine.NotReadyError{State: st}
	}
	return nil
}

// Machines lists the podman machines.
func (s *EngineService) Machines() ([]machine.Info, error) {
	// Podman machines are a macOS (or rootless Linux) thing; podman refuses to list them
	// as root, which is not an error worth showing.
	if runtime.GOOS == "linux" && os.Geteuid() == 0 {
		return []machine.Info{}, nil
	}
	ctx, cancel := context.WithTimeout(s.ctx, machineListTimeout)
	defer cancel()
	list, err := s.eng.Machines().List(ctx)
	if list == nil {
		list = []machine.Info{}
	}
	return list, err
}

// InitMachine creates the podman machine with the configured CPUs, memory and disk.
func (s *EngineService) InitMachine() error {
	ctx, cancel := context.WithTimeout(s.ctx, machineInitTimeout)
	defer cancel()
	return s.eng.InitMachine(ctx)
}

// StartMachine boots the podman machine; a failure carries a diagnosis and a fix.
func (s *EngineService) StartMachine() error {
	return s.eng.StartMachine(s.ctx, "")
}

// StopMachine stops the podman machine (never removes it).
func (s *EngineService) StopMachine() error {
	ctx, cancel := context.WithTimeout(s.ctx, machineStopTimeout)
	defer cancel()
	return s.eng.StopMachine(ctx, "")
}

// Doctor runs the bootstrap checklist.
func (s *EngineService) Doctor() ([]doctor.Result, error) {
	ctx, cancel := context.WithTimeout(s.ctx, doctorTimeout)
	defer cancel()
	return doctor.Run(ctx, s.deps()), nil
}
