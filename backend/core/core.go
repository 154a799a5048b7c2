// Package core is the composition root shared by the desktop window and `loopat serve`:
// it opens the workspace, loads config, sets up logging and the event bus, and builds the
// services both transports expose.
package core

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/loopat/desktop/backend/config"
	"github.com/loopat/desktop/backend/contextrepo"
	"github.com/loopat/desktop/backend/doctor"
	"github.com/loopat/desktop/backend/engine"
	"github.com/loopat/desktop/backend/events"
	"github.com/loopat/desktop/backend/hostexec"
	"github.com/loopat/desktop/backend/images"
	"github.com/loopat/desktop/backend/logging"
	"github.com/loopat/desktop/backend/loops"
	"github.com/loopat/desktop/backend/ports"
	"github.com/loopat/desktop/backend/rpc"
	"github.com/loopat/desktop/backend/secrets"
	"github.com/loopat/desktop/backend/services"
	"github.com/loopat/desktop/backend/uninstall"
	"github.com/loopat/desktop/backend/vault"
)

// Options tune Open.
type Options struct {
	Verbose bool      // info logs to stderr too
	Stderr  io.Writer // nil = os.Stderr
	// NoWarm: a short-lived command (doctor, image, loop) prepares no warm loop and
	// leaves those of a running app alone.
	NoWarm bool
}

// Core owns the long-lived parts of one running app.
type Core struct {
	Workspace config.Workspace
	// Live is the config in force; Settings saves publish to it. Read it with Live.Get
	// each time (there is deliberately no startup snapshot to read by mistake).
	Live      *config.Live
	ConfigErr error // the load error at start (a *config.LoadError); the app runs on defaults
	Bus       *events.Bus
	Log       *slog.Logger

	Engine *engine.Engine
	Images *images.Builder
	Vault  *vault.Vault
	Scrub  *secrets.Scrubber
	// Context is the knowledge/notes/personal repos (pulled into loops, promoted back).
	Context  *contextrepo.Store
	Loops    *loops.Manager
	HostExec *hostexec.Server
	// Ports forwards the ports loops listen on to the host's loopback (ports.go).
	Ports *ports.Manager

	System *services.SystemService
	// LoopService is the loops as the UI drives them (the CLI drives the same).
	LoopService *services.LoopService

	ctx      context.Context // app lifetime; cancelled by Close
	cancel   context.CancelFunc
	bg       sync.WaitGroup // config-triggered work (engine reconnects); Close waits for it
	bgMu     sync.Mutex     // guards closing against bg.Add racing Close's bg.Wait
	closing  bool
	links    *hostexec.Links // the loops' host links (host-exec policies follow config changes)
	registry *rpc.Registry
	closers  []func() error
	noWarm   bool // Options.NoWarm
}

// Open resolves LOOPAT_HOME and builds every service. An invalid config is not fatal.
func Open(ctx context.Context, o Options) (*Core, error) {
	ws, err := config.ResolveWorkspace()
	if err != nil {
		return nil, err
	}
	if err := ws.Ensure(); err != nil {
		return nil, fmt.Errorf("prepare workspace: %w", err)
	}
	// Every secret value the app handles is registered with the scrubber, which masks it
	// in logs, transcripts and audit lines.
	scrub := secrets.New()
	log, logCloser, err := logging.Setup(logging.Options{
		Dir: ws.LogsDir(), Stderr: o.Stderr, Verbose: o.Verbose,
		Wrap: func(h slog.Handler) slog.Handler { return secrets.NewLogHandler(h, scrub) },
	})
	if err != nil {
		return nil, err
	}
	c := &Core{Workspace: ws, Bus: events.New(), Log: log, Scrub: scrub, noWarm: o.NoWarm}
	c.ctx, c.cancel = context.WithCancel(context.WithoutCancel(ctx))
	c.closers = append(c.closers, logCloser.Close)

	var cfg config.Config
	cfg, c.ConfigErr = config.Load(ws.ConfigPath())
	var le *config.LoadError
	switch {
	case errors.As(c.ConfigErr, &le):
		log.Error("invalid config; running on defaults until it is fixed", "file", le.File, "line", le.Line, "key", le.Key, "err", le.Msg)
	case c.ConfigErr != nil:
		c.Close()
		return nil, c.ConfigErr
	}
	log.Info("workspace open", "home", ws.Home, "name", ws.Name)

	c.Live = config.NewLive(cfg, c.ConfigErr)

	c.Engine = engine.New(ws, cfg, c.Bus, log)
	c.closers = append(c.closers, c.Engine.Close)
	// The image builder keeps the [sandbox] image settings it starts with: those keys are
	// config.NeedsRestart.
	c.Images = images.NewBuilder(ws, cfg.Sandbox, c.Bus, log)
	c.Vault = vault.New(ws, vault.OSKeyring())

	c.System = services.NewSystemService(ws, c.Live, c.Bus, c.Doctor)
	engineSvc := services.NewEngineService(c.ctx, c.Engine, c.doctorDeps)
	imageSvc := services.NewImageService(c.ctx, c.Images, func() (context.Context, error) { return c.Engine.Conn(c.ctx) })
	vaultSvc := services.NewVaultService(c.Vault, c.Bus, scrub)
	providerSvc := services.NewProviderService(c.ctx, c.Live.Get, c.Vault, vault.DefaultVault, c.System)
	uninstallSvc := services.NewUninstallService(c.ctx, c.UninstallDeps(), c.Bus)
	c.Context = contextrepo.New(contextrepo.Options{Workspace: ws, Secrets: c.Vault, Log: log})
	contextSvc := services.NewContextService(c.ctx, c.Context, c.Bus)
	kanbanSvc := services.NewKanbanService(c.Context, c.Bus)
	loopSvcs, err := c.openLoops()
	if err != nil {
		c.Close()
		return nil, err
	}
	unsubscribe := c.Live.Subscribe(c.applyConfig)
	c.closers = append(c.closers, func() error { unsubscribe(); return nil })
	c.registry = rpc.NewRegistry(append([]any{c.System, engineSvc, imageSvc, vaultSvc, providerSvc,
		uninstallSvc, contextSvc, kanbanSvc}, loopSvcs...)...)
	return c, nil
}

