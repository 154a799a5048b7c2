//go:build !headless

package main

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"runtime"
	"sync/atomic"
	"time"

	"github.com/wailsapp/wails/v2"
	"github.com/wailsapp/wails/v2/pkg/options"
	"github.com/wailsapp/wails/v2/pkg/options/assetserver"
	wailsruntime "github.com/wailsapp/wails/v2/pkg/runtime"

	"github.com/loopat/desktop/backend/config"
	"github.com/loopat/desktop/backend/control"
	"github.com/loopat/desktop/backend/core"
	"github.com/loopat/desktop/backend/events"
	"github.com/loopat/desktop/backend/notify"
	"github.com/loopat/desktop/backend/rpc"
	"github.com/loopat/desktop/backend/services"
	"github.com/loopat/desktop/backend/tray"
)

// App is the Wails side of the app: lifecycle hooks and the bridge from the event bus
// to the window. The API itself is the services in core.Registry(), bound as they are.
type App struct {
	core *core.Core
	ctx  context.Context
	// wctx is ctx for goroutines (tray and notification clicks) that may run before
	// startup; nil until then.
	wctx     atomic.Pointer[context.Context]
	stopTray func()
	notifier *notify.Notifier
	// unfollowConfig ends the notifier's subscription to the live config.
	unfollowConfig func()
	cancel         context.CancelFunc // ends tray-started machine actions
	stopControl    func()             // closes the control socket (backend/control)
}

// windowControl is the tray's Controller: the engine actions plus the window.
type windowControl struct {
	tray.EngineActions
	app *App
}

func (w windowControl) ShowWindow()        { w.app.showWindow() }
func (w windowControl) OpenLoop(id string) { w.app.openLoop(id) }
func (w windowControl) Quit()              { w.app.quit() }

func (a *App) window() context.Context {
	if p := a.wctx.Load(); p != nil {
		return *p
	}
	return nil
}

func (a *App) showWindow() {
	if ctx := a.window(); ctx != nil {
		wailsruntime.WindowUnminimise(ctx)
		wailsruntime.WindowShow(ctx)
	}
}

// openLoop shows the window and asks the frontend to select the loop.
func (a *App) openLoop(id string) {
	a.showWindow()
	a.core.Bus.Publish(events.TopicAppOpenLoop, map[string]string{"id": id})
}

func (a *App) quit() {
	if ctx := a.window(); ctx != nil {
		wailsruntime.Quit(ctx)
	}
}

// loopTitle names a loop in the tray and in notifications.
func (a *App) loopTitle(id string) string {
	if a.core.Loops == nil {
		return ""
	}
	m, err := a.core.Loops.Get(id)
	if err != nil {
		return ""
	}
	return m.Title
}

// startNotifier shows OS notifications for loops needing attention
// while ui.notifications is on (a saved change applies at once).
func (a *App) startNotifier(sender notify.Sender) {
	n, err := notify.Start(notify.Options{Bus: a.core.Bus, Sender: sender, Enabled: a.core.Live.Get().UI.Notifications,
		LoopTitle: a.loopTitle, OpenLoop: a.openLoop, Log: a.core.Log})
	if err != nil {
		a.core.Log.Warn("running without notifications", "err", err)
		return
	}
	a.notifier = n
	a.unfollowConfig = a.core.Live.Subscribe(func(_, cfg config.Config) { n.SetEnabled(cfg.UI.Notifications) })
}

func (a *App) startup(ctx context.Context) {
	a.ctx = ctx
	a.wctx.Store(&ctx)
	if runtime.GOOS == "darwin" {
		// Native notifications need the window context (and the .app bundle).
		var sender notify.Sender = notify.OSAScript{} // fallback: no click-through
		if w, err := notify.NewWails(ctx); err == nil {
			sender = w
		} else {
			a.core.Log.Info("native notifications unavailable; using osascript", "err", err)
		}
		a.startNotifier(sender)
	}
	a.core.Start(ctx)
	// `loopat loop pending|answer` in a terminal reach this app's loops.
	a.stopControl = control.Start(a.core.Workspace, a.core.Registry(), a.core.Log)
	events, cancel := a.core.Bus.Subscribe(1024, nil)
	go func() {
		defer cancel()
		for {
			select {
			case <-ctx.Done():
				return
			case ev := <-events:
				wailsruntime.EventsEmit(ctx, ev.Topic, ev.Data)
				// After a full uninstall the workspace is gone: give the UI a moment to show
				// the result, then quit.
				if done, ok := ev.Data.(services.UninstallDone); ok && ev.Topic == services.TopicUninstallDone && done.Quit {
					go func() {
						time.Sleep(3 * time.Second)
						wailsruntime.Quit(ctx)
					}()
				}
			}
		}
	}()
}

