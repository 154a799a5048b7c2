// A loop's turns: send, queue, interrupt, agent start and its output.

package loops

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/loopat/desktop/backend/agent"
	"github.com/loopat/desktop/backend/events"
)

// QueuedMessage waits for the current turn to end.
type QueuedMessage struct {
	ID   string `json:"id"`
	Text string `json:"text"`
	// Images go with the text as image content blocks (composer.go); the UI sees their count.
	Images     []ImageAttachment `json:"-"`
	ImageCount int               `json:"imageCount,omitempty"`
}

// SendResult tells whether a message started a turn or was queued.
type SendResult struct {
	Queued  bool   `json:"queued"`
	QueueID string `json:"queueId"`
}

// Send starts a turn, or queues text when a turn is running.
func (m *Manager) Send(id, text string) (SendResult, error) { return m.SendWithImages(id, text, nil) }

// send is Send with images already checked (composer.go).
func (m *Manager) send(id, text string, images []ImageAttachment) (SendResult, error) {
	text = strings.TrimSpace(text)
	if text == "" {
		return SendResult{}, ErrEmptyMessage
	}
	r := m.runFor(id)
	r.mu.Lock()
	if why := r.stopping; why != nil {
		r.mu.Unlock()
		return SendResult{}, why
	}
	// Read under the run's lock: Archive marks the run stopping before it saves the
	// flag, so a send either sees it here or starts a turn Archive then ends.
	meta, err := m.Get(id) // a warm loop not handed out is not found
	if err == nil && meta.Archived {
		err = ErrArchived
	}
	if err != nil {
		r.mu.Unlock()
		return SendResult{}, err
	}
	r.lastActive = time.Now()
	if r.busy {
		q := QueuedMessage{ID: uuid.NewString()[:8], Text: text, Images: images, ImageCount: len(images)}
		r.queue = append(r.queue, q)
		snapshot := append([]QueuedMessage(nil), r.queue...)
		r.mu.Unlock()
		m.publish(events.LoopTopic(id, events.LoopQueue), snapshot)
		return SendResult{Queued: true, QueueID: q.ID}, nil
	}
	if !m.startTurn(id, r, QueuedMessage{Text: text, Images: images}) {
		r.mu.Unlock()
		return SendResult{}, ErrClosed
	}
	r.busy = true
	r.idle = make(chan struct{})
	r.mu.Unlock()
	return SendResult{}, nil
}

// startTurn (r.mu held) runs a turn in a goroutine Close waits for, under a context
// Delete, Archive and Close cancel; false once Close began.
func (m *Manager) startTurn(id string, r *run, msg QueuedMessage) bool {
	ctx, cancel := context.WithCancel(m.life)
	if !m.spawn(func() { m.runTurn(ctx, id, r, msg) }) {
		cancel()
		return false
	}
	r.cancelTurn = cancel
	r.turnDone = make(chan struct{})
	return true
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
	m.publish(events.LoopTopic(id, events.LoopQueue), snapshot)
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
			m.publish(events.LoopTopic(id, events.LoopQueue), []QueuedMessage{})
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
		m.publish(events.LoopTopic(id, events.LoopQueue), []QueuedMessage{})
	}
	if s == nil {
		return taken, nil
	}
	if err := s.Interrupt(); err != nil {
		m.log.Warn("interrupt request failed; killing the agent", "loop", id, "err", err)
	}
	m.spawn(func() {
		t := time.NewTimer(m.opt.InterruptGrace)
		defer t.Stop()
		select {
		case <-turnDone:
		case <-s.Done():
		case <-m.life.Done(): // Close kills every agent itself
		case <-t.C:
			m.log.Warn("interrupted turn did not end in time; killing the agent", "loop", id, "grace", m.opt.InterruptGrace)
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			_ = s.Kill(ctx)
		}
	})
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
	m.awaitStatusWrite(id) // a turn's "working" saved behind (turnstatus.go) goes first
	if _, err := m.store.Update(id, func(x *Meta) { x.Status = status }); err != nil {
		m.log.Warn("save loop status", "loop", id, "err", err)
	}
	m.publishStatus(id, status, detail)
}

func (m *Manager) publishStatus(id, status, detail string) {
	m.publish(events.LoopTopic(id, events.LoopStatus), map[string]string{"status": status, "detail": string(m.scrub([]byte(detail)))})
}

