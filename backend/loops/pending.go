// What waits for the user: the agent's permission requests, questions (AskUserQuestion)
// and plan approvals (ExitPlanMode), all arriving as the CLI's can_use_tool control
// requests (agent/control.go), answered through Answer.
//
// A pending item lives in memory with the run and answers only the process that asked:
// its id is ours (random), never the CLI's request id, and it is looked up in this
// loop's run only. It ends with the turn: a turn that ends (result, exit, kill, app
// shutdown) while one is open drops it with a note in the transcript.

package loops

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/loopat/desktop/backend/agent"
	"github.com/loopat/desktop/backend/events"
)

// Pending kinds.
const (
	PendingPermission = "permission"
	PendingQuestion   = "question"
	PendingPlan       = "plan"
)

// Bounds on what waits and on answers.
const (
	maxPendingPerLoop = 16
	maxAnswerMessage  = 4000
	maxAnswers        = 32
	maxAnswerText     = 4000
)

// ErrNoPending: the item was answered, withdrawn, or its turn ended.
var ErrNoPending = errors.New("nothing with this id waits for an answer")

// Pending is one request waiting for the user.
type Pending struct {
	ID      string          `json:"id"`
	Kind    string          `json:"kind"` // permission | question | plan
	Tool    string          `json:"tool"`
	Input   json.RawMessage `json:"input"` // the tool's input as the agent sent it
	Rule    string          `json:"rule"`  // what "Allow always" stores ("" = not offered)
	Created time.Time       `json:"created"`

	req *agent.ControlRequest
}

// PendingAnswer is the user's answer. Allow lets the tool run (approves the plan,
// submits the answers); Always also stores Rule (or the suggested rule) for the loop;
// Message goes to the agent with a denial; Answers maps each question to its answer.
type PendingAnswer struct {
	Allow   bool              `json:"allow"`
	Always  bool              `json:"always"`
	Rule    string            `json:"rule"`
	Message string            `json:"message"`
	Answers map[string]string `json:"answers"`
}

// pendingList is a run's open items (its own lock: the run's may be held by callers).
type pendingList struct {
	mu    sync.Mutex
	items []*Pending
}

func (p *pendingList) snapshot() []Pending {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]Pending, 0, len(p.items))
	for _, it := range p.items {
		if it.req.Alive() {
			out = append(out, *it)
		}
	}
	return out
}

// take removes and returns the items matching f.
func (p *pendingList) take(f func(*Pending) bool) []*Pending {
	p.mu.Lock()
	defer p.mu.Unlock()
	var taken []*Pending
	p.items = slices.DeleteFunc(p.items, func(it *Pending) bool {
		if f(it) {
			taken = append(taken, it)
			return true
		}
		return false
	})
	return taken
}

func kindOf(tool string) string {
	switch tool {
	case "AskUserQuestion":
		return PendingQuestion
	case "ExitPlanMode":
		return PendingPlan
	}
	return PendingPermission
}

// PendingItems lists what waits for the user in a loop.
func (m *Manager) PendingItems(id string) ([]Pending, error) {
	if _, err := m.store.Get(id); err != nil {
		return nil, err
	}
	return m.runFor(id).pend.snapshot(), nil
}

// onControl handles a control line of the agent; false when l is not one.
func (m *Manager) onControl(id string, r *run, l agent.Line) bool {
	c := l.Control
	if c == nil {
		return false
	}
	switch {
	case c.Err != nil:
		m.badControl(id, c)
	case c.Subtype == "cancel":
		// The CLI withdrew its question (an interrupt, a timeout): same process only.
		gone := r.pend.take(func(p *Pending) bool { return p.req.SameProcess(c) && p.req.RequestID == c.RequestID })
		if len(gone) > 0 {
			m.pendingChanged(id, r)
		}
	case c.Subtype != "can_use_tool":
		m.log.Warn("agent sent a control request loopat does not serve", "loop", id, "subtype", truncate(c.Subtype, 64))
		_ = c.Fail("loopat does not serve this control request")
	default:
		m.askUser(id, r, c)
	}
	return true
}

