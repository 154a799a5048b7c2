package notify

import (
	"context"
	"fmt"
	"sync"

	"github.com/godbus/dbus/v5"
)

const (
	fdName  = "org.freedesktop.Notifications"
	fdPath  = dbus.ObjectPath("/org/freedesktop/Notifications")
	fdIface = "org.freedesktop.Notifications"
)

// Freedesktop sends notifications through org.freedesktop.Notifications on the session
// bus; a click (ActionInvoked "default" or "open") is reported on Clicks.
type Freedesktop struct {
	conn    *dbus.Conn
	appName string
	icon    string
	clicks  chan string
	signals chan *dbus.Signal
	done    chan struct{}

	mu    sync.Mutex
	loops map[uint32]string // notification id -> loop id
}

// NewFreedesktop connects privately to the session bus (never the shared connection,
// which the tray closes on exit). icon is a freedesktop icon name or absolute path.
func NewFreedesktop(appName, icon string) (*Freedesktop, error) {
	conn, err := dbus.ConnectSessionBus()
	if err != nil {
		return nil, fmt.Errorf("notifications: connect session bus: %w", err)
	}
	return newFreedesktop(conn, appName, icon)
}

func newFreedesktop(conn *dbus.Conn, appName, icon string) (*Freedesktop, error) {
	for _, member := range []string{"ActionInvoked", "NotificationClosed"} {
		if err := conn.AddMatchSignal(dbus.WithMatchInterface(fdIface), dbus.WithMatchMember(member),
			dbus.WithMatchObjectPath(fdPath)); err != nil {
			conn.Close()
			return nil, fmt.Errorf("notifications: watch %s: %w", member, err)
		}
	}
	f := &Freedesktop{conn: conn, appName: appName, icon: icon, clicks: make(chan string, 16),
		signals: make(chan *dbus.Signal, 32), done: make(chan struct{}), loops: map[uint32]string{}}
	conn.Signal(f.signals)
	go f.watch()
	return f, nil
}

func (f *Freedesktop) watch() {
	defer close(f.done)
	for sig := range f.signals {
		if sig == nil || len(sig.Body) < 2 {
			continue
		}
		id, ok := sig.Body[0].(uint32)
		if !ok {
			continue
		}
		switch sig.Name {
		case fdIface + ".ActionInvoked":
			key, _ := sig.Body[1].(string)
			f.mu.Lock()
			loop, known := f.loops[id]
			f.mu.Unlock()
			if known && (key == "default" || key == "open") {
				select {
				case f.clicks <- loop:
				default: // nobody listening: drop rather than block the bus reader
				}
			}
		case fdIface + ".NotificationClosed":
			f.mu.Lock()
			delete(f.loops, id)
			f.mu.Unlock()
		}
	}
}

// Send calls Notify with a default action (click on the bubble) and an "Open" button.
func (f *Freedesktop) Send(ctx context.Context, m Message) (uint32, error) {
	actions := []string{"default", "Open loop", "open", "Open"}
	hints := map[string]dbus.Variant{
		"category":      dbus.MakeVariant("im.received"),
		"desktop-entry": dbus.MakeVariant("loopat"),
	}
	var id uint32
	err := f.conn.Object(fdName, fdPath).CallWithContext(ctx, fdIface+".Notify", 0,
		f.appName, m.Replaces, f.icon, m.Summary, m.Body, actions, hints, int32(-1)).Store(&id)
	if err != nil {
		return 0, fmt.Errorf("notifications: Notify: %w", err)
	}
	f.mu.Lock()
	f.loops[id] = m.LoopID
	f.mu.Unlock()
	return id, nil
}

// Withdraw closes a shown notification (CloseNotification); a bubble already gone is fine.
func (f *Freedesktop) Withdraw(ctx context.Context, id uint32) error {
	f.mu.Lock()
	delete(f.loops, id)
	f.mu.Unlock()
	if err := f.conn.Object(fdName, fdPath).CallWithContext(ctx, fdIface+".CloseNotification", 0, id).Err; err != nil {
		return fmt.Errorf("notifications: CloseNotification: %w", err)
	}
	return nil
}

// Clicks yields the loop id of each clicked notification.
func (f *Freedesktop) Clicks() <-chan string { return f.clicks }

// Close ends the bus connection.
func (f *Freedesktop) Close() error {
	err := f.conn.Close()
	return err
}
