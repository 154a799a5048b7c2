package loops

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/loopat/desktop/backend/agent"
	"github.com/loopat/desktop/backend/config"
	"github.com/loopat/desktop/backend/events"
	"github.com/loopat/desktop/backend/vault"
)

// ImageProvider returns the image a loop's container runs (images.Builder behind an adapter).
type ImageProvider interface {
	LoopImage(ctx, conn context.Context, m Meta) (ref, warning string, err error)
}

// ImageFunc adapts a function to ImageProvider.
type ImageFunc func(ctx, conn context.Context, m Meta) (ref, warning string, err error)

func (f ImageFunc) LoopImage(ctx, conn context.Context, m Meta) (string, string, error) {
	return f(ctx, conn, m)
}

// Secrets yields a vault's env secrets (vault.Vault implements it).
type Secrets interface {
	Envs(vault string) (map[string]string, error)
}

// Options wire a Manager.
type Options struct {
	Workspace config.Workspace
	Config    func() config.Config // current config; nil = defaults
	Conn      ConnProvider
	Images    ImageProvider
	Secrets   Secrets // nil = no vault
	// HostCredentials lists the secrets only the host uses (context remotes' token and
	// SSH key): never delivered into a sandbox, even from the loop's own vault. An error
	// refuses the delivery. nil = none.
	HostCredentials func() ([]vault.HostCredential, error)
	Events          events.Publisher // nil = none
	Log             *slog.Logger
	// ExtraMounts go into every loop container (tests mount the CLI).
	ExtraMounts []Mount
	// Context gives each loop its context repositories (mounts, warnings, agent
	// instructions and settings); nil = none.
	Context ContextFunc
	// Gateway routes model traffic through the host so the provider key never enters
	// the sandbox. nil = the agent gets the provider URL and key directly (only for
	// tests without a host link).
	Gateway Gateway
	// Scrub learns every secret handed to a sandbox and masks transcripts; nil = none.
	Scrub Scrubber
	// AgentBinary is the claude executable inside the container (default "claude").
	AgentBinary string
	// AgentEnv is extra non-secret environment for the agent (e.g. CLAUDE_CODE_MAX_RETRIES=2).
	AgentEnv []string
	// PartialMessages streams deltas (--include-partial-messages).
	PartialMessages bool
	// AfterContainerStart runs each time the agent starts in a running container, and at
	// Start for each loop container a previous run left running, e.g. to
	// attach the host link (hostexec.Server.Attach). ctx ends when the start is done: work
	// that must outlive it uses its own (app) context; conn stays valid. With a Gateway
	// its error fails the start: the agent reaches its model only over that link.
	AfterContainerStart func(ctx, conn context.Context, loopID, containerName string) error
	// InterruptGrace is how long an interrupted turn may take to end before the process
	// is killed (default 5s).
	InterruptGrace time.Duration
	// IdleCheck is the idle-stop sweep period (default 30s).
	IdleCheck time.Duration
}

// QueuedMessage waits for the current turn to end.
type QueuedMessage struct {
	ID   string `json:"id"`
	Text string `json:"text"`
}

// SendResult tells whether a message started a turn or was queued.
type SendResult struct {
	Queued  bool   `json:"queued"`
	QueueID string `json:"queueId"`
}

// Orphan is a container labelled for this workspace whose loop no longer exists.
type Orphan = ContainerInfo

// Manager runs loops: store, containers, agent processes, queue and events.
type Manager struct {
	opt   Options
	store *Store
	sb    *Sandbox
	log   *slog.Logger

	mu      sync.Mutex
	runs    map[string]*run
	orphans []Orphan
	stop    chan struct{}
	stopped sync.Once
}

// run is the in-memory state of one loop.
type run struct {
	mu           sync.Mutex
	busy         bool // a turn is starting or running
	sess         *agent.Session
	queue        []QueuedMessage
	interrupting bool
	cancelStart  bool
	lastActive   time.Time
	terminals    int
	// delivered: secrets were put into the container, so an emptied vault must still
	// be delivered (to clear them).
	delivered bool
	deliverMu sync.Mutex    // one secret delivery at a time (agent and terminal race)
	idle      chan struct{} // closed when the loop becomes idle; replaced on each turn
	// turnDone is closed when the current turn ends, even when a queued message starts
	// the next one at once: an interrupt's kill timer watches it, so it can only ever end
	// the turn it was aimed at.
	turnDone chan struct{}
}

