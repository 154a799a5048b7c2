package loops

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/loopat/desktop/backend/agent"
)

func feed(t *testing.T, m *Manager, id string, line string) {
	t.Helper()
	l, err := agent.ParseLine([]byte(line), "m")
	if err != nil {
		t.Fatal(err)
	}
	m.observeComposer(id, l)
}

func TestComposerKeepsInitCommandsAndContextUsage(t *testing.T) {
	m, id, _ := managerWithFakeAgent(t, time.Second, 0)
	// Names a hostile CLI could print: only plain command names are kept, once each.
	feed(t, m, id, `{"type":"system","subtype":"init","session_id":"s1","slash_commands":["compact","/review","bad name","<script>","review"],"skills":["pdf",{"name":"xlsx"},42]}`)
	feed(t, m, id, `{"type":"assistant","message":{"model":"claude-sonnet-4-5","usage":{"input_tokens":10,"cache_read_input_tokens":1000,"cache_creation_input_tokens":90,"output_tokens":5}}}`)
	// A subagent's call has its own context: not counted.
	feed(t, m, id, `{"type":"assistant","parent_tool_use_id":"toolu_1","message":{"model":"claude-haiku","usage":{"input_tokens":99999,"output_tokens":1}}}`)
	st, err := m.Composer(id)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"compact", "review", "pdf", "xlsx"}; !slices.Equal(st.Commands, want) {
		t.Fatalf("commands %q, want %q", st.Commands, want)
	}
	if st.Context != (ContextUsage{Used: 1105, Window: DefaultContextWindow, Model: "claude-sonnet-4-5"}) {
		t.Fatalf("context %+v", st.Context)
	}
	feed(t, m, id, `{"type":"result","subtype":"success","modelUsage":{"claude-sonnet-4-5":{"contextWindow":1000000}}}`)
	if st, _ = m.Composer(id); st.Context.Window != 1_000_000 {
		t.Fatalf("window from the result: %+v", st.Context)
	}
	// Kept in the loop's folder (the usage once per turn, at the result).
	dir, _ := m.store.Dir(id)
	if b, err := os.ReadFile(filepath.Join(dir, "composer.json")); err != nil || !strings.Contains(string(b), `"xlsx"`) || !strings.Contains(string(b), `"used":1105`) {
		t.Fatalf("composer.json: %s %v", b, err)
	}
}

func TestSendKeepsBoundedInputHistory(t *testing.T) {
	m, id, _ := managerWithFakeAgent(t, time.Second, 0)
	if _, err := m.Send(id, "  first  "); err != nil {
		t.Fatal(err)
	}
	waitIdle(t, m, id, 10*time.Second)
	m.remember(id, "first") // a repeat of the last entry is not added
	m.remember(id, strings.Repeat("x", maxHistoryEntryLen+1))
	h, err := m.History(id)
	if err != nil || !slices.Equal(h, []string{"first"}) {
		t.Fatalf("history %q %v", h, err)
	}
	for i := range MaxHistoryEntries + 10 {
		m.remember(id, "msg "+string(rune('a'+i%26))+strings.Repeat("!", i))
	}
	h, _ = m.History(id)
	if len(h) != MaxHistoryEntries || h[len(h)-1] != "msg "+string(rune('a'+(MaxHistoryEntries+9)%26))+strings.Repeat("!", MaxHistoryEntries+9) {
		t.Fatalf("history not bounded to the newest %d: %d entries, last %q", MaxHistoryEntries, len(h), h[len(h)-1])
	}
}

