// The warm loop: one loop prepared in the background (folder, context clones, container,
// host link, secrets and an idle agent waiting on stdin) that Create hands out, so a new
// loop's first message goes straight to a running agent.
//
// Until it is handed out the warm loop is no user loop: List, Get, Send, Delete and
// Archive do not see it (meta.json carries Warm, so a crash-left one is recognised and
// removed at Start), its run is not in m.runs (the idle sweep and Close's turn ending
// do not touch it). It is discarded when the settings it was made with (config, the
// vault's secrets, the shared context) change, when [loops] warm is turned off, and at
// Close; the next one is prepared after a delay, one at a time, only with the engine up.

package loops

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/loopat/desktop/backend/events"
)

// warmTitle is the placeholder title of a loop no one asked for yet.
const warmTitle = "warm loop"

// defaultWarmDelay lets a just-started loop's first turn have the machine before the
// next warm loop competes for it.
const defaultWarmDelay = 3 * time.Second

// warmBurstWindow: for this long after a Create the refill also waits for running turns,
// so a burst of new loops (several clicks at once) gets the CPU for its agents' start-up
// and first replies before the next warm loop competes for it (a cold start costs about
// as much CPU as one of the burst's loops: on 2 cores that is 1/8 more work in the
// burst). Past it only starting loops hold the refill back, so a long turn never starves it.
const warmBurstWindow = time.Minute

// warmSlot holds at most one prepared loop.
type warmSlot struct {
	mu        sync.Mutex
	id        string // "" = none
	run       *run
	stamp     string // settings the loop was prepared with (warmStamp)
	preparing bool
	// generation counts discards: a preparation that started before one is stale.
	generation int
	// lastCreate is the last Create call (warmBurstWindow).
	lastCreate time.Time
}

// warmEnabled reports [loops] warm in force.
func (m *Manager) warmEnabled() bool { return !m.opt.NoWarm && m.cfg().Loops.Warm }

// WarmLoopID is the prepared loop's id ("" when none); tests and benches use it.
func (m *Manager) WarmLoopID() string {
	m.warm.mu.Lock()
	defer m.warm.mu.Unlock()
	return m.warm.id
}

