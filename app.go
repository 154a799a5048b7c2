package main

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"runtime"
	"time"

	"github.com/wailsapp/wails/v2"
	"github.com/wailsapp/wails/v2/pkg/options"
	"github.com/wailsapp/wails/v2/pkg/options/assetserver"
	wailsruntime "github.com/wailsapp/wails/v2/pkg/runtime"

	"github.com/loopat/desktop/backend/core"
	"github.com/loopat/desktop/backend/services"
)

// App is the Wails side of the app: lifecycle hooks and the bridge from the event bus
// to the window. The API itself is the services in core.Registry(), bound as they are.
type App struct {
	core *core.Core
	ctx  context.Context
}

func (a *App) startup(ctx context.Context) {
	a.ctx = ctx
	a.core.Start(ctx)
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

func (a *App) shutdown(context.Context) { a.core.Close() }

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
	err = wails.Run(&options.App{
		Title:            "loopat — " + c.Workspace.Name,
		Width:            1280,
		Height:           820,
		MinWidth:         900,
		MinHeight:        600,
		StartHidden:      true,
		AssetServer:      &assetserver.Options{Assets: dist},
		BackgroundColour: &options.RGBA{R: 246, G: 245, B: 241, A: 255},
		OnStartup:        app.startup,
		OnDomReady:       app.domReady,
		OnShutdown:       app.shutdown,
		SingleInstanceLock: &options.SingleInstanceLock{
			UniqueId:               "dev.loopat.desktop." + c.Workspace.Name,
			OnSecondInstanceLaunch: app.secondInstance,
		},
		Bind: c.Registry().Services(),
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "loopat:", err)
		return 1
	}
	return 0
}