func TestQueuedMessagesEditAndClear(t *testing.T) {
	m, id, f := managerWithFakeAgent(t, time.Second, 0)
	if _, err := m.Send(id, "hang on"); err != nil {
		t.Fatal(err)
	}
	f.waitStarted(t, "hang on")
	a, _ := m.Send(id, "second")
	b, _ := m.Send(id, "third")
	if !a.Queued || !b.Queued {
		t.Fatalf("not queued: %+v %+v", a, b)
	}
	if err := m.EditQueued(id, a.QueueID, "second, edited"); err != nil {
		t.Fatal(err)
	}
	if err := m.EditQueued(id, a.QueueID, "  "); !errors.Is(err, ErrEmptyMessage) {
		t.Fatalf("empty edit: %v", err)
	}
	if err := m.EditQueued(id, "nope", "x"); !errors.Is(err, ErrBadInput) {
		t.Fatalf("unknown id: %v", err)
	}
	q, _ := m.Queue(id)
	if len(q) != 2 || q[0].Text != "second, edited" || q[1].Text != "third" {
		t.Fatalf("queue after edit: %+v", q)
	}
	taken, err := m.ClearQueue(id)
	if err != nil || len(taken) != 2 {
		t.Fatalf("clear: %+v %v", taken, err)
	}
	if q, _ = m.Queue(id); len(q) != 0 {
		t.Fatalf("queue after clear: %+v", q)
	}
	if _, err := m.Interrupt(id, false); err != nil {
		t.Fatal(err)
	}
	waitIdle(t, m, id, 10*time.Second)
	if _, finished := f.state(); len(finished) != 0 {
		t.Fatalf("cleared messages were sent: %q", finished)
	}
}

func TestNewSessionEndsAgentForgetsSessionAndMarksTranscript(t *testing.T) {
	m, id, f := managerWithFakeAgent(t, time.Second, 0)
	if _, err := m.Send(id, "hello"); err != nil {
		t.Fatal(err)
	}
	waitIdle(t, m, id, 10*time.Second)
	if _, err := m.store.Update(id, func(x *Meta) { x.SessionID = "old-session" }); err != nil {
		t.Fatal(err)
	}
	if err := m.NewSession(id); err != nil {
		t.Fatal(err)
	}
	if killed, _ := f.state(); !killed {
		t.Fatal("the old agent process still runs")
	}
	meta, _ := m.Get(id)
	if meta.SessionID != "" || m.AgentProcessID(id) != "" {
		t.Fatalf("session kept: %q, process %q", meta.SessionID, m.AgentProcessID(id))
	}
	types := transcriptTypes(t, m, id)
	if !slices.Contains(types, "user_input") || types[len(types)-1] != "session_divider" {
		t.Fatalf("transcript: %q", types)
	}
}

func TestNewSessionRefusedWhileWorking(t *testing.T) {
	m, id, f := managerWithFakeAgent(t, time.Second, 0)
	if _, err := m.Send(id, "hang"); err != nil {
		t.Fatal(err)
	}
	f.waitStarted(t, "hang")
	if err := m.NewSession(id); !errors.Is(err, ErrBadInput) {
		t.Fatalf("new session during a turn: %v", err)
	}
	if killed, _ := f.state(); killed {
		t.Fatal("a refused new session killed the agent")
	}
	_, _ = m.Interrupt(id, false)
	waitIdle(t, m, id, 10*time.Second)
}

func TestCheckImage(t *testing.T) {
	png := base64.StdEncoding.EncodeToString([]byte("\x89PNG\r\n\x1a\n0000"))
	for _, c := range []struct {
		img ImageAttachment
		ok  bool
	}{
		{ImageAttachment{"image/png", png}, true},
		{ImageAttachment{"image/jpeg", png}, false},                                                             // bytes are not the type
		{ImageAttachment{"image/svg+xml", png}, false},                                                          // not a model image type
		{ImageAttachment{"image/png", "%%%"}, false},                                                            // not base64
		{ImageAttachment{"image/png", base64.StdEncoding.EncodeToString(make([]byte, MaxImageBytes+1))}, false}, // too large
		{ImageAttachment{"image/webp", base64.StdEncoding.EncodeToString([]byte("RIFF0000WEBPVP8 "))}, true},
		{ImageAttachment{"image/webp", base64.StdEncoding.EncodeToString([]byte("RIFF0000WAVEfmt "))}, false},
	} {
		if err := checkImage(c.img); (err == nil) != c.ok {
			t.Errorf("%s %.20q: err %v, want ok=%v", c.img.MediaType, c.img.Data, err, c.ok)
		}
	}
	m, id, _ := managerWithFakeAgent(t, time.Second, 0)
	many := make([]ImageAttachment, MaxImagesPerTurn+1)
	for i := range many {
		many[i] = ImageAttachment{"image/png", png}
	}
	if _, err := m.SendWithImages(id, "look", many); !errors.Is(err, ErrBadInput) {
		t.Fatalf("too many images: %v", err)
	}
}

