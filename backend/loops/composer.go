// The composer's backend: the CLI's slash commands, the context meter, queue edits,
// images sent with a message and "New session".

package loops

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/loopat/desktop/backend/agent"
	"github.com/loopat/desktop/backend/events"
	"github.com/loopat/desktop/backend/safefs"
)

// LoopComposer is the per-loop topic of ComposerState changes ("loop:<id>:composer").
const LoopComposer = "composer"

// Bounds on what the CLI reports: its output is hostile input, so the saved state stays small.
const (
	maxCommands          = 300
	maxCommandLen        = 100
	DefaultContextWindow = 200_000
	// Images: the RPC body is at most 8 MiB and images travel base64 (4/3 larger).
	MaxImageBytes     = 3 << 20
	MaxImagesPerTurn  = 4
	maxQueuedTextSize = 64 << 10
)

// ComposerState is what the composer shows beside the text box, kept in the loop's
// folder (composer.json) so it is there before the agent starts again.
type ComposerState struct {
	// Commands are the CLI's slash commands and skills from its last init message,
	// without the leading slash.
	Commands []string     `json:"commands"`
	Context  ContextUsage `json:"context"`
}

// ContextUsage is how full the model's context window is, from the usage the CLI reports.
type ContextUsage struct {
	Used   int64  `json:"used"`   // tokens of the last main-thread model call (input, cache, output)
	Window int64  `json:"window"` // the model's context window
	Model  string `json:"model"`
}

// ImageAttachment is one image sent with a message: a content block for the model.
type ImageAttachment struct {
	MediaType string `json:"mediaType"` // image/png, image/jpeg, image/gif or image/webp
	Data      string `json:"data"`      // base64
}