// badControl reports an unreadable control message as an error card and unblocks the
// CLI: with an error answer when the request id was readable, else by interrupting.
func (m *Manager) badControl(id string, c *agent.ControlRequest) {
	m.appendOwn(id, map[string]any{"type": "error",
		"message": "The agent sent a control message loopat cannot read: " + truncate(c.Err.Error(), 500),
		"hint":    "The request was refused so the loop does not hang. Send your message again; if it repeats, restart the agent."})
	if c.RequestID != "" {
		if err := c.Fail("loopat could not read this control request"); err == nil {
			return
		}
	}
	if _, err := m.Interrupt(id, true); err != nil {
		m.log.Warn("interrupt after a malformed control message", "loop", id, "err", err)
	}
}

func (m *Manager) askUser(id string, r *run, c *agent.ControlRequest) {
	kind := kindOf(c.ToolName)
	if kind == PendingPermission {
		if meta, err := m.store.Get(id); err == nil {
			for _, rule := range meta.PermissionRules {
				if ruleMatches(rule, c.ToolName, c.Input) {
					if err := c.Allow(nil); err != nil {
						m.log.Warn("allow by rule", "loop", id, "err", err)
					}
					return
				}
			}
		}
	}
	p := &Pending{ID: uuid.NewString(), Kind: kind, Tool: c.ToolName, Input: c.Input, Created: time.Now().UTC(), req: c}
	if kind == PendingPermission {
		p.Rule = suggestRule(c.ToolName, c.Input)
	}
	r.pend.mu.Lock()
	full := len(r.pend.items) >= maxPendingPerLoop
	if !full {
		r.pend.items = append(r.pend.items, p)
	}
	r.pend.mu.Unlock()
	if full {
		_ = c.Deny("Too many requests wait for the user; ask again after they are answered.")
		return
	}
	m.pendingChanged(id, r)
}

// pendingChanged publishes the open items and sets the status: waiting while any is
// open, working again when the last one is answered (the turn goes on).
func (m *Manager) pendingChanged(id string, r *run) {
	items := r.pend.snapshot()
	m.publish(events.LoopTopic(id, events.LoopPending), items)
	r.mu.Lock()
	busy := r.busy
	r.mu.Unlock()
	switch {
	case len(items) > 0:
		m.setStatus(id, StatusWaiting, "needs your input: "+items[0].Tool)
	case busy:
		m.setStatus(id, StatusWorking, "")
	}
	m.publish(events.TopicLoopsChanged, map[string]string{"id": id})
}

// Answer answers one pending item of loop id.
func (m *Manager) Answer(id, pendingID string, a PendingAnswer) error {
	if _, err := m.store.Get(id); err != nil {
		return err
	}
	if len(a.Message) > maxAnswerMessage || !utf8.ValidString(a.Message) {
		return fmt.Errorf("%w: the note is longer than %d bytes or not text", ErrBadInput, maxAnswerMessage)
	}
	r := m.runFor(id)
	var p *Pending
	r.pend.mu.Lock()
	for _, it := range r.pend.items {
		if it.ID == pendingID {
			p = it
		}
	}
	r.pend.mu.Unlock()
	if p == nil {
		return fmt.Errorf("%w (%s)", ErrNoPending, truncate(pendingID, 64))
	}
	if !p.req.Alive() {
		r.pend.take(func(it *Pending) bool { return it == p })
		m.pendingChanged(id, r)
		return fmt.Errorf("%w: the agent that asked has stopped", ErrNoPending)
	}
	// send is the answer; it is written only after the item is gone and the status is
	// back to working: the CLI may finish the turn at once, and its result must be what
	// sets the status last.
	var send func() error
	switch {
	case !a.Allow:
		msg := a.Message
		if msg == "" {
			msg = map[string]string{
				PendingPermission: "The user denied this tool use.",
				PendingQuestion:   "The user declined to answer.",
				PendingPlan:       "The user wants you to keep planning.",
			}[p.Kind]
		}
		send = func() error { return p.req.Deny(msg) }
	case p.Kind == PendingQuestion:
		input, err := withAnswers(p.Input, a.Answers)
		if err != nil {
			return err
		}
		send = func() error { return p.req.Allow(input) }
	default:
		if a.Always && p.Kind == PendingPermission {
			rule := a.Rule
			if rule == "" {
				rule = p.Rule
			}
			if rule == "" {
				return fmt.Errorf("%w: no rule can be made for this request; allow it once", ErrBadInput)
			}
			if err := m.AddPermissionRule(id, rule); err != nil {
				return err
			}
		}
		send = func() error { return p.req.Allow(nil) }
	}
	r.pend.take(func(it *Pending) bool { return it == p })
	var covered []*Pending
	if a.Allow && a.Always {
		covered = m.coveredByRules(id, r)
	}
	m.pendingChanged(id, r)
	if err := send(); err != nil {
		return fmt.Errorf("answer the agent: %w", err)
	}
	for _, c := range covered {
		_ = c.req.Allow(nil)
	}
	return nil
}