// domReady shows the window only once the frontend has rendered (no blank flash).
func (a *App) domReady(ctx context.Context) { wailsruntime.WindowShow(ctx) }

func (a *App) shutdown(context.Context) {
	a.stopTray()
	if a.stopControl != nil {
		a.stopControl()
	}
	if a.unfollowConfig != nil {
		a.unfollowConfig()
	}
	if a.notifier != nil {
		a.notifier.Close()
	}
	a.cancel()
	// The machine is the user's: stop it only when they chose that in settings.
	if st := a.core.Engine.State(); a.core.Live.Get().Machine.StopOnQuit && st.Machine != "" {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		if err := a.core.Engine.StopMachine(ctx, st.Machine); err != nil {
			a.core.Log.Warn("stop podman machine on quit", "err", err)
		}
		cancel()
	}
	a.core.Close()
}

func (a *App) secondInstance(options.SecondInstanceData) {
	if a.ctx == nil {
		return
	}
	wailsruntime.WindowUnminimise(a.ctx)
	wailsruntime.WindowShow(a.ctx)
}

// runDesktop opens the window; it returns the process exit code.
func runDesktop(dist fs.FS) int {
	if runtime.GOOS == "linux" && os.Getenv("DISPLAY") == "" && os.Getenv("WAYLAND_DISPLAY") == "" {
		fmt.Fprintln(os.Stderr, "loopat: no display (DISPLAY/WAYLAND_DISPLAY unset) - run `loopat serve` and open the printed URL in a browser")
		return 1
	}
	c, err := core.Open(context.Background(), core.Options{})
	if err != nil {
		fmt.Fprintln(os.Stderr, "loopat:", err)
		return 1
	}
	app := &App{core: c}
	actx, cancel := context.WithCancel(context.Background())
	app.cancel = cancel
	// The tray must start on the main goroutine before wails.Run (macOS main thread).
	stopTray, err := tray.Start(tray.Options{
		Controller: windowControl{EngineActions: tray.EngineActions{Engine: c.Engine, Context: actx}, app: app},
		Bus:        c.Bus,
		LoopTitle:  app.loopTitle,
		Log:        c.Log,
	})
	hasTray := err == nil
	if err != nil {
		c.Log.Warn("running without a tray icon", "err", err)
		stopTray = func() {}
	}
	app.stopTray = stopTray
	if runtime.GOOS != "darwin" { // macOS starts them in startup
		if sender, err := notify.NewSender(runtime.GOOS, "loopat", "loopat"); err != nil {
			c.Log.Warn("running without notifications", "err", err)
		} else {
			app.startNotifier(sender)
		}
	}
	err = wails.Run(&options.App{
		Title:       "loopat — " + c.Workspace.Name,
		Width:       1280,
		Height:      820,
		MinWidth:    900,
		MinHeight:   600,
		StartHidden: true,
		// With a tray, closing the window hides it; Quit is in the tray menu.
		HideWindowOnClose: hasTray,
		AssetServer:       &assetserver.Options{Assets: dist},
		BackgroundColour:  &options.RGBA{R: 246, G: 245, B: 241, A: 255},
		OnStartup:         app.startup,
		OnDomReady:        app.domReady,
		OnShutdown:        app.shutdown,
		SingleInstanceLock: &options.SingleInstanceLock{
			UniqueId:               "dev.loopat.desktop." + c.Workspace.Name,
			OnSecondInstanceLaunch: app.secondInstance,
		},
		Bind: c.Registry().Services(),
		// Failed calls reach the window as {message, hint, kind}, as HTTP sends them; the
		// app's own failures (500) are logged as `loopat serve` logs them.
		ErrorFormatter: func(err error) any {
			if status, _, _ := rpc.Describe(err); status >= 500 {
				c.Log.Warn("rpc failed", "err", err)
			}
			return rpc.WailsError(err)
		},
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "loopat:", err)
		return 1
	}
	return 0
}
