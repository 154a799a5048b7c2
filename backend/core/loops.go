package core

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/loopat/desktop/backend/hostexec"
	"github.com/loopat/desktop/backend/images"
	"github.com/loopat/desktop/backend/loops"
	"github.com/loopat/desktop/backend/services"
	"github.com/loopat/desktop/backend/terminal"
	"github.com/loopat/desktop/backend/workdir"
)

// loopMiseToml is a loop's own toolchain file (LOOPAT_HOME/loops/<id>/mise.toml); its
// [host].clis table opts the loop into host-exec.
func (c *Core) loopMiseToml(id string) ([]byte, error) {
	data, err := os.ReadFile(filepath.Join(c.Workspace.LoopsDir(), id, "mise.toml"))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	return data, err
}

// openLoops builds the loop manager, the host-exec server and the loop-facing services.
func (c *Core) openLoops() ([]any, error) {
	c.HostExec = hostexec.NewServer(c.Workspace, c.Bus)
	c.HostExec.SetScrubber(c.Scrub.String)
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
		Secrets:         c.Vault,
		Events:          c.Bus,
		Log:             c.Log,
		PartialMessages: true,
		AfterContainerStart: func(_ context.Context, conn context.Context, loopID, container string) error {
			toml, err := c.loopMiseToml(loopID)
			if err != nil {
				return err
			}
			clis, err := images.ParseHostCLIs(toml)
			if err != nil {
				return fmt.Errorf("loop %s mise.toml: %w", loopID, err)
			}
			policy := hostexec.PolicyFor(c.System.CurrentConfig().HostExec, clis)
			if !policy.Enabled {
				return nil // host-exec is opt-in: no [host].clis, no channel
			}
			// The link lives as long as the app, not the request that started the container.
			_, err = c.HostExec.Attach(c.ctx, conn, loopID, container, policy)
			return err
		},
	})
	if err != nil {
		return nil, fmt.Errorf("open loops: %w", err)
	}
	c.Loops = lm
	c.closers = append(c.closers, func() error { lm.Close(); return nil })
	tm := terminal.NewManager(terminal.ManagerRunner{M: lm}, c.Bus, c.Log)
	return []any{
		services.NewLoopService(lm, c.HostExec),
		services.NewTerminalService(c.ctx, tm),
		services.NewWorkdirService(lm, workdir.Author{}),
	}, nil
}

// startLoops reconciles loop containers once the engine is ready.
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
