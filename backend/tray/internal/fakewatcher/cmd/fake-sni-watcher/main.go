// Command fake-sni-watcher is a stand-in tray host for manual and GUI tests: it owns
// org.kde.StatusNotifierWatcher on the current session bus, waits for an item to
// register, prints its menu as JSON (one line per change), and can click entries.
//
//	fake-sni-watcher [-timeout 30s] [-click "Quit loopat" [-after "Podman ready"]] [-once]
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"reflect"
	"strings"
	"time"

	"github.com/loopat/desktop/backend/tray/internal/fakewatcher"
)

func main() {
	timeout := flag.Duration("timeout", 30*time.Second, "how long to wait for an item, and to watch its menu")
	click := flag.String("click", "", "click the entry with this label once it is enabled")
	once := flag.Bool("once", false, "print the first menu (after -click, the one after it) and exit")
	after := flag.String("after", "", "click only once the first entry (the state line) starts with this")
	flag.Parse()
	if err := run(*timeout, *click, *after, *once); err != nil {
		fmt.Fprintln(os.Stderr, "fake-sni-watcher:", err)
		os.Exit(1)
	}
}

func run(timeout time.Duration, click, after string, once bool) error {
	addr := os.Getenv("DBUS_SESSION_BUS_ADDRESS")
	if addr == "" {
		return fmt.Errorf("DBUS_SESSION_BUS_ADDRESS is unset (run under dbus-run-session)")
	}
	w, err := fakewatcher.StartWatcher(addr)
	if err != nil {
		return err
	}
	defer w.Close()
	fmt.Fprintln(os.Stderr, "fake-sni-watcher: watching", addr)
	item, err := w.WaitItem(timeout)
	if err != nil {
		return err
	}
	m, err := fakewatcher.OpenMenu(addr, item)
	if err != nil {
		return err
	}
	defer m.Close()
	enc := json.NewEncoder(os.Stdout)
	var last []fakewatcher.Entry
	clicked := click == ""
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		es, err := m.Entries()
		if err != nil {
			return err
		}
		if !reflect.DeepEqual(es, last) {
			last = es
			if err := enc.Encode(map[string]any{"item": item, "entries": es}); err != nil {
				return err
			}
			if once && clicked {
				return nil
			}
		}
		if !clicked && (after == "" || len(es) > 0 && strings.HasPrefix(es[0].Label, after)) {
			for _, e := range es {
				if e.Label == click && e.Enabled && e.Visible {
					if err := m.Click(e.ID); err != nil {
						return err
					}
					clicked = true
					last = nil // print the menu after the click
				}
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	if !clicked {
		return fmt.Errorf("no enabled %q entry within %s", click, timeout)
	}
	return nil
}
