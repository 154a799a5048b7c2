// The manager's lifetime and the containers': reconcile at start, re-link, close, idle stop, terminals.

package loops

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/loopat/desktop/backend/agent"
)

// Orphan is a container labelled for this workspace whose loop no longer exists.
type Orphan = ContainerInfo

// Start reconciles containers with loops (orphans are reported, never deleted), resets
// statuses left by a previous run and starts the idle-stop sweep.
func (m *Manager) Start(ctx context.Context) error {
	list, err := m.store.List()
	if err != nil {
		return err
	}
	known := map[string]bool{}
	var staleWarm []string
	for _, meta := range list {
		known[meta.ID] = true
		if meta.Warm { // prepared by a previous run and never handed out
			staleWarm = append(staleWarm, meta.ID)
			continue
		}
		m.recoverWaiting(meta) // a question left open by a previous run: pending.go
		if meta.Status == StatusWorking || meta.Status == StatusStarting {
			_, _ = m.store.Update(meta.ID, func(x *Meta) { x.Status = StatusIdle })
		}
	}
	if len(staleWarm) > 0 && !m.opt.NoWarm {
		m.removeStaleWarm(staleWarm) // before a new one is prepared
	}
	conts, err := m.sb.List(ctx)
	if err != nil {
		m.spawn(m.idleLoop)
		return fmt.Errorf("reconcile loop containers: %w", err)
	}
	var orphans []Orphan
	var running []ContainerInfo
	for _, c := range conts {
		if known[c.LoopID] && c.State == "running" && !slices.Contains(staleWarm, c.LoopID) {
			m.runFor(c.LoopID) // left running by a previous run: the idle sweep will see it
			running = append(running, c)
		}
		if !known[c.LoopID] {
			orphans = append(orphans, c)
			m.log.Warn("orphan loop container: its loop folder is gone; left in place", "container", c.Name, "loop", c.LoopID)
		}
	}
	m.mu.Lock()
	m.orphans = orphans
	m.mu.Unlock()
	if m.opt.AfterContainerStart != nil && len(running) > 0 {
		m.spawn(func() { m.relink(running) })
	}
	m.spawn(m.idleLoop)
	m.KickWarm()
	return nil
}

// relink runs AfterContainerStart for containers a previous run left running, so
// their host link (gateway, host exec, promote) is back before the next turn. Close
// cancels it (and waits for it).
func (m *Manager) relink(running []ContainerInfo) {
	for _, c := range running {
		if m.life.Err() != nil {
			return
		}
		ctx, cancel := context.WithTimeout(m.life, 2*time.Minute)
		conn, err := m.opt.Conn.Conn(ctx)
		if err == nil {
			err = m.opt.AfterContainerStart(ctx, conn, c.LoopID, m.sb.ContainerName(c.LoopID))
		}
		cancel()
		if err != nil {
			m.log.Warn("re-link running loop container", "loop", c.LoopID, "err", err)
		}
	}
}

// Orphans are the containers found by Start without a loop.
func (m *Manager) Orphans() []Orphan {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]Orphan(nil), m.orphans...)
}

// closeTimeout bounds how long Close waits for turns, re-links and the sweep to end.
const closeTimeout = 30 * time.Second

// Close ends the manager's life: agent starts in flight are cancelled, every agent
// process is killed, and it waits (bounded) until every turn, agent exit, re-link,
// interrupt timer and the idle sweep has returned. Containers keep running until
// idle-stopped or the next start; the conversation resumes from the stored session
// id. Later calls (uninstall closes before the app does) return at once; Send after
// Close fails with ErrClosed.
func (m *Manager) Close() {
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return
	}
	m.closed = true
	runs := make([]*run, 0, len(m.runs))
	for _, r := range m.runs {
		runs = append(runs, r)
	}
	m.mu.Unlock()
	m.endLife() // every turn's context: starts in flight stop
	// The warm loop goes beside the rest (bounded); its agent's exit is among what Close waits for.
	warmGone := make(chan struct{})
	go func() { defer close(warmGone); m.closeWarm() }()
	defer func() { <-warmGone }()
	ctx, cancel := context.WithTimeout(context.Background(), closeTimeout)
	defer cancel()
	for _, r := range runs {
		if err := m.endTurnAndAgent(ctx, r); err != nil {
			m.log.Warn("close: a loop's turn did not end", "err", err)
		}
	}
	done := make(chan struct{})
	go func() {
		m.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-ctx.Done():
		m.log.Warn("close: loop goroutines still running", "waited", closeTimeout)
	}
}

// endTurnAndAgent cancels r's turn, kills its agent and waits until the turn has
// ended. It kills again while it waits: a start cancelled late may still hand over
// an agent. Callers keep new turns out first (r.stopping or Close).
func (m *Manager) endTurnAndAgent(ctx context.Context, r *run) error {
	var killed *agent.Session
	for {
		r.mu.Lock()
		if r.cancelTurn != nil {
			r.cancelTurn()
		}
		s, busy, idle := r.sess, r.busy, r.idle
		r.mu.Unlock()
		if s != nil && s != killed {
			if err := s.Kill(ctx); err != nil {
				return err
			}
			killed = s
		}
		if !busy {
			return nil
		}
		select {
		case <-idle:
		case <-time.After(100 * time.Millisecond):
		case <-ctx.Done():
			return fmt.Errorf("waiting for the turn to end: %w", ctx.Err())
		}
	}
}