// NewManager opens the workspace's loops.
func NewManager(opt Options) (*Manager, error) {
	if opt.Conn == nil {
		return nil, errors.New("loops: no engine connection provider")
	}
	if opt.Log == nil {
		opt.Log = slog.Default()
	}
	if opt.InterruptGrace <= 0 {
		opt.InterruptGrace = 5 * time.Second
	}
	if opt.IdleCheck <= 0 {
		opt.IdleCheck = 30 * time.Second
	}
	st, err := NewStore(opt.Workspace.LoopsDir())
	if err != nil {
		return nil, err
	}
	return &Manager{
		opt: opt, store: st, sb: NewSandbox(opt.Workspace, opt.Conn), log: opt.Log.With("component", "loops"),
		runs: map[string]*run{}, stop: make(chan struct{}),
	}, nil
}

// Store exposes the on-disk model (workdir and terminal services use its paths).
func (m *Manager) Store() *Store { return m.store }

// Sandbox exposes the container side.
func (m *Manager) Sandbox() *Sandbox { return m.sb }

func (m *Manager) cfg() config.Config {
	if m.opt.Config != nil {
		return m.opt.Config()
	}
	return config.Default()
}

func (m *Manager) publish(topic string, data any) {
	if m.opt.Events != nil {
		m.opt.Events.Publish(topic, data)
	}
}

func (m *Manager) runFor(id string) *run {
	m.mu.Lock()
	defer m.mu.Unlock()
	r := m.runs[id]
	if r == nil {
		r = &run{lastActive: time.Now(), idle: closedChan()}
		m.runs[id] = r
	}
	return r
}

func closedChan() chan struct{} { c := make(chan struct{}); close(c); return c }