var commandName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9:_.\-]*$`)

// composerMu serialises composer.json and history.json read-modify-writes.
var composerMu sync.Mutex

// unsaved holds composer states (by composer.json path) changed since their last save:
// context usage changes with every assistant message and is saved once per turn (at the
// result), not with an fsync per message.
var unsaved = map[string]ComposerState{}

func (m *Manager) composerPath(id string) (string, error) {
	dir, err := m.store.Dir(id)
	if err != nil {
		return "", err
	}
	return filepath.Join(dir, "composer.json"), nil
}

// Composer returns the loop's slash commands and context usage.
func (m *Manager) Composer(id string) (ComposerState, error) {
	if _, err := m.store.Get(id); err != nil {
		return ComposerState{}, err
	}
	composerMu.Lock()
	defer composerMu.Unlock()
	return m.readComposer(id), nil
}

// readComposer (composerMu held) loads composer.json; a missing or broken file is empty.
func (m *Manager) readComposer(id string) ComposerState {
	st := ComposerState{Commands: []string{}, Context: ContextUsage{Window: DefaultContextWindow}}
	p, err := m.composerPath(id)
	if err != nil {
		return st
	}
	if c, ok := unsaved[p]; ok {
		c.Commands = append([]string{}, c.Commands...)
		return c
	}
	b, err := os.ReadFile(p)
	if err == nil {
		_ = json.Unmarshal(b, &st)
	}
	if st.Commands == nil {
		st.Commands = []string{}
	}
	if st.Context.Window <= 0 {
		st.Context.Window = DefaultContextWindow
	}
	return st
}

// updateComposer changes the composer state and publishes it when fn reports a change;
// with save it writes composer.json (with any earlier unsaved change).
func (m *Manager) updateComposer(id string, save bool, fn func(*ComposerState) bool) {
	p, err := m.composerPath(id)
	if err != nil {
		return
	}
	composerMu.Lock()
	st := m.readComposer(id)
	changed := fn(&st)
	_, dirty := unsaved[p]
	if changed {
		unsaved[p] = st
	}
	if save && (changed || dirty) {
		b, _ := json.Marshal(st)
		if err = safefs.WriteFileAtomic(p, b, 0o600); err == nil {
			delete(unsaved, p)
		}
	}
	composerMu.Unlock()
	if err != nil {
		m.log.Warn("save composer state", "loop", id, "err", err)
	}
	if changed {
		m.publish(events.LoopTopic(id, LoopComposer), st)
	}
}

// observeComposer picks the slash commands from the CLI's init message and the context
// usage from its main-thread assistant messages and results.
func (m *Manager) observeComposer(id string, l agent.Line) {
	switch {
	case l.Type == "system" && l.Subtype == "init":
		cmds := initCommands(l.Raw)
		m.updateComposer(id, true, func(st *ComposerState) bool {
			st.Commands = cmds
			return true
		})
	case l.Type == "assistant":
		u, ok := assistantUsage(l.Raw)
		if !ok {
			return
		}
		m.updateComposer(id, false, func(st *ComposerState) bool {
			if st.Context.Used == u.Used && st.Context.Model == u.Model {
				return false
			}
			if u.Model != st.Context.Model {
				st.Context.Window = windowFor(u.Model)
			}
			st.Context.Used, st.Context.Model = u.Used, u.Model
			return true
		})
	case l.Type == "result":
		w := resultWindow(l.Raw)
		m.updateComposer(id, true, func(st *ComposerState) bool { // the turn's usage is saved here
			if w <= 0 || st.Context.Window == w {
				return false
			}
			st.Context.Window = w
			return true
		})
	}
}

// initCommands reads slash_commands and skills (strings, or objects with a name) from an
// init line; names that are not plain command names are dropped.
func initCommands(raw []byte) []string {
	var w struct {
		SlashCommands []json.RawMessage `json:"slash_commands"`
		Skills        []json.RawMessage `json:"skills"`
	}
	_ = json.Unmarshal(raw, &w)
	out := []string{}
	seen := map[string]bool{}
	for _, c := range append(w.SlashCommands, w.Skills...) {
		var name string
		if json.Unmarshal(c, &name) != nil {
			var o struct {
				Name string `json:"name"`
			}
			_ = json.Unmarshal(c, &o)
			name = o.Name
		}
		name = strings.TrimPrefix(name, "/")
		if len(name) > maxCommandLen || !commandName.MatchString(name) || seen[name] {
			continue
		}
		seen[name] = true
		out = append(out, name)
		if len(out) == maxCommands {
			break
		}
	}
	return out
}

// assistantUsage is the context used by a main-thread assistant message (a subagent's
// messages have a parent_tool_use_id and their own context).
func assistantUsage(raw []byte) (ContextUsage, bool) {
	var w struct {
		Parent  *string `json:"parent_tool_use_id"`
		Message struct {
			Model string `json:"model"`
			Usage *struct {
				Input      int64 `json:"input_tokens"`
				Output     int64 `json:"output_tokens"`
				CacheRead  int64 `json:"cache_read_input_tokens"`
				CacheWrite int64 `json:"cache_creation_input_tokens"`
			} `json:"usage"`
		} `json:"message"`
	}
	if json.Unmarshal(raw, &w) != nil || w.Parent != nil || w.Message.Usage == nil {
		return ContextUsage{}, false
	}
	u := w.Message.Usage
	used := u.Input + u.Output + u.CacheRead + u.CacheWrite
	if used <= 0 || used > 1<<40 {
		return ContextUsage{}, false
	}
	model := w.Message.Model
	if len(model) > maxCommandLen {
		model = model[:maxCommandLen]
	}
	return ContextUsage{Used: used, Model: model}, true
}

// resultWindow is the largest contextWindow a result's modelUsage reports (newer CLIs), or 0.
func resultWindow(raw []byte) int64 {
	var w struct {
		ModelUsage map[string]struct {
			ContextWindow int64 `json:"contextWindow"`
		} `json:"modelUsage"`
	}
	_ = json.Unmarshal(raw, &w)
	var best int64
	for _, u := range w.ModelUsage {
		if u.ContextWindow > best && u.ContextWindow <= 10_000_000 {
			best = u.ContextWindow
		}
	}
	return best
}

// windowFor is a model's context window when the CLI does not say: 1M for the
// "[1m]" variants, else 200K.
func windowFor(model string) int64 {
	if strings.Contains(strings.ToLower(model), "[1m]") {
		return 1_000_000
	}
	return DefaultContextWindow
}

// SendWithImages is Send with images for the model; the text goes into the loop's input
// history.
func (m *Manager) SendWithImages(id, text string, images []ImageAttachment) (SendResult, error) {
	if len(images) > MaxImagesPerTurn {
		return SendResult{}, fmt.Errorf("%w: at most %d images per message", ErrBadInput, MaxImagesPerTurn)
	}
	for i, img := range images {
		if err := checkImage(img); err != nil {
			return SendResult{}, fmt.Errorf("%w: image %d: %v", ErrBadInput, i+1, err)
		}
	}
	res, err := m.send(id, text, images)
	if err == nil {
		m.remember(id, strings.TrimSpace(text))
	}
	return res, err
}

var imageMagic = map[string][]byte{
	"image/png":  []byte("\x89PNG\r\n\x1a\n"),
	"image/jpeg": []byte("\xff\xd8\xff"),
	"image/gif":  []byte("GIF8"),
	"image/webp": []byte("RIFF"),
}

// checkImage accepts the media types the model takes, when the bytes are that type and
// at most MaxImageBytes.
func checkImage(img ImageAttachment) error {
	magic, ok := imageMagic[img.MediaType]
	if !ok {
		return fmt.Errorf("type %q is not png, jpeg, gif or webp", img.MediaType)
	}
	if base64.StdEncoding.DecodedLen(len(img.Data)) > MaxImageBytes+3 {
		return fmt.Errorf("larger than %d MiB", MaxImageBytes>>20)
	}
	b, err := base64.StdEncoding.DecodeString(img.Data)
	if err != nil {
		return fmt.Errorf("not base64: %v", err)
	}
	if len(b) > MaxImageBytes {
		return fmt.Errorf("larger than %d MiB", MaxImageBytes>>20)
	}
	if !bytes.HasPrefix(b, magic) || (img.MediaType == "image/webp" && (len(b) < 12 || string(b[8:12]) != "WEBP")) {
		return fmt.Errorf("the bytes are not a %s", img.MediaType)
	}
	return nil
}

// sendUserMessage writes the turn's user message: plain text, or text and image blocks.
func sendUserMessage(s *agent.Session, text string, images []ImageAttachment) error {
	if len(images) == 0 {
		return s.Send(text)
	}
	blocks := make([]map[string]any, 0, len(images)+1)
	for _, img := range images {
		blocks = append(blocks, map[string]any{
			"type":   "image",
			"source": map[string]any{"type": "base64", "media_type": img.MediaType, "data": img.Data},
		})
	}
	blocks = append(blocks, map[string]any{"type": "text", "text": text})
	return s.SendContent(blocks)
}

// EditQueued replaces the text of a queued message (its images stay).
func (m *Manager) EditQueued(id, queueID, text string) error {
	text = strings.TrimSpace(text)
	if text == "" {
		return ErrEmptyMessage
	}
	if len(text) > maxQueuedTextSize {
		return fmt.Errorf("%w: the message is longer than %d KiB", ErrBadInput, maxQueuedTextSize>>10)
	}
	if _, err := m.store.Get(id); err != nil {
		return err
	}
	r := m.runFor(id)
	r.mu.Lock()
	found := false
	for i := range r.queue {
		if r.queue[i].ID == queueID {
			r.queue[i].Text = text
			found = true
			break
		}
	}
	snapshot := append([]QueuedMessage{}, r.queue...)
	r.mu.Unlock()
	if !found {
		return fmt.Errorf("%w: queued message %q not found (already sent?)", ErrBadInput, queueID)
	}
	m.publish(events.LoopTopic(id, events.LoopQueue), snapshot)
	return nil
}

// ClearQueue drops every queued message and returns them (so the UI can offer them back).
func (m *Manager) ClearQueue(id string) ([]QueuedMessage, error) {
	if _, err := m.store.Get(id); err != nil {
		return nil, err
	}
	r := m.runFor(id)
	r.mu.Lock()
	taken := r.queue
	r.queue = nil
	r.mu.Unlock()
	m.publish(events.LoopTopic(id, events.LoopQueue), []QueuedMessage{})
	if taken == nil {
		taken = []QueuedMessage{}
	}
	return taken, nil
}

// NewSession starts the next message in a fresh CLI session (as /clear does): the agent
// process ends, the session id is forgotten (no --resume), and a divider goes into the
// transcript so the earlier conversation stays on screen. Refused while a turn runs.
func (m *Manager) NewSession(id string) error {
	meta, err := m.store.Get(id)
	if err != nil {
		return err
	}
	if meta.Archived {
		return ErrArchived
	}
	r := m.runFor(id)
	r.mu.Lock()
	if r.busy {
		r.mu.Unlock()
		return fmt.Errorf("%w: the agent is working; interrupt it first, then start a new session", ErrBadInput)
	}
	s := r.sess
	r.sess = nil // the next message starts a new process, whatever the old one does now
	r.mu.Unlock()
	if s != nil {
		ctx, cancel := context.WithTimeout(m.life, 30*time.Second)
		err := s.Kill(ctx)
		cancel()
		if err != nil {
			m.log.Warn("new session: end the old agent", "loop", id, "err", err)
		}
	}
	if _, err := m.store.Update(id, func(x *Meta) { x.SessionID = "" }); err != nil {
		return fmt.Errorf("forget the session: %w", err)
	}
	m.updateComposer(id, true, func(st *ComposerState) bool {
		st.Context.Used = 0
		return true
	})
	m.appendOwn(id, map[string]any{"type": "session_divider"})
	return nil
}
