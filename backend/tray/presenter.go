package tray

import (
	"log/slog"
	"sync"

	"github.com/loopat/desktop/backend/events"
	"github.com/loopat/desktop/backend/notify"
)

// presenter keeps the tray's model (engine state, attention list, action in flight) and
// turns bus events and clicks into Controller calls and re-renders. It knows nothing
// of systray, so tests drive it with a recording render func.
type presenter struct {
	ctrl      Controller
	goos      string
	log       *slog.Logger
	loopTitle func(id string) string

	renderMu sync.Mutex // renders happen in order
	render   func(Menu)

	attention *notify.AttentionList

	mu   sync.Mutex
	busy Action
	menu Menu
	wg   sync.WaitGroup // machine actions in flight
}

func newPresenter(ctrl Controller, goos string, log *slog.Logger, loopTitle func(string) string, render func(Menu)) *presenter {
	return &presenter{ctrl: ctrl, goos: goos, log: log, loopTitle: loopTitle, render: render,
		attention: notify.NewAttentionList(loopTitle)}
}

// wantsTopic is the bus filter: engine state and loop statuses.
func wantsTopic(topic string) bool {
	return topic == events.TopicEngineState || notify.IsStatusTopic(topic)
}

// refresh rebuilds the menu from the controller's state and renders it.
func (p *presenter) refresh() {
	p.renderMu.Lock()
	defer p.renderMu.Unlock()
	st := p.ctrl.State()
	p.mu.Lock()
	m := BuildMenu(st, p.goos, p.attention.Items(), p.busy)
	p.menu = m
	p.mu.Unlock()
	p.render(m)
}

// current is the last rendered menu.
func (p *presenter) current() Menu {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.menu
}

// onEvent updates the model from one bus event; it reports whether to re-render.
func (p *presenter) onEvent(ev events.Event) bool {
	if ev.Topic == events.TopicEngineState {
		return true
	}
	return p.attention.Observe(ev)
}

// click performs a menu action. slot is the attention entry index for ActionOpenLoop.
// Machine actions run in the background (they take minutes); a second click while one
// runs is ignored (the item is disabled anyway).
func (p *presenter) click(a Action, slot int) {
	switch a {
	case ActionStart, ActionStop:
		p.mu.Lock()
		if p.busy != ActionNone {
			p.mu.Unlock()
			return
		}
		p.busy = a
		p.wg.Add(1)
		p.mu.Unlock()
		p.refresh()
		go func() {
			defer p.wg.Done()
			var err error
			if a == ActionStart {
				err = p.ctrl.StartMachine()
			} else {
				err = p.ctrl.StopMachine()
			}
			if err != nil {
				p.log.Warn("tray machine action failed", "action", actionName(a), "err", err)
			}
			p.mu.Lock()
			p.busy = ActionNone
			p.mu.Unlock()
			p.refresh()
		}()
	case ActionShow:
		p.ctrl.ShowWindow()
	case ActionOpenLoop:
		p.mu.Lock()
		if slot < 0 || slot >= len(p.menu.Attention) {
			p.mu.Unlock()
			return
		}
		id := p.menu.Attention[slot].LoopID
		p.mu.Unlock()
		p.attention.Remove(id)
		p.ctrl.OpenLoop(id)
		p.refresh()
	case ActionQuit:
		p.ctrl.Quit()
	}
}

func actionName(a Action) string {
	switch a {
	case ActionStart:
		return "start"
	case ActionStop:
		return "stop"
	}
	return "other"
}