// coveredByRules takes the open permission requests the loop's rules now cover; the
// caller allows them.
func (m *Manager) coveredByRules(id string, r *run) []*Pending {
	meta, err := m.store.Get(id)
	if err != nil {
		return nil
	}
	return r.pend.take(func(p *Pending) bool {
		return p.Kind == PendingPermission && slices.ContainsFunc(meta.PermissionRules, func(rule string) bool {
			return ruleMatches(rule, p.Tool, p.Input)
		})
	})
}

// withAnswers is AskUserQuestion's input with the user's answers added, as the CLI
// takes them back ({"questions": [...], "answers": {question: answer}}).
func withAnswers(input json.RawMessage, answers map[string]string) (json.RawMessage, error) {
	if len(answers) == 0 || len(answers) > maxAnswers {
		return nil, fmt.Errorf("%w: give between 1 and %d answers", ErrBadInput, maxAnswers)
	}
	for q, a := range answers {
		if len(q) > maxAnswerText || len(a) > maxAnswerText || !utf8.ValidString(q) || !utf8.ValidString(a) {
			return nil, fmt.Errorf("%w: an answer is longer than %d bytes or not text", ErrBadInput, maxAnswerText)
		}
	}
	var in map[string]json.RawMessage
	if err := json.Unmarshal(input, &in); err != nil {
		return nil, fmt.Errorf("question input: %w", err)
	}
	b, _ := json.Marshal(answers)
	in["answers"] = b
	out, err := json.Marshal(in)
	return out, err
}

// dropPending ends a turn's open items (the turn ended without their answer) with a
// note, so a question never waits silently on a process that no longer listens.
func (m *Manager) dropPending(id string, r *run) {
	gone := r.pend.take(func(*Pending) bool { return true })
	if len(gone) == 0 {
		return
	}
	// No answer goes to the CLI: its turn is over (result, interrupt or exit), so it no
	// longer waits, and a late answer would read as a new turn's output.
	for _, p := range gone {
		m.appendOwn(id, map[string]any{"type": "error",
			"message": fmt.Sprintf("The turn ended while %s waited for your answer; the request was dropped.", p.Tool),
			"hint":    "Send a message to continue; the agent asks again if it still needs it."})
	}
	m.publish(events.LoopTopic(id, events.LoopPending), []Pending{})
}

// recoverWaiting ends, with a note, a turn a previous run left waiting for the user
// (the app stopped without ending it): the question cannot be answered anymore.
func (m *Manager) recoverWaiting(meta Meta) {
	if meta.Status != StatusWaiting {
		return
	}
	m.appendOwn(meta.ID, map[string]any{"type": "error",
		"message": "The app stopped while the agent waited for your answer; that turn has ended.",
		"hint":    "Send a message to continue; the agent resumes the conversation and asks again if it still needs it."})
	_, _ = m.store.Update(meta.ID, func(x *Meta) { x.Status = StatusIdle })
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}