func TestSafeUploadName(t *testing.T) {
	for in, want := range map[string]string{
		"report.pdf":                      "report.pdf",
		"../../etc/passwd":                "passwd",
		`C:\Users\me\a b.txt`:             "a_b.txt",
		".bashrc":                         "bashrc",
		"..":                              "upload",
		"":                                "upload",
		"naïve.md":                        "na_ve.md",
		strings.Repeat("a", 300) + ".txt": strings.Repeat("a", maxUploadName-4) + ".txt",
	} {
		if got := SafeUploadName(in); got != want {
			t.Errorf("SafeUploadName(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestUploadWritesUnderUploadsAndRefusesLinks(t *testing.T) {
	m, id, _ := managerWithFakeAgent(t, time.Second, 0)
	work := m.store.WorkDir(id)
	p, err := m.Upload(id, "../notes.txt", []byte("one"))
	if err != nil || p != "uploads/notes.txt" {
		t.Fatalf("upload: %q %v", p, err)
	}
	if p, err = m.Upload(id, "notes.txt", []byte("two")); err != nil || p != "uploads/notes-1.txt" {
		t.Fatalf("second upload: %q %v", p, err)
	}
	if b, _ := os.ReadFile(filepath.Join(work, "uploads", "notes.txt")); string(b) != "one" {
		t.Fatalf("first upload overwritten: %q", b)
	}
	if _, err := m.Upload(id, "big.bin", make([]byte, MaxUploadBytes+1)); !errors.Is(err, ErrBadInput) {
		t.Fatalf("too large: %v", err)
	}
	// A link where uploads/ goes (the workdir is the agent's): refused, nothing outside.
	outside := t.TempDir()
	if err := os.RemoveAll(filepath.Join(work, "uploads")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, filepath.Join(work, "uploads")); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Upload(id, "x.txt", []byte("x")); !errors.Is(err, ErrBadInput) {
		t.Fatalf("upload through a link: %v", err)
	}
	if ents, _ := os.ReadDir(outside); len(ents) != 0 {
		t.Fatalf("written outside the workdir: %v", ents)
	}
}

func TestFindFilesStaysInWorkdir(t *testing.T) {
	m, id, _ := managerWithFakeAgent(t, time.Second, 0)
	work := m.store.WorkDir(id)
	outside := t.TempDir()
	_ = os.WriteFile(filepath.Join(outside, "secret-key.txt"), []byte("s"), 0o600)
	_ = os.MkdirAll(filepath.Join(work, "src", "deep"), 0o755)
	_ = os.WriteFile(filepath.Join(work, "src", "deep", "Main.go"), []byte("package main"), 0o644)
	_ = os.MkdirAll(filepath.Join(work, ".git", "objects"), 0o755)
	_ = os.WriteFile(filepath.Join(work, ".git", "objects", "main-object"), nil, 0o644)
	_ = os.Symlink(outside, filepath.Join(work, "escape"))
	got, err := m.FindFiles(id, "MAIN")
	if err != nil || !slices.Equal(got, []string{"src/deep/Main.go"}) {
		t.Fatalf("find main: %q %v", got, err)
	}
	all, _ := m.FindFiles(id, "")
	b, _ := json.Marshal(all)
	if strings.Contains(string(b), "secret-key") || strings.Contains(string(b), ".git/") || !slices.Contains(all, "escape") {
		t.Fatalf("listing followed a link or showed .git: %s", b)
	}
}