// appendLine stores a transcript line (secrets masked) and publishes it.
func (m *Manager) appendLine(id string, line []byte) {
	line = stampTime(m.scrub(line), time.Now())
	if err := m.store.Transcript(id).Append(line); err != nil {
		m.log.Error("append transcript", "loop", id, "err", err)
	}
	m.publish(events.LoopTopic(id, events.LoopMessage), json.RawMessage(line))
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
	m.dropPending(id, r) // a question of the ended turn cannot be answered anymore
	r.mu.Lock()
	if !r.busy { // already ended (e.g. a result and the agent's exit racing): idle is closed
		r.mu.Unlock()
		return
	}
	r.interrupting, r.cancelStart = false, false
	r.lastActive = time.Now()
	if r.turnDone != nil {
		close(r.turnDone)
		r.turnDone = nil
	}
	if r.cancelTurn != nil {
		r.cancelTurn()
		r.cancelTurn = nil
	}
	if drain && len(r.queue) > 0 && r.stopping == nil && m.startTurn(id, r, r.queue[0]) {
		r.queue = r.queue[1:]
		snapshot := append([]QueuedMessage{}, r.queue...)
		r.mu.Unlock()
		m.publish(events.LoopTopic(id, events.LoopQueue), snapshot)
		return
	}
	r.busy = false
	close(r.idle)
	r.mu.Unlock()
}

// runTurn runs one turn; ctx is the turn's (see startTurn).
func (m *Manager) runTurn(ctx context.Context, id string, r *run, msg QueuedMessage) {
	text := msg.Text
	input := map[string]any{"type": "user_input", "text": text}
	if len(msg.Images) > 0 {
		input["images"] = len(msg.Images)
	}
	m.appendOwn(id, input)
	r.mu.Lock()
	s := r.sess
	r.mu.Unlock()
	if s == nil {
		m.setStatus(id, StatusStarting, "starting the sandbox and agent")
		startCtx, cancel := context.WithTimeout(ctx, 30*time.Minute)
		var msg, hint string
		s, msg, hint = m.startAgent(startCtx, id, r)
		cancel()
		if ctx.Err() != nil {
			// Delete, Archive or Close ended the turn during the start: not an agent
			// failure. They kill an agent the start left and stop the container.
			m.appendOwn(id, map[string]any{"type": "interrupted"})
			m.setStatus(id, StatusIdle, "stopped during the start")
			m.endTurn(id, r, false)
			return
		}
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
	m.setStatusBehind(id, StatusWorking) // saved off the message's path (turnstatus.go)
	if err := sendUserMessage(s, text, msg.Images); err != nil {
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
		Resume: meta.SessionID, PartialMessages: m.opt.PartialMessages, PromptTool: true,
	})
	cmd := agent.Command{Args: withSecretEnv(append(args, contextArgs(lc)...)), Env: env, User: SandboxUser, WorkDir: SandboxWork}
	if ctx.Err() != nil {
		return nil, "The start was cancelled", ""
	}
	// Close waits for the session's end: its exit handling writes the transcript.
	if !m.hold() {
		return nil, "The app is shutting down", ""
	}
	var sess *agent.Session
	started := make(chan struct{}) // sess is set: an agent that dies at once waits for it
	sess, err = agent.Start(ctx, starter{m.sb, id}, cmd, meta.Model,
		func(l agent.Line) { m.onLine(id, r, l) },
		func(e agent.Exit) {
			defer m.release()
			<-started
			m.onExit(id, r, sess, e)
		})
	close(started)
	if err != nil {
		m.release()
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
	if m.onControl(id, r, l) { // permission requests and questions: pending.go
		return
	}
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
	m.observeComposer(id, l) // slash commands and context usage: composer.go
	if l.Ephemeral() {
		if l.Delta != nil && l.Delta.Text != "" {
			d := *l.Delta
			d.Text = string(m.scrub([]byte(d.Text)))
			m.publish(events.LoopTopic(id, events.LoopDelta), &d)
		}
		return
	}
	m.appendLine(id, l.Raw)
	if l.Result == nil {
		return
	}
	res := l.Result
	r.mu.Lock()
	busy := r.busy
	r.mu.Unlock()
	if !busy {
		// The agent is process output, hence hostile: a result with no turn running
		// ends nothing (ending a turn twice would close its idle channel twice).
		m.log.Warn("agent result outside a turn ignored", "loop", id)
		return
	}
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
	m.publish(events.TopicLoopsChanged, map[string]string{"id": id})
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
