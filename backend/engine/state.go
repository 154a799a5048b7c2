package engine

import (
	"fmt"
	"time"

	"github.com/loopat/desktop/backend/events"
	"github.com/loopat/desktop/backend/machine"
)

// Phase is the one observable engine condition the UI, tray and checklist read.
type Phase string

const (
	PhaseAbsent         Phase = "absent"          // no podman (or, on macOS, no machine) to talk to
	PhaseMachineStopped Phase = "machine-stopped" // a podman machine exists but is not running
	PhaseStarting       Phase = "starting"        // discovery, own service or machine start in progress
	PhaseReady          Phase = "ready"           // connected; Conn works
	PhaseError          Phase = "error"           // podman is there but unusable; Reason says why
)

// TopicState is the bus topic of every State change.
const TopicState = events.TopicEngineState

// Discovery sources, in the order they are tried.
const (
	SourceContainerHost = "CONTAINER_HOST"
	SourceConfig        = "config"
	SourceConnection    = "connection"      // default `podman system connection`, "connection:<name>"
	SourceMachine       = "machine"         // running machine's socket, "machine:<name>"
	SourceRootless      = "rootless-socket" // $XDG_RUNTIME_DIR/podman/podman.sock
	SourceRootful       = "rootful-socket"  // /run/podman/podman.sock
	SourceOwnService    = "loopat-service"  // `podman system service` the app started and supervises
)

// State is the engine's observable condition.
type State struct {
	Phase   Phase  `json:"phase"`
	Reason  string `json:"reason,omitempty"`
	Hint    string `json:"hint,omitempty"`
	Source  string `json:"source,omitempty"`
	URI     string `json:"uri,omitempty"`
	Version string `json:"version,omitempty"`
	Machine string `json:"machine,omitempty"`
	// Diagnosis of the last failed machine start, shown until the engine is ready.
	Diagnosis *machine.Diagnosis `json:"diagnosis,omitempty"`
	// Host is what the connected server reported (ready only).
	Host  HostInfo  `json:"host"`
	Since time.Time `json:"since"`
}

// same reports whether two states look identical to a user (Since ignored).
func (s State) same(o State) bool {
	s.Since, o.Since = time.Time{}, time.Time{}
	sd, od := s.Diagnosis, o.Diagnosis
	s.Diagnosis, o.Diagnosis = nil, nil
	if s != o {
		return false
	}
	if (sd == nil) != (od == nil) {
		return false
	}
	return sd == nil || *sd == *od
}

// NotReadyError is returned by Conn and WaitReady when the engine cannot be used.
type NotReadyError struct{ State State }

func (e *NotReadyError) Error() string {
	msg := fmt.Sprintf("podman engine is %s", e.State.Phase)
	if e.State.Reason != "" {
		msg += ": " + e.State.Reason
	}
	if e.State.Hint != "" {
		msg += " (" + e.State.Hint + ")"
	}
	return msg
}
