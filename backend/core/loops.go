package core

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/loopat/desktop/backend/config"
	"github.com/loopat/desktop/backend/contextrepo"
	"github.com/loopat/desktop/backend/events"
	"github.com/loopat/desktop/backend/gateway"
	"github.com/loopat/desktop/backend/hostexec"
	"github.com/loopat/desktop/backend/images"
	"github.com/loopat/desktop/backend/loops"
	"github.com/loopat/desktop/backend/services"
	"github.com/loopat/desktop/backend/terminal"
	"github.com/loopat/desktop/backend/vault"
	"github.com/loopat/desktop/backend/workdir"
)

// GatewayAddr is where the agent finds its model inside every sandbox.
const GatewayAddr = gateway.SandboxAddr

// PromoteCommand is how the agent promotes its context from inside the sandbox.
const PromoteCommand = contextrepo.PromoteCommand

// loopMiseToml is a loop's own toolchain file (LOOPAT_HOME/loops/<id>/mise.toml); its
// [host].clis table opts the loop into host-exec.
func (c *Core) loopMiseToml(id string) ([]byte, error) {
	data, err := os.ReadFile(filepath.Join(c.Workspace.LoopsDir(), id, "mise.toml"))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	return data, err
}

// openLoops builds the loop manager, the host link (gateway, host exec, promote) and
// the loop-facing services.
func (c *Core) openLoops() ([]any, error) {
	c.HostExec = hostexec.NewServer(c.Workspace, c.Bus)
	c.HostExec.SetScrubber(c.Scrub.String)
	router := gateway.NewRouter(c.Log)
	c.closers = append(c.closers, router.Shutdown)
	// Per-loop caps (hostexec.Max*): past them the sandbox gets the service's own error at once.
	c.HostExec.HandleGateway(GatewayAddr, router)
	c.HostExec.HandlePromote(contextrepo.PromoteStreams{Store: c.Context, Ctx: c.ctx, Scrub: c.Scrub.String, Log: c.Log,
		Changed: func(repo string) {
			c.Bus.Publish(events.TopicContextChanged, events.ContextChanged{Repo: repo})
			if c.Loops != nil {
				c.Loops.DiscardWarm("the shared context changed") // its clones predate the promotion
			}
		}})
	pm := c.openPorts()
	c.links = hostexec.NewLinks(c.ctx, hostexec.LinksOptions{Server: c.HostExec, Policy: c.loopPolicy,
		Conn: c.Engine.Conn, Log: c.Log})

	lm, err := loops.NewManager(loops.Options{
		Workspace: c.Workspace,
		Config:    c.System.CurrentConfig,
		Conn:      c.Engine,
		Images: loops.ImageFunc(func(ctx, conn context.Context, m loops.Meta) (string, string, error) {
			toml, err := c.loopMiseToml(m.ID)
			if err != nil {
				return "", "", fmt.Errorf("read the loop's mise.toml: %w", err)
			}
			return c.Images.EnsureLoopImage(ctx, conn, toml, nil)
		}),
		Secrets:             c.Vault,
		HostCredentials:     c.remoteCredentials,
		Events:              c.Bus,
		Log:                 c.Log,
		PartialMessages:     true,
		Gateway:             loopGateway{router},
		Scrub:               c.Scrub,
		Context:             c.loopContext,
		AfterContainerStart: c.links.Attach,
		NoWarm:              c.noWarm,
	})
	if err != nil {
		return nil, fmt.Errorf("open loops: %w", err)
	}
	c.Loops = lm
	c.closers = append(c.closers, func() error { lm.Close(); return nil })
	tm := terminal.NewManager(terminal.ManagerRunner{M: lm}, c.Bus, c.Log)
	c.LoopService = services.NewLoopService(lm, c.HostExec)
	services.WirePorts(c.LoopService, pm)
	return []any{
		c.LoopService,
		services.NewTerminalService(c.ctx, tm),
		services.NewWorkdirService(lm, workdir.Author{}),
	}, nil
}

// startLoops reconciles loop containers once the engine is ready (running ones are
// linked again by the manager).
func (c *Core) startLoops() {
	go func() {
		if _, err := c.Engine.WaitReady(c.ctx); err != nil {
			return
		}
		if err := c.Loops.Start(c.ctx); err != nil {
			c.Log.Warn("loop start-up reconcile", "err", err)
		}
	}()
}

// remoteCredentials are the context remotes' token and SSH key: the host pushes and
// pulls with them, a sandbox never gets them (a loop would push past review).
func (c *Core) remoteCredentials() ([]vault.HostCredential, error) {
	remotes, err := c.Context.Remotes()
	if err != nil {
		return nil, err
	}
	var out []vault.HostCredential
	for _, r := range remotes {
		out = append(out, vault.HostCredential{Vault: r.Vault, Env: r.TokenEnv, File: r.SSHKeyFile})
	}
	return out, nil
}

// loopContext is the pull edge: the loop's clones of knowledge (read-only), notes and
// personal, with the agent's memory in personal and instructions on how to promote.
func (c *Core) loopContext(ctx context.Context, loopID string) (loops.LoopContext, error) {
	ms, warnings, err := c.Context.PrepareLoopWarnings(ctx, loopID, false)
	if err != nil {
		return loops.LoopContext{}, err
	}
	lc := loops.LoopContext{
		Warnings:     warnings,
		Instructions: contextrepo.AgentInstructions,
		Settings:     map[string]any{"autoMemoryDirectory": contextrepo.MemoryDir},
	}
	for _, m := range ms {
		lc.Mounts = append(lc.Mounts, loops.Mount(m))
	}
	return lc, nil
}

// loopPolicy is loopID's host-exec policy: its own mise.toml [host].clis under the
// [host_exec] settings in force. An unreadable mise.toml turns host exec off; the link
// is still needed for the model gateway.
func (c *Core) loopPolicy(loopID string) hostexec.Policy {
	toml, err := c.loopMiseToml(loopID)
	if err == nil {
		var clis []string
		if clis, err = images.ParseHostCLIs(toml); err == nil {
			return hostexec.PolicyFor(c.Live.Get().HostExec, clis)
		}
	}
	c.Log.Warn("loop mise.toml unreadable: host exec disabled for this loop", "loop", loopID, "err", err)
	return hostexec.Policy{}
}

// loopGateway is the router as loops.Gateway.
type loopGateway struct{ r *gateway.Router }

func (g loopGateway) Route(loopID string, p config.Provider, key string) (loops.ModelRoute, error) {
	u, ph, err := g.r.Route(loopID, p.BaseURL, key)
	return loops.ModelRoute{BaseURL: u, APIKey: ph}, err
}

func (g loopGateway) Forget(loopID string) { g.r.Forget(loopID) }