// warmStamp fingerprints what a prepared loop baked in: the config (model, provider,
// permission mode, image and sandbox settings, host exec) and the default vault's
// secrets. Any change means the prepared loop is not the one a cold start would make.
func (m *Manager) warmStamp(vaultName string) (string, error) {
	c := m.cfg()
	envs, files, err := m.vaultSecrets(vaultName)
	if err != nil {
		return "", err
	}
	keys := make([]string, 0, len(envs))
	for k := range envs {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	h := sha256.New()
	enc := json.NewEncoder(h)
	_ = enc.Encode([]any{c.Engine, c.Sandbox, c.Agent, c.Providers, c.HostExec})
	for _, k := range keys {
		_ = enc.Encode([2]string{k, envs[k]})
	}
	_ = enc.Encode(files)
	return hex.EncodeToString(h.Sum(nil)), nil
}

// KickWarm prepares the next warm loop in the background unless one exists, one is
// being prepared, the setting is off or the manager is closing. The idle sweep calls it
// too, so a loop is prepared once the engine comes up.
func (m *Manager) KickWarm() {
	if !m.warmEnabled() {
		m.DiscardWarm("warm loops turned off")
		return
	}
	m.warm.mu.Lock()
	if m.warm.id != "" || m.warm.preparing {
		m.warm.mu.Unlock()
		return
	}
	m.warm.preparing = true
	gen := m.warm.generation
	m.warm.mu.Unlock()
	if !m.spawn(func() { m.prepareWarm(gen) }) {
		m.warm.mu.Lock()
		m.warm.preparing = false
		m.warm.mu.Unlock()
	}
}

// prepareWarm makes one warm loop: a cold start's work without a message.
func (m *Manager) prepareWarm(gen int) {
	defer func() {
		m.warm.mu.Lock()
		m.warm.preparing = false
		m.warm.mu.Unlock()
	}()
	delay := m.opt.WarmDelay
	if delay == 0 {
		delay = defaultWarmDelay
	}
	select {
	case <-time.After(delay):
	case <-m.life.Done():
		return
	}
	// Low priority: a user's loop starting cold (image, container, agent) goes first,
	// and so does a burst of new loops until their first replies are done.
	for m.userStartsInFlight(time.Now()) {
		select {
		case <-time.After(500 * time.Millisecond):
		case <-m.life.Done():
			return
		}
	}
	ctx, cancel := context.WithTimeout(m.life, 10*time.Minute)
	defer cancel()
	if _, err := m.opt.Conn.Conn(ctx); err != nil {
		return // the engine is not up: the idle sweep kicks again later
	}
	c := m.cfg()
	if !m.warmEnabled() {
		return
	}
	meta, err := m.store.Create(NewLoop{Title: warmTitle, Provider: c.Agent.DefaultProvider, Model: c.Agent.DefaultModel,
		PermissionMode: c.Agent.PermissionMode, Warm: true})
	if err != nil {
		m.log.Warn("warm loop: create", "err", err)
		return
	}
	stamp, err := m.warmStamp(meta.Vault)
	if err != nil {
		m.log.Info("warm loop: secrets unreadable; not preparing", "err", err)
		m.removeWarm(meta.ID, nil)
		return
	}
	m.pullContext(ctx, meta)
	r := &run{lastActive: time.Now(), idle: closedChan()}
	s, msg, _ := m.startAgent(ctx, meta.ID, r)
	if s == nil {
		if m.life.Err() == nil {
			m.log.Info("warm loop: not prepared", "reason", msg)
		}
		m.removeWarm(meta.ID, r)
		return
	}
	m.warm.mu.Lock()
	// Close ends life before it empties the slot: a loop prepared after that is removed
	// here. A discard during the preparation makes it stale.
	if m.life.Err() != nil || gen != m.warm.generation || m.warm.id != "" {
		m.warm.mu.Unlock()
		m.removeWarm(meta.ID, r)
		return
	}
	m.warm.id, m.warm.run, m.warm.stamp = meta.ID, r, stamp
	m.warm.mu.Unlock()
	m.log.Info("warm loop ready", "loop", meta.ID)
}

// userStartsInFlight reports what the refill must not compete with: a user's loop
// starting its agent, or, within warmBurstWindow of the last Create, any user's turn
// still running (a new loop's agent start-up and first reply).
func (m *Manager) userStartsInFlight(now time.Time) bool {
	m.mu.Lock()
	runs := make([]*run, 0, len(m.runs))
	for _, r := range m.runs {
		runs = append(runs, r)
	}
	m.mu.Unlock()
	m.warm.mu.Lock()
	afterCreate := now.Sub(m.warm.lastCreate) < warmBurstWindow
	m.warm.mu.Unlock()
	for _, r := range runs {
		r.mu.Lock()
		starting, busy := r.busy && r.sess == nil, r.busy
		r.mu.Unlock()
		if starting || (busy && afterCreate) {
			return true
		}
	}
	return false
}

// claimWarm hands the warm loop out as the loop req asks for, when it is one: no repo,
// the default vault, the settings it was made with still in force.
func (m *Manager) claimWarm(req CreateRequest) (Meta, bool) {
	m.warm.mu.Lock()
	m.warm.lastCreate = time.Now() // every Create passes here, handed a warm loop or not
	m.warm.mu.Unlock()
	title := strings.TrimSpace(req.Title)
	if title == "" || req.Repo != "" || !m.warmEnabled() {
		return Meta{}, false
	}
	m.warm.mu.Lock()
	id, r, stamp := m.warm.id, m.warm.run, m.warm.stamp
	m.warm.mu.Unlock()
	if id == "" {
		return Meta{}, false
	}
	meta, err := m.store.Get(id)
	if err != nil {
		m.DiscardWarm("its folder is unreadable: " + err.Error())
		return Meta{}, false
	}
	if req.Vault != "" && req.Vault != meta.Vault {
		return Meta{}, false
	}
	if now, err := m.warmStamp(meta.Vault); err != nil || now != stamp {
		m.DiscardWarm("settings changed since it was prepared")
		return Meta{}, false
	}
	m.warm.mu.Lock()
	if m.warm.id != id { // taken or discarded meanwhile
		m.warm.mu.Unlock()
		return Meta{}, false
	}
	m.warm.id, m.warm.run, m.warm.stamp = "", nil, ""
	m.warm.mu.Unlock()

	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		m.removeWarm(id, r)
		return Meta{}, false
	}
	r.lastActive = time.Now()
	m.runs[id] = r
	m.mu.Unlock()
	meta, err = m.store.Update(id, func(x *Meta) {
		x.Title, x.Warm, x.Created = title, false, time.Now().UTC()
	})
	if err != nil {
		// The loop is registered now: it is an ordinary (if oddly named) loop the user can delete.
		m.log.Warn("warm loop: hand out", "loop", id, "err", err)
		return Meta{}, false
	}
	m.log.Info("warm loop handed out", "loop", id)
	m.publish(events.TopicLoopsChanged, map[string]string{"id": id})
	m.KickWarm()
	return meta, true
}

