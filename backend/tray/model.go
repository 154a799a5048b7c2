package tray

import (
	"fmt"

	"github.com/loopat/desktop/backend/engine"
	"github.com/loopat/desktop/backend/notify"
)

// MaxAttention is how many attention entries the menu lists; the rest fold into "more".
const MaxAttention = 6

// Item is one menu entry as the tray shows it.
type Item struct {
	Label   string
	Enabled bool
	Visible bool
}

// Menu is everything the tray shows, computed from the engine state, the loops that
// need attention and whether a machine action is running. It holds no systray types so
// it is unit-testable.
type Menu struct {
	Tooltip   string
	State     Item // read-only status line
	Start     Item
	Stop      Item
	Show      Item
	Attention []AttentionItem // at most MaxAttention
	More      Item            // "N more loops need you…" (opens the window)
	Quit      Item
}

// AttentionItem is an entry that opens a loop.
type AttentionItem struct {
	Item
	LoopID string
}

// Action is what a click asks for.
type Action int

const (
	ActionNone Action = iota
	ActionStart
	ActionStop
	ActionShow
	ActionOpenLoop
	ActionQuit
)

// BuildMenu computes the menu. busy is the machine action in flight (ActionStart,
// ActionStop or ActionNone); goos decides between "machine" and "podman service" wording.
func BuildMenu(st engine.State, goos string, attention []notify.Attention, busy Action) Menu {
	m := Menu{
		State: Item{Label: StateLabel(st), Visible: true},
		Show:  Item{Label: "Show window", Enabled: true, Visible: true},
		Quit:  Item{Label: "Quit loopat", Enabled: true, Visible: true},
	}
	m.Tooltip = "loopat — " + m.State.Label
	m.Start, m.Stop = machineItems(st, goos, busy)
	for i, a := range attention {
		if i == MaxAttention {
			m.More = Item{Label: fmt.Sprintf("%d more loops need you…", len(attention)-MaxAttention), Enabled: true, Visible: true}
			break
		}
		m.Attention = append(m.Attention, AttentionItem{
			Item:   Item{Label: truncate(a.Title, 40) + " — " + a.Kind.Label(), Enabled: true, Visible: true},
			LoopID: a.LoopID,
		})
	}
	return m
}

// machineItems: with a podman machine (macOS, or a Linux default connection that is
// one) Start/Stop drive it. On Linux without a machine the app's own podman service
// starts by itself, so Start shows only to retry it after an error and Stop is hidden.
func machineItems(st engine.State, goos string, busy Action) (start, stop Item) {
	hasMachine := st.Machine != "" || st.Phase == engine.PhaseMachineStopped
	if !hasMachine && goos != "linux" {
		// macOS/Windows with no machine yet: creating one is a window task.
		return Item{}, Item{}
	}
	if !hasMachine {
		if st.Phase == engine.PhaseError {
			return Item{Label: "Restart podman service", Enabled: busy == ActionNone, Visible: true}, Item{}
		}
		return Item{}, Item{}
	}
	start = Item{Label: "Start machine", Visible: true}
	stop = Item{Label: "Stop machine", Visible: true}
	switch {
	case busy == ActionStart || (st.Phase == engine.PhaseStarting && busy == ActionNone):
		start.Label = "Starting machine…"
	case busy == ActionStop:
		stop.Label = "Stopping machine…"
	default:
		start.Enabled = st.Phase == engine.PhaseMachineStopped || st.Phase == engine.PhaseError
		stop.Enabled = st.Phase == engine.PhaseReady || st.Phase == engine.PhaseError
	}
	return start, stop
}

// StateLabel is the status line for an engine state.
func StateLabel(st engine.State) string {
	var s string
	switch st.Phase {
	case engine.PhaseReady:
		s = "Podman ready"
		switch {
		case st.Machine != "":
			s += " · machine " + st.Machine
		case st.Source == engine.SourceOwnService:
			s += " · app-managed service"
		}
	case engine.PhaseMachineStopped:
		s = "Podman machine stopped"
		if st.Machine != "" {
			s = "Podman machine " + st.Machine + " stopped"
		}
	case engine.PhaseStarting:
		s = "Podman starting…"
		if st.Reason != "" {
			s = "Podman: " + st.Reason + "…"
		}
	case engine.PhaseAbsent:
		s = "Podman not available"
		if st.Reason != "" {
			s = "Podman: " + st.Reason
		}
	case engine.PhaseError:
		s = "Podman error"
		if st.Reason != "" {
			s += ": " + st.Reason
		}
	default:
		s = "Podman: " + string(st.Phase)
	}
	return truncate(s, 64)
}

func truncate(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}
