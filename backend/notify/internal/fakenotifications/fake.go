// Package fakenotifications is test support for notify: a private D-Bus session bus and
// a fake org.freedesktop.Notifications server that records Notify calls and can emit
// ActionInvoked as a desktop does when the user clicks a notification.
package fakenotifications

import (
	"bufio"
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
		if addr != "" {
			return &Bus{Address: addr, cmd: cmd}, nil
		}
	case <-time.After(10 * time.Second):
	}
	cmd.Process.Kill()
	cmd.Wait()
	return nil, errors.New("dbus-daemon did not print its address")
}

// Close stops the daemon.
func (b *Bus) Close() {
	b.cmd.Process.Kill()
	b.cmd.Wait()
}

// Call is one recorded Notify.
type Call struct {
	ID         uint32
	AppName    string
	ReplacesID uint32
	Icon       string
	Summary    string
	Body       string
	Actions    []string
	Hints      map[string]dbus.Variant
	Timeout    int32
}

// Server is the fake notification daemon.
type Server struct {
	conn   *dbus.Conn
	mu     sync.Mutex
	calls  []Call
	closed []uint32 // CloseNotification ids, in order
	nextID uint32
}

const path = dbus.ObjectPath("/org/freedesktop/Notifications")
const iface = "org.freedesktop.Notifications"

// Start owns org.freedesktop.Notifications on the bus at address.
func Start(address string) (*Server, error) {
	conn, err := dbus.Connect(address)
	if err != nil {
		return nil, err
	}
	s := &Server{conn: conn}
	if err := conn.Export(s, path, iface); err != nil {
		conn.Close()
		return nil, err
	}
	reply, err := conn.RequestName(iface, dbus.NameFlagDoNotQueue)
	if err != nil || reply != dbus.RequestNameReplyPrimaryOwner {
		conn.Close()
		return nil, fmt.Errorf("own %s: reply %v err %v", iface, reply, err)
	}
	return s, nil
}

// Notify records the call and returns a new id (or replaces_id when given).
func (s *Server) Notify(app string, replaces uint32, icon, summary, body string, actions []string,
	hints map[string]dbus.Variant, timeout int32) (uint32, *dbus.Error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	id := replaces
	if id == 0 {
		s.nextID++
		id = s.nextID
	}
	s.calls = append(s.calls, Call{ID: id, AppName: app, ReplacesID: replaces, Icon: icon, Summary: summary,
		Body: body, Actions: actions, Hints: hints, Timeout: timeout})
	return id, nil
}

// GetCapabilities reports action support.
func (s *Server) GetCapabilities() ([]string, *dbus.Error) {
	return []string{"actions", "body"}, nil
}

// CloseNotification emits NotificationClosed (reason 3: closed by a call).
func (s *Server) CloseNotification(id uint32) *dbus.Error {
	s.mu.Lock()
	s.closed = append(s.closed, id)
	s.mu.Unlock()
	s.conn.Emit(path, iface+".NotificationClosed", id, uint32(3))
	return nil
}

// GetServerInformation names the fake.
func (s *Server) GetServerInformation() (string, string, string, string, *dbus.Error) {
	return "fake-notifications", "loopat", "0", "1.2", nil
}

// Closed is every CloseNotification id so far.
func (s *Server) Closed() []uint32 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]uint32(nil), s.closed...)
}

// Calls is every Notify so far.
func (s *Server) Calls() []Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Call(nil), s.calls...)
}

// Invoke emits ActionInvoked(id, key), as when the user clicks the notification.
func (s *Server) Invoke(id uint32, key string) error {
	return s.conn.Emit(path, iface+".ActionInvoked", id, key)
}

// Close releases the name.
func (s *Server) Close() { s.conn.Close() }
