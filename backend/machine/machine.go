// Package machine drives the podman machine (the Linux VM podman needs on macOS) through
// the podman CLI, because the bindings have no machine API. It lists, initialises,
// starts, stops and inspects machines; it deliberately has no remove or reset: the app
// never destroys a user's VM. A start that hangs or fails is diagnosed (Diagnose) so the
// user sees a likely cause and a fix instead of a raw error.
package machine

import (
	"context"
	"time"

	"github.com/loopat/desktop/backend/config"
	"github.com/loopat/desktop/backend/events"
)

// Info is one machine as `podman machine list --format json` reports it (podman 5).
type Info struct {
	Name      string `json:"name"`
	Default   bool   `json:"default"`
	Running   bool   `json:"running"`
	Starting  bool   `json:"starting"`
	VMType    string `json:"vmType"`
	CPUs      uint64 `json:"cpus"`
	MemoryMiB uint64 `json:"memoryMiB"`
	DiskGiB   uint64 `json:"diskGiB"`
	LastUp    string `json:"lastUp,omitempty"`
}

// Inspect is the part of `podman machine inspect` the app uses.
type Inspect struct {
	Name string `json:"name"`
	// State is "running", "stopped" or "starting".
	State string `json:"state"`
	// Socket is the host path of the machine's forwarded podman API socket.
	Socket    string `json:"socket,omitempty"`
	CPUs      uint64 `json:"cpus"`
	MemoryMiB uint64 `json:"memoryMiB"`
	DiskGiB   uint64 `json:"diskGiB"`
	Rootful   bool   `json:"rootful"`
}

// InitOptions size a new machine.
type InitOptions struct {
	Name      string `json:"name,omitempty"` // empty = podman's default machine
	CPUs      int    `json:"cpus"`
	MemoryMiB int    `json:"memoryMiB"`
	DiskGiB   int    `json:"diskGiB"`
}

// DefaultInitOptions are the configured sizes, with sane floors for a dev workbench.
func DefaultInitOptions(m config.Machine) InitOptions {
	o := InitOptions{Name: m.Name, CPUs: m.CPUs, MemoryMiB: m.MemoryMiB, DiskGiB: m.DiskGiB}
	if o.CPUs <= 0 {
		o.CPUs = 4
	}
	if o.MemoryMiB < 2048 {
		o.MemoryMiB = 4096
	}
	if o.DiskGiB < 20 {
		o.DiskGiB = 60
	}
	return o
}

// Progress receives human-readable progress lines (podman's own output).
type Progress func(line string)

// Provider is the machine lifecycle the app needs. There is intentionally no Remove/Reset.
type Provider interface {
	List(ctx context.Context) ([]Info, error)
	Init(ctx context.Context, opts InitOptions, progress Progress) error
	// Start boots name (empty = default machine) and gives up after the configured timeout.
	// Failures are *StartError carrying a Diagnosis.
	Start(ctx context.Context, name string, progress Progress) error
	Stop(ctx context.Context, name string) error
	Inspect(ctx context.Context, name string) (Inspect, error)
}

// ProgressEvent is the payload of the "machine:progress" bus topic.
type ProgressEvent struct {
	Machine string    `json:"machine"`
	Action  string    `json:"action"` // init | start | stop
	Line    string    `json:"line"`
	Time    time.Time `json:"time"`
}

// TopicProgress carries machine progress lines.
const TopicProgress = events.TopicMachineProgress

// BusProgress publishes each line as a ProgressEvent (bus may be nil).
func BusProgress(bus events.Publisher, machineName, action string) Progress {
	return func(line string) {
		if bus != nil {
			bus.Publish(TopicProgress, ProgressEvent{Machine: machineName, Action: action, Line: line, Time: time.Now()})
		}
	}
}

// Pick chooses the machine the app works with: the configured name, else podman's
// default, else the only/first one. ok is false when there is no machine.
func Pick(list []Info, configured string) (Info, bool) {
	if configured != "" {
		for _, m := range list {
			if m.Name == configured {
				return m, true
			}
		}
		return Info{}, false
	}
	for _, m := range list {
		if m.Default {
			return m, true
		}
	}
	if len(list) > 0 {
		return list[0], true
	}
	return Info{}, false
}