// DiscardWarm removes the warm loop (container, agent, folder) in the background; the
// next one is prepared on the next kick. Config changes, context promotion and the
// setting's switch call it.
func (m *Manager) DiscardWarm(why string) {
	m.warm.mu.Lock()
	m.warm.generation++
	id, r := m.warm.id, m.warm.run
	m.warm.id, m.warm.run, m.warm.stamp = "", nil, ""
	m.warm.mu.Unlock()
	if id == "" {
		return
	}
	m.log.Info("warm loop discarded", "loop", id, "why", why)
	if !m.spawn(func() { m.removeWarm(id, r) }) {
		m.removeWarm(id, r) // closing: Close removes it itself, synchronously
	}
}

// closeWarmLimit bounds what closing the app waits for the warm loop's removal: past it
// the container is left to the next start (its folder still says Warm).
const closeWarmLimit = 3 * time.Second

// closeWarm removes the warm loop (Close, after life has ended), within closeWarmLimit.
func (m *Manager) closeWarm() {
	m.warm.mu.Lock()
	m.warm.generation++
	id, r := m.warm.id, m.warm.run
	m.warm.id, m.warm.run, m.warm.stamp = "", nil, ""
	m.warm.mu.Unlock()
	if id != "" {
		m.removeWarmWithin(id, r, closeWarmLimit)
	}
}

// removeWarm kills the warm loop's agent, removes its container and folder. It uses its
// own context: it runs when the manager's life has ended too. A container that could
// not be removed keeps its folder (meta.json says Warm), so the next Start retries
// instead of leaving an orphan container.
func (m *Manager) removeWarm(id string, r *run) { m.removeWarmWithin(id, r, 30*time.Second) }

// removeWarmWithin is removeWarm bounded by limit.
func (m *Manager) removeWarmWithin(id string, r *run, limit time.Duration) {
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	if r != nil {
		r.mu.Lock()
		s := r.sess
		r.mu.Unlock()
		if s != nil {
			if err := s.Kill(ctx); err != nil {
				m.log.Warn("warm loop: kill agent", "loop", id, "err", err)
			}
		}
	}
	if err := m.sb.Remove(ctx, id); err != nil {
		m.log.Warn("warm loop: remove container; the next start retries", "loop", id, "err", err)
		return
	}
	if m.opt.Gateway != nil {
		m.opt.Gateway.Forget(id)
	}
	if err := m.store.Delete(id); err != nil {
		m.log.Warn("warm loop: remove folder", "loop", id, "err", err)
	}
}

// removeStaleWarm removes warm loops a previous run left (crash): found by Start.
func (m *Manager) removeStaleWarm(ids []string) {
	for _, id := range ids {
		m.log.Info("removing a warm loop left by a previous run", "loop", id)
		m.removeWarm(id, nil)
	}
}

// errWarmHidden is what user operations get for a warm loop's id.
func errWarmHidden(id string) error { return fmt.Errorf("%w: %s", ErrNotFound, id) }

// RecheckWarm discards the warm loop when the settings in force are no longer the ones
// it was prepared with (or the setting is off), then prepares the next: config saves
// call it.
func (m *Manager) RecheckWarm() {
	m.spawn(func() {
		m.warm.mu.Lock()
		id, stamp := m.warm.id, m.warm.stamp
		m.warm.mu.Unlock()
		if id != "" {
			meta, err := m.store.Get(id)
			now := ""
			if err == nil {
				now, err = m.warmStamp(meta.Vault)
			}
			if err != nil || now != stamp || !m.warmEnabled() {
				m.DiscardWarm("settings changed since it was prepared")
			}
		}
		m.KickWarm()
	})
}
