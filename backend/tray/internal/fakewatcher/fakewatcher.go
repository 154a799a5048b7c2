// Package fakewatcher is test support for the tray: a private D-Bus session bus, a
// minimal org.kde.StatusNotifierWatcher (the tray host's registry) and a dbusmenu client
// that reads and clicks a StatusNotifierItem's menu, as a desktop panel would.
package fakewatcher

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/godbus/dbus/v5"
)

// Bus is a private dbus-daemon (what dbus-run-session starts).
type Bus struct {
	Address string
	cmd     *exec.Cmd
}

// StartBus runs dbus-daemon with the session config on a socket in dir.
func StartBus(dir string) (*Bus, error) {
	cmd := exec.Command("dbus-daemon", "--config-file=/usr/share/dbus-1/session.conf", "--nofork",
		"--address=unix:path="+filepath.Join(dir, "bus"), "--print-address=1")
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start dbus-daemon (apt install dbus-daemon): %w", err)
	}
	line := make(chan string, 1)
	go func() {
		s, _ := bufio.NewReader(out).ReadString('\n')
		line <- strings.TrimSpace(s)
	}()
	select {
	case addr := <-line:
		if addr == "" {
			cmd.Process.Kill()
			cmd.Wait()
			return nil, errors.New("dbus-daemon printed no address")
		}
		return &Bus{Address: addr, cmd: cmd}, nil
	case <-time.After(10 * time.Second):
		cmd.Process.Kill()
		cmd.Wait()
		return nil, errors.New("dbus-daemon did not start within 10s")
	}
}

// Close stops the daemon.
func (b *Bus) Close() {
	if b.cmd.Process != nil {
		b.cmd.Process.Kill()
		b.cmd.Wait()
	}
}

// Item is a registered StatusNotifierItem.
type Item struct {
	Service string          // the registering connection's bus name
	Path    dbus.ObjectPath // its object path
}

// Watcher is a fake org.kde.StatusNotifierWatcher that records registrations.
type Watcher struct {
	conn  *dbus.Conn
	mu    sync.Mutex
	items []Item
	added chan Item
}

// StartWatcher connects to address and owns org.kde.StatusNotifierWatcher there.
func StartWatcher(address string) (*Watcher, error) {
	conn, err := dbus.Connect(address)
	if err != nil {
		return nil, fmt.Errorf("watcher: connect: %w", err)
	}
	w := &Watcher{conn: conn, added: make(chan Item, 8)}
	if err := conn.Export(w, "/StatusNotifierWatcher", "org.kde.StatusNotifierWatcher"); err != nil {
		conn.Close()
		return nil, err
	}
	reply, err := conn.RequestName("org.kde.StatusNotifierWatcher", dbus.NameFlagDoNotQueue)
	if err != nil || reply != dbus.RequestNameReplyPrimaryOwner {
		conn.Close()
		return nil, fmt.Errorf("watcher: own name: reply %v err %v", reply, err)
	}
	return w, nil
}

// RegisterStatusNotifierItem is the D-Bus method items call. service is an object path
// (item on the caller's connection) or a bus name (item at /StatusNotifierItem).
func (w *Watcher) RegisterStatusNotifierItem(sender dbus.Sender, service string) *dbus.Error {
	it := Item{Service: string(sender), Path: "/StatusNotifierItem"}
	if strings.HasPrefix(service, "/") {
		it.Path = dbus.ObjectPath(service)
	} else if service != "" {
		it.Service = service
	}
	w.mu.Lock()
	w.items = append(w.items, it)
	w.mu.Unlock()
	select {
	case w.added <- it:
	default:
	}
	return nil
}

// RegisterStatusNotifierHost is part of the interface; hosts are not tracked.
func (w *Watcher) RegisterStatusNotifierHost(string) *dbus.Error { return nil }

// WaitItem returns the first registered item, waiting up to d.
func (w *Watcher) WaitItem(d time.Duration) (Item, error) {
	w.mu.Lock()
	if len(w.items) > 0 {
		it := w.items[0]
		w.mu.Unlock()
		return it, nil
	}
	w.mu.Unlock()
	select {
	case it := <-w.added:
		return it, nil
	case <-time.After(d):
		return Item{}, fmt.Errorf("no StatusNotifierItem registered within %s", d)
	}
}

// Close releases the name.
func (w *Watcher) Close() { w.conn.Close() }

// Entry is one dbusmenu item.
type Entry struct {
	ID      int32
	Label   string
	Type    string // "separator" or ""
	Enabled bool
	Visible bool
}

// Menu reads and clicks an item's dbusmenu, like a panel does.
type Menu struct {
	conn *dbus.Conn
	obj  dbus.BusObject
}

// OpenMenu connects to address and finds the item's menu path (its Menu property).
func OpenMenu(address string, it Item) (*Menu, error) {
	conn, err := dbus.Connect(address)
	if err != nil {
		return nil, err
	}
	v, err := conn.Object(it.Service, it.Path).GetProperty("org.kde.StatusNotifierItem.Menu")
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("read Menu property: %w", err)
	}
	path, ok := v.Value().(dbus.ObjectPath)
	if !ok {
		conn.Close()
		return nil, fmt.Errorf("Menu property is %T", v.Value())
	}
	return &Menu{conn: conn, obj: conn.Object(it.Service, path)}, nil
}

// ItemProperty reads a StatusNotifierItem property of it.
func (m *Menu) ItemProperty(it Item, name string) (dbus.Variant, error) {
	return m.conn.Object(it.Service, it.Path).GetProperty("org.kde.StatusNotifierItem." + name)
}

type layout struct {
	ID       int32
	Props    map[string]dbus.Variant
	Children []dbus.Variant
}

// Entries is the flat list of top-level entries (com.canonical.dbusmenu.GetLayout).
func (m *Menu) Entries() ([]Entry, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var rev uint32
	var root layout
	if err := m.obj.CallWithContext(ctx, "com.canonical.dbusmenu.GetLayout", 0, int32(0), int32(-1), []string{}).
		Store(&rev, &root); err != nil {
		return nil, fmt.Errorf("GetLayout: %w", err)
	}
	var out []Entry
	for _, c := range root.Children {
		var l layout
		if err := dbus.Store([]any{c.Value()}, &l); err != nil {
			return nil, fmt.Errorf("decode child: %w", err)
		}
		e := Entry{ID: l.ID, Enabled: true, Visible: true}
		if v, ok := l.Props["label"]; ok {
			e.Label, _ = v.Value().(string)
		}
		if v, ok := l.Props["type"]; ok {
			e.Type, _ = v.Value().(string)
		}
		if v, ok := l.Props["enabled"]; ok {
			e.Enabled, _ = v.Value().(bool)
		}
		if v, ok := l.Props["visible"]; ok {
			e.Visible, _ = v.Value().(bool)
		}
		out = append(out, e)
	}
	return out, nil
}

// Click sends Event(id, "clicked") as a panel does when the user picks an entry.
func (m *Menu) Click(id int32) error {
	return m.obj.Call("com.canonical.dbusmenu.Event", 0, id, "clicked", dbus.MakeVariant(""), uint32(time.Now().Unix())).Err
}

// Close ends the client connection.
func (m *Menu) Close() { m.conn.Close() }