// stopLoop ends the agent and stops the container.
func (m *Manager) stopLoop(ctx context.Context, id, status string) {
	m.killAgent(ctx, id)
	if err := m.sb.Stop(ctx, id); err != nil {
		m.log.Warn("stop loop container", "loop", id, "err", err)
	}
	m.setStatus(id, status, "")
}

// TerminalOpened/TerminalClosed keep a loop with an open terminal from idling out.
func (m *Manager) TerminalOpened(id string) { m.touchTerm(id, 1) }

func (m *Manager) TerminalClosed(id string) { m.touchTerm(id, -1) }

func (m *Manager) touchTerm(id string, d int) {
	r := m.runFor(id)
	r.mu.Lock()
	r.terminals += d
	r.lastActive = time.Now()
	r.mu.Unlock()
}

// EnsureContainer starts the loop's container (building its image if needed) without
// starting the agent; the terminal uses it.
func (m *Manager) EnsureContainer(ctx context.Context, id string) error {
	meta, err := m.store.Get(id)
	if err != nil {
		return err
	}
	conn, err := m.opt.Conn.Conn(ctx)
	if err != nil {
		return fmt.Errorf("container engine not available: %w", err)
	}
	if m.opt.Images == nil {
		return errors.New("no sandbox image builder configured")
	}
	ref, _, err := m.opt.Images.LoopImage(ctx, conn, meta)
	if err != nil {
		return fmt.Errorf("sandbox image: %w", err)
	}
	imageID, err := m.sb.ImageID(ctx, ref)
	if err != nil {
		return err
	}
	mounts, _ := m.containerMounts(ctx, id)
	if _, err := m.sb.Ensure(ctx, id, ContainerSpec{Image: ref, ImageID: imageID, Mounts: mounts}); err != nil {
		return err
	}
	if m.opt.AfterContainerStart != nil {
		// The link (model gateway, host exec) serves hand-run tools in a terminal too;
		// it is idempotent for a container already linked.
		if err := m.opt.AfterContainerStart(ctx, conn, id, m.sb.ContainerName(id)); err != nil {
			m.log.Warn("link the loop container", "loop", id, "err", err)
		}
	}
	r := m.runFor(id)
	r.mu.Lock()
	r.lastActive = time.Now()
	r.mu.Unlock()
	return nil
}

// ExecTTY starts an interactive process with a terminal in the loop's container.
func (m *Manager) ExecTTY(ctx context.Context, id string, args []string, cols, rows int) (*ExecProcess, error) {
	meta, err := m.store.Get(id)
	if err != nil {
		return nil, err
	}
	// The same secrets and model route as the agent, so `claude` run by hand works.
	secrets, err := m.execEnv(id, meta, false)
	if err != nil {
		return nil, fmt.Errorf("terminal environment: %w", err)
	}
	if err := m.EnsureContainer(ctx, id); err != nil {
		return nil, err
	}
	if err := m.deliverSecrets(ctx, id, m.runFor(id), secrets); err != nil {
		return nil, err
	}
	env := append([]string{"HOME=" + SandboxHome, "TERM=xterm-256color"}, secrets.plain...)
	return m.sb.Exec(ctx, id, agent.Command{
		Args: withSecretEnv(args), User: SandboxUser, WorkDir: SandboxWork, Env: env,
	}, true, cols, rows)
}

// idleLoop stops containers of loops idle longer than sandbox.idle_minutes.
func (m *Manager) idleLoop() {
	t := time.NewTicker(m.opt.IdleCheck)
	defer t.Stop()
	for {
		select {
		case <-m.life.Done():
			return
		case <-t.C:
			m.SweepIdle(m.life)
			m.KickWarm() // the engine may have come up, or the setting changed
		}
	}
}

// SweepIdle stops every loop container idle for longer than the configured minutes.
func (m *Manager) SweepIdle(ctx context.Context) {
	mins := m.cfg().Sandbox.IdleMinutes
	if mins <= 0 {
		return
	}
	m.sweepIdle(ctx, time.Duration(mins)*time.Minute)
}

func (m *Manager) sweepIdle(ctx context.Context, limit time.Duration) {
	m.mu.Lock()
	ids := make([]string, 0, len(m.runs))
	for id := range m.runs {
		ids = append(ids, id)
	}
	m.mu.Unlock()
	for _, id := range ids {
		r := m.runFor(id)
		r.mu.Lock()
		idle := !r.busy && r.terminals == 0 && time.Since(r.lastActive) > limit
		r.mu.Unlock()
		if !idle {
			continue
		}
		running, err := m.sb.Running(ctx, id)
		if err != nil || !running {
			continue
		}
		m.log.Info("stopping idle loop container", "loop", id)
		m.stopLoop(ctx, id, StatusStopped)
	}
}
