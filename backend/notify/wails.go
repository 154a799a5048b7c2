package notify

import (
	"context"
	"fmt"
	"strings"

	wailsruntime "github.com/wailsapp/wails/v2/pkg/runtime"
)

// Wails sends through the Wails runtime: on macOS that is UNUserNotificationCenter, the
// native path, whose click reaches OpenLoop. It needs the window's context, so the app
// creates it in OnStartup, and a bundle identifier, so it works from the built .app but
// not from a bare binary (then fall back to OSAScript).
type Wails struct {
	ctx    context.Context
	clicks chan string
}

const wailsIDPrefix = "loopat-loop-"

// NewWails initialises notifications on the window context and asks for permission
// (macOS shows its prompt once; a refusal makes Send fail, which the notifier logs).
func NewWails(ctx context.Context) (*Wails, error) {
	if !wailsruntime.IsNotificationAvailable(ctx) {
		return nil, fmt.Errorf("notifications: not available from this process")
	}
	if err := wailsruntime.InitializeNotifications(ctx); err != nil {
		return nil, fmt.Errorf("notifications: initialise: %w", err)
	}
	w := &Wails{ctx: ctx, clicks: make(chan string, 16)}
	wailsruntime.OnNotificationResponse(ctx, func(r wailsruntime.NotificationResult) {
		if r.Error != nil || strings.HasSuffix(r.Response.ActionIdentifier, "DismissActionIdentifier") {
			return
		}
		id, _ := r.Response.UserInfo["loopId"].(string)
		if id == "" {
			id = strings.TrimPrefix(r.Response.ID, wailsIDPrefix)
		}
		select {
		case w.clicks <- id:
		default:
		}
	})
	// Asynchronous: the prompt waits for the user. A refusal makes Send fail, which the
	// notifier logs.
	go wailsruntime.RequestNotificationAuthorization(ctx)
	return w, nil
}

// Send posts the notification; one id per loop, so a new one replaces the loop's last.
func (w *Wails) Send(_ context.Context, m Message) (uint32, error) {
	err := wailsruntime.SendNotification(w.ctx, wailsruntime.NotificationOptions{
		ID: wailsIDPrefix + m.LoopID, Title: m.Summary, Body: m.Body,
		Data: map[string]any{"loopId": m.LoopID},
	})
	if err != nil {
		return 0, fmt.Errorf("notifications: send: %w", err)
	}
	return 0, nil
}

// Clicks yields the loop id of each clicked notification.
func (w *Wails) Clicks() <-chan string { return w.clicks }

// Close releases the runtime's notification resources.
func (w *Wails) Close() error {
	wailsruntime.CleanupNotifications(w.ctx)
	return nil
}
