package loops

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

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
	// NoWarm: no warm loop is prepared, and none found at Start is removed (a short-lived
	// command beside a running app: those are the app's).
	NoWarm bool
	// WarmDelay is how long after a start the next warm loop waits (default 3s; <0 = none).
	WarmDelay time.Duration
}

// Manager runs loops: store, containers, agent processes, queue and events.
type Manager struct {
	opt   Options
	store *Store
	sb    *Sandbox
	log   *slog.Logger

	mu      sync.Mutex
	runs    map[string]*run
	orphans []Orphan
	// life ends at Close: every turn's context derives from it, so Close cancels an
	// agent start in flight. wg counts every goroutine the manager starts (turns, agent
	// exit handling, re-links, the idle sweep, interrupt timers) so Close can wait for
	// them; closed (under mu) refuses new ones, so no Add races Wait.
	life    context.Context
	endLife context.CancelFunc
	closed  bool
	wg      sync.WaitGroup

	warm warmSlot // the loop prepared ahead (warm.go)
	// statusWrites: loop id -> a status save still running (turnstatus.go).
	statusWrites sync.Map
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
	// cancelTurn ends the current turn's context (nil between turns): Delete, Archive
	// and Close call it so an agent start in flight stops instead of (re)creating the
	// container and agent after them.
	cancelTurn context.CancelFunc
	// stopping is set while Delete or Archive ends the loop: Send refuses with it and
	// no queued message starts.
	stopping error

	pend pendingList // what waits for the user (pending.go)
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
	life, endLife := context.WithCancel(context.Background())
	return &Manager{
		opt: opt, store: st, sb: NewSandbox(opt.Workspace, opt.Conn), log: opt.Log.With("component", "loops"),
		runs: map[string]*run{}, life: life, endLife: endLife,
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

// spawn runs fn in a goroutine Close waits for; false (fn not run) once Close began.
func (m *Manager) spawn(fn func()) bool {
	if !m.hold() {
		return false
	}
	go func() {
		defer m.wg.Done()
		fn()
	}()
	return true
}

// hold counts work Close must wait for (release ends it); false once Close began.
func (m *Manager) hold() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return false
	}
	m.wg.Add(1)
	return true
}

func (m *Manager) release() { m.wg.Done() }

func closedChan() chan struct{} { c := make(chan struct{}); close(c); return c }

// Errors a caller can act on (the services give them to the user as such).
var (
	ErrEmptyMessage = errors.New("message is empty")
	ErrArchived     = errors.New("loop is archived: unarchive it to continue")
	ErrBadInput     = errors.New("invalid input")
	ErrClosed       = errors.New("loops are shutting down")
)

// scrub masks registered secrets in b.
func (m *Manager) scrub(b []byte) []byte {
	if m.opt.Scrub == nil {
		return b
	}
	return m.opt.Scrub.Bytes(b)
}