// Start reconciles containers with loops (orphans are reported, never deleted), resets
// statuses left by a previous run and starts the idle-stop sweep.
func (m *Manager) Start(ctx context.Context) error {
	list, err := m.store.List()
	if err != nil {
		return err
	}
	known := map[string]bool{}
	for _, meta := range list {
		known[meta.ID] = true
		if meta.Status == StatusWorking || meta.Status == StatusStarting {
			_, _ = m.store.Update(meta.ID, func(x *Meta) { x.Status = StatusIdle })
		}
	}
	conts, err := m.sb.List(ctx)
	if err != nil {
		go m.idleLoop()
		return fmt.Errorf("reconcile loop containers: %w", err)
	}
	var orphans []Orphan
	var running []ContainerInfo
	for _, c := range conts {
		if known[c.LoopID] && c.State == "running" {
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
		go m.relink(running)
	}
	go m.idleLoop()
	return nil
}

// relink runs AfterContainerStart for containers a previous run left running, so
// their host link (gateway, host exec, promote) is back before the next turn.
func (m *Manager) relink(running []ContainerInfo) {
	for _, c := range running {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
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

// Close ends every agent process (containers keep running until idle-stopped or the
// next start; the conversation resumes from the stored session id).
func (m *Manager) Close() {
	m.stopped.Do(func() { close(m.stop) })
	m.mu.Lock()
	runs := make([]*run, 0, len(m.runs))
	for _, r := range m.runs {
		runs = append(runs, r)
	}
	m.mu.Unlock()
	for _, r := range runs {
		r.mu.Lock()
		s := r.sess
		r.mu.Unlock()
		if s != nil {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			_ = s.Kill(ctx)
			cancel()
		}
	}
}

// CreateRequest is what the UI sends to create a loop.
type CreateRequest struct {
	Title string `json:"title"`
	Repo  string `json:"repo"`
	Vault string `json:"vault"`
}

// Create makes a new loop (its container starts with the first message).
func (m *Manager) Create(req CreateRequest) (Meta, error) {
	c := m.cfg()
	meta, err := m.store.Create(NewLoop{
		Title: req.Title, Repo: req.Repo, Vault: req.Vault,
		Provider: c.Agent.DefaultProvider, Model: c.Agent.DefaultModel, PermissionMode: c.Agent.PermissionMode,
	})
	if err != nil {
		return Meta{}, err
	}
	if m.opt.Context != nil {
		// The pull edge: the loop starts from the latest shared context.
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		lc, err := m.opt.Context(ctx, meta.ID)
		cancel()
		warnings := lc.Warnings
		if err != nil {
			m.log.Warn("prepare loop context", "loop", meta.ID, "err", err)
			warnings = append(warnings, "unavailable: "+err.Error())
		}
		for i, w := range warnings {
			warnings[i] = string(m.scrub([]byte(w))) // shown in the UI like a status detail
		}
		if len(warnings) > 0 {
			if updated, err := m.store.Update(meta.ID, func(x *Meta) {
				x.ContextWarnings = warnings
				x.Warning = composeWarning("", warnings)
			}); err == nil {
				meta = updated
			}
		}
	}
	m.publish("loops:changed", map[string]string{"id": meta.ID})
	return meta, nil
}

// List returns all loops, newest first.
func (m *Manager) List() ([]Meta, error) { return m.store.List() }

// Get returns one loop.
func (m *Manager) Get(id string) (Meta, error) { return m.store.Get(id) }

// Rename changes the title.
func (m *Manager) Rename(id, title string) error {
	title = strings.TrimSpace(title)
	if title == "" {
		return fmt.Errorf("%w: a loop needs a title", ErrBadInput)
	}
	if _, err := m.store.Update(id, func(x *Meta) { x.Title = title }); err != nil {
		return err
	}
	m.publish("loops:changed", map[string]string{"id": id})
	return nil
}

// Archive hides (or unhides) a loop; archiving ends its agent and stops its container.
func (m *Manager) Archive(id string, archived bool) error {
	if _, err := m.store.Update(id, func(x *Meta) { x.Archived = archived }); err != nil {
		return err
	}
	if archived {
		r := m.runFor(id)
		r.mu.Lock()
		r.queue = nil // an archived loop sends nothing more
		r.mu.Unlock()
		m.stopLoop(context.Background(), id, StatusStopped)
	}
	m.publish("loops:changed", map[string]string{"id": id})
	return nil
}

// Delete ends the agent, removes the container and the loop folder.
func (m *Manager) Delete(id string) error {
	if _, err := m.store.Get(id); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	r := m.runFor(id)
	r.mu.Lock()
	r.queue = nil
	r.mu.Unlock()
	m.killAgent(ctx, id)
	if err := m.sb.Remove(ctx, id); err != nil {
		return fmt.Errorf("delete loop %s: %w", id, err)
	}
	if err := m.store.Delete(id); err != nil {
		return err
	}
	m.mu.Lock()
	delete(m.runs, id)
	m.mu.Unlock()
	if m.opt.Gateway != nil {
		m.opt.Gateway.Forget(id)
	}
	m.publish("loops:changed", map[string]string{"id": id})
	return nil
}

// Messages returns the transcript.
func (m *Manager) Messages(id string) ([]json.RawMessage, error) {
	if _, err := m.store.Get(id); err != nil {
		return nil, err
	}
	return m.store.Transcript(id).Read()
}

// ValidPermissionMode reports whether mode is one the CLI accepts.
func ValidPermissionMode(mode string) bool {
	switch mode {
	case "bypassPermissions", "acceptEdits", "default", "plan":
		return true
	}
	return false
}

// SetPermissionMode stores the mode and applies it to a running agent.
func (m *Manager) SetPermissionMode(id, mode string) error {
	if !ValidPermissionMode(mode) {
		return fmt.Errorf("%w: permission mode %q is not one of bypassPermissions, acceptEdits, default, plan", ErrBadInput, mode)
	}
	if _, err := m.store.Update(id, func(x *Meta) { x.PermissionMode = mode }); err != nil {
		return err
	}
	r := m.runFor(id)
	r.mu.Lock()
	s := r.sess
	r.mu.Unlock()
	if s != nil {
		if err := s.SetPermissionMode(mode); err != nil {
			return fmt.Errorf("apply permission mode: %w", err)
		}
	}
	m.publish("loops:changed", map[string]string{"id": id})
	return nil
}

// Errors a caller can act on (the services give them to the user as such).
var (
	ErrEmptyMessage = errors.New("message is empty")
	ErrArchived     = errors.New("loop is archived: unarchive it to continue")
	ErrBadInput     = errors.New("invalid input")
)

// Send starts a turn, or queues text when a turn is running.
func (m *Manager) Send(id, text string) (SendResult, error) {
	text = strings.TrimSpace(text)
	if text == "" {
		return SendResult{}, ErrEmptyMessage
	}
	meta, err := m.store.Get(id)
	if err != nil {
		return SendResult{}, err
	}
	if meta.Archived {
		return SendResult{}, ErrArchived
	}
	r := m.runFor(id)
	r.mu.Lock()
	r.lastActive = time.Now()
	if r.busy {
		q := QueuedMessage{ID: uuid.NewString()[:8], Text: text}
		r.queue = append(r.queue, q)
		snapshot := append([]QueuedMessage(nil), r.queue...)
		r.mu.Unlock()
		m.publish("loop:"+id+":queue", snapshot)
		return SendResult{Queued: true, QueueID: q.ID}, nil
	}
	r.busy = true
	r.idle = make(chan struct{})
	r.turnDone = make(chan struct{})
	r.mu.Unlock()
	go m.runTurn(id, r, text)
	return SendResult{}, nil
}

// Queue lists messages waiting for the current turn.
func (m *Manager) Queue(id string) ([]QueuedMessage, error) {
	if _, err := m.store.Get(id); err != nil {
		return nil, err
	}
	r := m.runFor(id)
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]QueuedMessage{}, r.queue...), nil
}

// Unqueue removes a queued message.
func (m *Manager) Unqueue(id, queueID string) error {
	r := m.runFor(id)
	r.mu.Lock()
	found := false
	for i, q := range r.queue {
		if q.ID == queueID {
			r.queue = append(r.queue[:i], r.queue[i+1:]...)
			found = true
			break
		}
	}
	snapshot := append([]QueuedMessage{}, r.queue...)
	r.mu.Unlock()
	if !found {
		return fmt.Errorf("queued message %q not found (already sent?)", queueID)
	}
	m.publish("loop:"+id+":queue", snapshot)
	return nil
}

// Interrupt stops the current turn: a stream-json interrupt request first, and if that
// turn has not ended after InterruptGrace, the process is killed (the next message
// restarts it with --resume). The kill timer belongs to the interrupted turn: it stops
// when that turn ends and never touches a turn started after it.
//
// Unless keepQueue, the queued messages are taken off the queue and returned, so the
// caller can give their text back to the user (as Esc does in Claude Code); with
// keepQueue they are sent one by one after the interrupted turn ends.
func (m *Manager) Interrupt(id string, keepQueue bool) ([]QueuedMessage, error) {
	if _, err := m.store.Get(id); err != nil {
		return nil, err
	}
	r := m.runFor(id)
	r.mu.Lock()
	var taken []QueuedMessage
	if !keepQueue && len(r.queue) > 0 {
		taken, r.queue = r.queue, nil
	}
	if !r.busy {
		r.mu.Unlock()
		if taken != nil {
			m.publish("loop:"+id+":queue", []QueuedMessage{})
		}
		return taken, nil
	}
	s := r.sess
	r.interrupting = true
	turnDone := r.turnDone
	if s == nil {
		r.cancelStart = true
	}
	r.mu.Unlock()
	if taken != nil {
		m.publish("loop:"+id+":queue", []QueuedMessage{})
	}
	if s == nil {
		return taken, nil
	}
	if err := s.Interrupt(); err != nil {
		m.log.Warn("interrupt request failed; killing the agent", "loop", id, "err", err)
	}
	go func() {
		t := time.NewTimer(m.opt.InterruptGrace)
		defer t.Stop()
		select {
		case <-turnDone:
		case <-s.Done():
		case <-t.C:
			m.log.Warn("interrupted turn did not end in time; killing the agent", "loop", id, "grace", m.opt.InterruptGrace)
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			_ = s.Kill(ctx)
		}
	}()
	return taken, nil
}

// Wait blocks until the loop has no running turn and no queued message.
func (m *Manager) Wait(ctx context.Context, id string) error {
	r := m.runFor(id)
	for {
		r.mu.Lock()
		idle := r.idle
		r.mu.Unlock()
		select {
		case <-idle:
			r.mu.Lock()
			done := !r.busy
			r.mu.Unlock()
			if done {
				return nil
			}
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// AgentProcessID identifies the loop's running agent process ("" when none): equal
// across turns served by one process.
func (m *Manager) AgentProcessID(id string) string {
	r := m.runFor(id)
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.sess == nil {
		return ""
	}
	return r.sess.ID()
}

// setStatus saves and publishes a loop's status. The detail is masked: it may quote
// an error or the model API's answer, which can echo a secret.
func (m *Manager) setStatus(id, status, detail string) {
	if _, err := m.store.Update(id, func(x *Meta) { x.Status = status }); err != nil {
		m.log.Warn("save loop status", "loop", id, "err", err)
	}
	m.publishStatus(id, status, detail)
}

func (m *Manager) publishStatus(id, status, detail string) {
	m.publish("loop:"+id+":status", map[string]string{"status": status, "detail": string(m.scrub([]byte(detail)))})
}

// scrub masks registered secrets in b.
func (m *Manager) scrub(b []byte) []byte {
	if m.opt.Scrub == nil {
		return b
	}
	return m.opt.Scrub.Bytes(b)
}

// appendLine stores a transcript line (secrets masked) and publishes it.
func (m *Manager) appendLine(id string, line []byte) {
	line = m.scrub(line)
	if err := m.store.Transcript(id).Append(line); err != nil {
		m.log.Error("append transcript", "loop", id, "err", err)
	}
	m.publish("loop:"+id+":message", json.RawMessage(line))
}

func (m *Manager) appendOwn(id string, v map[string]any) {
	v["ts"] = time.Now().UTC().Format(time.RFC3339Nano)
	b, _ := json.Marshal(v)
	m.appendLine(id, b)
}

// fail records an actionable error in the transcript and ends the turn in status error.
func (m *Manager) fail(id string, r *run, message, hint string) {
	m.appendOwn(id, map[string]any{"type": "error", "message": message, "hint": hint})
	m.setStatus(id, StatusError, message)
	m.endTurn(id, r, false)
}

// endTurn clears busy, wakes waiters, and starts the next queued message if any.
func (m *Manager) endTurn(id string, r *run, drain bool) {
	r.mu.Lock()
	r.interrupting, r.cancelStart = false, false
	r.lastActive = time.Now()
	if r.turnDone != nil {
		close(r.turnDone)
		r.turnDone = nil
	}
	if drain && len(r.queue) > 0 {
		next := r.queue[0]
		r.queue = r.queue[1:]
		r.turnDone = make(chan struct{})
		snapshot := append([]QueuedMessage{}, r.queue...)
		r.mu.Unlock()
		m.publish("loop:"+id+":queue", snapshot)
		go m.runTurn(id, r, next.Text)
		return
	}
	r.busy = false
	close(r.idle)
	r.mu.Unlock()
}

func (m *Manager) runTurn(id string, r *run, text string) {
	m.appendOwn(id, map[string]any{"type": "user_input", "text": text})
	r.mu.Lock()
	s := r.sess
	r.mu.Unlock()
	if s == nil {
		m.setStatus(id, StatusStarting, "starting the sandbox and agent")
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
		var msg, hint string
		s, msg, hint = m.startAgent(ctx, id, r)
		cancel()
		if s == nil {
			m.fail(id, r, msg, hint)
			return
		}
		r.mu.Lock()
		cancelled := r.cancelStart
		r.mu.Unlock()
		if cancelled {
			m.appendOwn(id, map[string]any{"type": "interrupted"})
			m.setStatus(id, StatusIdle, "interrupted")
			m.endTurn(id, r, true)
			return
		}
	}
	m.setStatus(id, StatusWorking, "")
	if err := s.Send(text); err != nil {
		m.fail(id, r, "Could not send the message to the agent: "+err.Error(), "Send it again: the agent restarts and resumes the conversation.")
	}
}

// startAgent ensures image, container and CLI process. On failure it returns a message
// and hint for the transcript.
func (m *Manager) startAgent(ctx context.Context, id string, r *run) (*agent.Session, string, string) {
	meta, err := m.store.Get(id)
	if err != nil {
		return nil, "Loop not readable: " + err.Error(), "Check the loop folder " + m.store.WorkDir(id)
	}
	secrets, err := m.execEnv(id, meta, true)
	if err != nil {
		var p *envProblem
		if errors.As(err, &p) {
			return nil, p.msg, p.hint
		}
		return nil, err.Error(), ""
	}
	conn, err := m.opt.Conn.Conn(ctx)
	if err != nil {
		return nil, "The container engine is not available: " + err.Error(), "Start podman from the engine panel (or check `podman info`), then send the message again."
	}
	if m.opt.Images == nil {
		return nil, "No sandbox image builder is configured", "This is a wiring bug: report it."
	}
	ref, warning, err := m.opt.Images.LoopImage(ctx, conn, meta)
	if err != nil {
		return nil, "Building the sandbox image failed: " + err.Error(), "Open the image panel for the build log; fix mise.toml or the network/CA settings and send again."
	}
	if w := composeWarning(warning, meta.ContextWarnings); w != meta.Warning {
		_, _ = m.store.Update(id, func(x *Meta) { x.Warning = w })
	}
	imageID, err := m.sb.ImageID(ctx, ref)
	if err != nil {
		return nil, "Sandbox image missing: " + err.Error(), "Rebuild the sandbox image, then send again."
	}
	mounts, lc := m.containerMounts(ctx, id)
	spec := ContainerSpec{Image: ref, ImageID: imageID, Mounts: mounts}
	if _, err := m.sb.Ensure(ctx, id, spec); err != nil {
		return nil, "Could not start the loop's container: " + err.Error(), "Check the engine panel; `podman logs " + m.sb.ContainerName(id) + "` may tell more."
	}
	if m.opt.AfterContainerStart != nil {
		if err := m.opt.AfterContainerStart(ctx, conn, id, m.sb.ContainerName(id)); err != nil {
			if m.opt.Gateway != nil {
				return nil, "Could not link the sandbox to the app: " + err.Error(),
					"The agent reaches its model through this link. Rebuild the sandbox image (it needs loopat-host), then send again."
			}
			m.log.Warn("after container start", "loop", id, "err", err)
		}
	}
	if err := m.deliverSecrets(ctx, id, r, secrets); err != nil {
		return nil, "Could not deliver the vault's secrets: " + err.Error(),
			"Check that the sandbox image has sh, tar, find and mv; send the message again to retry."
	}
	// Only non-secret environment in the exec (podman keeps it on disk); the vault's
	// env secrets come from the env file just delivered.
	env := append([]string{"HOME=" + SandboxHome}, secrets.plain...)
	env = append(env, m.opt.AgentEnv...)
	args := agent.Args(agent.Options{
		Binary: m.opt.AgentBinary, Model: meta.Model, PermissionMode: meta.PermissionMode,
		Resume: meta.SessionID, PartialMessages: m.opt.PartialMessages,
	})
	cmd := agent.Command{Args: withSecretEnv(append(args, contextArgs(lc)...)), Env: env, User: SandboxUser, WorkDir: SandboxWork}
	var sess *agent.Session
	sess, err = agent.Start(ctx, starter{m.sb, id}, cmd, meta.Model,
		func(l agent.Line) { m.onLine(id, r, l) },
		func(e agent.Exit) { m.onExit(id, r, sess, e) })
	if err != nil {
		return nil, "Could not start the agent: " + err.Error(), "Check that the sandbox image has the claude CLI; send again to retry."
	}
	r.mu.Lock()
	r.sess = sess
	r.mu.Unlock()
	return sess, "", ""
}

// containerMounts are the loop container's mounts (home, workdir, context, extras) and
// the loop's context. A context that cannot be prepared is logged and left out: the
// loop still runs.
func (m *Manager) containerMounts(ctx context.Context, id string) ([]Mount, LoopContext) {
	ms := []Mount{
		{Source: m.store.HomeDir(id), Target: SandboxHome},
		{Source: m.store.WorkDir(id), Target: SandboxWork},
	}
	var lc LoopContext
	if m.opt.Context != nil {
		var err error
		if lc, err = m.opt.Context(ctx, id); err != nil {
			m.log.Warn("loop context not mounted", "loop", id, "err", err)
			lc = LoopContext{}
		}
		ms = append(ms, lc.Mounts...)
	}
	return append(ms, m.opt.ExtraMounts...), lc
}

type starter struct {
	sb *Sandbox
	id string
}

func (s starter) StartProcess(ctx context.Context, cmd agent.Command) (agent.Process, error) {
	return s.sb.Exec(ctx, s.id, cmd, false, 0, 0)
}

func (m *Manager) onLine(id string, r *run, l agent.Line) {
	if l.Type == "system" && l.Subtype == "init" && l.SessionID != "" {
		if meta, err := m.store.Get(id); err == nil && meta.SessionID != l.SessionID {
			_, _ = m.store.Update(id, func(x *Meta) { x.SessionID = l.SessionID })
		}
	}
	if l.Type == "system" && l.Subtype == "api_retry" {
		// The CLI retries failed model calls with backoff for minutes: show it.
		var rt struct {
			Attempt    int    `json:"attempt"`
			MaxRetries int    `json:"max_retries"`
			Error      string `json:"error"`
			Status     int    `json:"error_status"`
		}
		_ = json.Unmarshal(l.Raw, &rt)
		m.publishStatus(id, StatusWorking, fmt.Sprintf("model API error %d (%s), retry %d of %d", rt.Status, rt.Error, rt.Attempt, rt.MaxRetries))
	}
	if l.Ephemeral() {
		if l.Delta != nil && l.Delta.Text != "" {
			d := *l.Delta
			d.Text = string(m.scrub([]byte(d.Text)))
			m.publish("loop:"+id+":delta", &d)
		}
		return
	}
	m.appendLine(id, l.Raw)
	if l.Result == nil {
		return
	}
	res := l.Result
	if _, err := m.store.Update(id, func(x *Meta) { x.Usage.Add(res.Usage) }); err != nil {
		m.log.Warn("save usage", "loop", id, "err", err)
	}
	r.mu.Lock()
	interrupted := r.interrupting
	r.mu.Unlock()
	switch {
	case interrupted:
		m.appendOwn(id, map[string]any{"type": "interrupted"})
		m.setStatus(id, StatusIdle, "interrupted")
	case res.IsError:
		m.appendOwn(id, map[string]any{"type": "error", "message": "The model API returned an error: " + res.Text,
			"hint": "Check the provider's base URL, API key and model in Settings, then send again."})
		m.setStatus(id, StatusError, res.Text)
	default:
		m.setStatus(id, StatusIdle, "")
	}
	m.publish("loops:changed", map[string]string{"id": id})
	m.endTurn(id, r, true)
}

func (m *Manager) onExit(id string, r *run, sess *agent.Session, e agent.Exit) {
	r.mu.Lock()
	if r.sess == sess {
		r.sess = nil
	}
	busy, interrupting := r.busy, r.interrupting
	r.mu.Unlock()
	if strings.Contains(e.StderrTail, "No conversation found") {
		// The CLI's session files are gone (home reset): start fresh next time.
		_, _ = m.store.Update(id, func(x *Meta) { x.SessionID = "" })
	}
	if !busy {
		return
	}
	if interrupting || e.Killed {
		m.appendOwn(id, map[string]any{"type": "interrupted"})
		m.setStatus(id, StatusIdle, "interrupted")
		m.endTurn(id, r, true)
		return
	}
	msg := fmt.Sprintf("The agent exited unexpectedly (exit code %d)", e.Code)
	hint := "Send a message to restart the agent; the conversation resumes where it was."
	if e.Code == 127 {
		msg += ": the claude CLI was not found in the sandbox image"
		hint = "Rebuild the sandbox image (Settings › Sandbox), then send the message again."
	}
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	if e.StderrTail != "" {
		msg += "\n" + lastLines(e.StderrTail, 10)
	}
	m.fail(id, r, msg, hint)
}

func lastLines(s string, n int) string {
	lines := strings.Split(s, "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

func (m *Manager) killAgent(ctx context.Context, id string) {
	r := m.runFor(id)
	r.mu.Lock()
	s := r.sess
	r.mu.Unlock()
	if s != nil {
		if err := s.Kill(ctx); err != nil {
			m.log.Warn("kill agent", "loop", id, "err", err)
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
		case <-m.stop:
			return
		case <-t.C:
			m.SweepIdle(context.Background())
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