// Registry is the set of UI-facing services (bound by Wails, served by `loopat serve`).
func (c *Core) Registry() *rpc.Registry { return c.registry }

// Health is the body of GET /api/health.
func (c *Core) Health() any {
	return map[string]any{"ok": true, "workspace": c.Workspace.Name, "home": c.Workspace.Home}
}

// Close stops what the app started, newest first.
func (c *Core) Close() {
	if c.cancel != nil {
		c.cancel()
	}
	c.bgMu.Lock()
	c.closing = true
	c.bgMu.Unlock()
	c.bg.Wait()
	for i := len(c.closers) - 1; i >= 0; i-- {
		if err := c.closers[i](); err != nil && c.Log != nil {
			c.Log.Warn("shutdown step failed", "err", err)
		}
	}
	c.closers = nil
}

// Start launches background work (engine discovery and monitoring). It returns at once.
func (c *Core) Start(ctx context.Context) {
	c.Engine.Start(c.ctx)
	c.startLoops()
}

func (c *Core) doctorDeps() doctor.Deps {
	return doctor.Deps{
		Workspace: c.Workspace, Config: c.Live.Get(), ConfigErr: c.Live.LoadErr(),
		Engine: c.Engine, Images: c.Images, Keychain: c.Vault.Probe,
	}
}

// UninstallDeps is what uninstall needs; Conn waits for the engine so the CLI can run
// right after start.
func (c *Core) UninstallDeps() uninstall.Deps {
	return uninstall.Deps{
		Workspace:   c.Workspace,
		Conn:        c.WaitEngine,
		Keychain:    c.Vault,
		StopLoops:   c.stopLoops,
		StopService: c.Engine.Close,
		BaseImage:   c.Live.Get().Sandbox.BaseImage,
	}
}

// WaitEngine waits up to a minute for the engine (a CLI command runs right after Start)
// and returns a bindings connection that lives as long as ctx.
func (c *Core) WaitEngine(ctx context.Context) (context.Context, error) {
	wait, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	if _, err := c.Engine.WaitReady(wait); err != nil {
		return nil, fmt.Errorf("podman engine not ready: %w", err)
	}
	return c.Engine.Conn(ctx)
}

// stopLoops ends every agent process (uninstall's first step; containers are removed next).
func (c *Core) stopLoops(ctx context.Context) error {
	c.Loops.Close()
	return nil
}

// Doctor runs the bootstrap checklist (it discovers the engine if Start has not run).
func (c *Core) Doctor(ctx context.Context) []doctor.Result {
	return doctor.Run(ctx, c.doctorDeps())
}

// applyConfig makes a saved config take effect in the parts that hold state built from
// it. Loops, providers, the idle sweep and the doctor read c.Live on every use and need
// nothing here; the [sandbox] image keys wait for a restart (config.NeedsRestart).
func (c *Core) applyConfig(old, cfg config.Config) {
	changed := config.Changed(old, cfg)
	if hasPrefix(changed, "engine.") || hasPrefix(changed, "machine.") {
		c.Engine.SetConfig(cfg)
	}
	if hasPrefix(changed, "engine.") {
		// A different podman or socket: drop the connection and discover again.
		c.goBackground(func() { c.Engine.Refresh(c.ctx) })
	}
	if hasPrefix(changed, "host_exec.") {
		c.links.RefreshPolicies() // each loop's policy from its mise.toml and the new [host_exec]
	}
	if c.Loops != nil {
		c.Loops.RecheckWarm() // a prepared loop made with other settings is discarded
	}
	c.Log.Info("config applied", "changed", changed, "restart", config.RestartKeys(old, cfg))
}

// goBackground runs fn unless Close has begun; Close waits for it.
func (c *Core) goBackground(fn func()) {
	c.bgMu.Lock()
	defer c.bgMu.Unlock()
	if c.closing {
		return
	}
	c.bg.Add(1)
	go func() {
		defer c.bg.Done()
		fn()
	}()
}

func hasPrefix(keys []string, prefix string) bool {
	for _, k := range keys {
		if strings.HasPrefix(k, prefix) {
			return true
		}
	}
	return false
}
