package notify

import (
	"context"
	"fmt"
	"os/exec"
	"strings"
	"unicode"
)

// OSAScript shows notifications on macOS with `osascript -e 'display notification ...'`.
// It is the fallback native path: Notification Center shows them under "Script Editor",
// and a click cannot be routed back to the loop (Clicks is nil). A signed .app can
// replace it with UNUserNotificationCenter (see docs/desktop.md).
type OSAScript struct{ Path string }

// Send runs osascript; it never replaces an earlier notification.
func (o OSAScript) Send(ctx context.Context, m Message) (uint32, error) {
	path := o.Path
	if path == "" {
		path = "osascript"
	}
	script := "display notification " + appleString(m.Body) + " with title " + appleString("loopat") +
		" subtitle " + appleString(m.Summary)
	if out, err := exec.CommandContext(ctx, path, "-e", script).CombinedOutput(); err != nil {
		return 0, fmt.Errorf("osascript display notification: %w: %s", err, out)
	}
	return 0, nil
}

// Clicks is nil: osascript notifications cannot report clicks.
func (OSAScript) Clicks() <-chan string { return nil }

// Close does nothing.
func (OSAScript) Close() error { return nil }

// appleString quotes s as an AppleScript string literal: only \\ and \" are escapes
// there, and control characters (which a loop title could contain) become spaces.
func appleString(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '\\' || r == '"':
			b.WriteByte('\\')
			b.WriteRune(r)
		case unicode.IsControl(r):
			b.WriteByte(' ')
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// NewSender picks the platform's notification path.
func NewSender(goos, appName, icon string) (Sender, error) {
	switch goos {
	case "darwin":
		return OSAScript{}, nil
	case "linux", "freebsd", "openbsd", "netbsd":
		return NewFreedesktop(appName, icon)
	}
	return nil, fmt.Errorf("notifications are not supported on %s", goos)
}
