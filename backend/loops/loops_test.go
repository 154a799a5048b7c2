package loops

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/zalando/go-keyring"

	"github.com/loopat/desktop/backend/agent"
	"github.com/loopat/desktop/backend/config"
	"github.com/loopat/desktop/backend/events"
	"github.com/loopat/desktop/backend/vault"
)

func TestTranscriptIgnoresTornLastLine(t *testing.T) {
	path := filepath.Join(t.TempDir(), "messages.jsonl")
	tr := NewTranscript(path)
	if err := tr.AppendJSON(map[string]any{"type": "user_input", "text": "a"}); err != nil {
		t.Fatal(err)
	}
	if err := tr.Append([]byte(`{"type":"assistant","n":2}`)); err != nil {
		t.Fatal(err)
	}
	// A crash mid-write leaves a partial line without newline.
	f, _ := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString(`{"type":"result","te`)
	f.Close()
	got, err := tr.Read()
	if err != nil || len(got) != 2 || !strings.Contains(string(got[1]), `"n":2`) {
		t.Fatalf("read after torn write = %s %v", got, err)
	}
	// The next append starts on a fresh line; the torn fragment stays unreadable garbage.
	if err := tr.Append([]byte(`{"type":"after"}`)); err != nil {
		t.Fatal(err)
	}
	got, _ = tr.Read()
	if len(got) != 3 || string(got[2]) != `{"type":"after"}` {
		t.Fatalf("append after crash = %s", got)
	}
	if err := tr.Append([]byte("two\nlines")); err == nil {
		t.Fatal("multi-line append accepted")
	}
	if empty, err := NewTranscript(filepath.Join(t.TempDir(), "none")).Read(); err != nil || len(empty) != 0 {
		t.Fatalf("missing transcript = %v %v", empty, err)
	}
}

func TestMetaRoundTripAndJSONNames(t *testing.T) {
	dir := t.TempDir()
	m := Meta{ID: "abc123", Title: "t", Created: time.Now().UTC().Truncate(time.Second), Status: StatusIdle,
		Usage: LoopUsage{ByModel: map[string]ModelUsage{"m": {Input: 3, Output: 4}}}}
	if err := writeMeta(dir, m); err != nil {
		t.Fatal(err)
	}
	got, err := readMeta(dir)
	if err != nil || got.Usage.ByModel["m"].Output != 4 || !got.Created.Equal(m.Created) {
		t.Fatalf("round trip = %+v %v", got, err)
	}
	raw, _ := os.ReadFile(filepath.Join(dir, "meta.json"))
	var keys map[string]any
	_ = json.Unmarshal(raw, &keys)
	for _, k := range []string{"id", "title", "created", "status", "archived", "repo", "branch", "vault", "provider", "model", "permissionMode", "sessionId", "warning", "usage"} {
		if _, ok := keys[k]; !ok {
			t.Errorf("meta.json lacks %q", k)
		}
	}
	if _, ok := keys["usage"].(map[string]any)["byModel"].(map[string]any)["m"].(map[string]any)["cacheWrite"]; !ok {
		t.Errorf("usage JSON shape: %s", raw)
	}
	var u LoopUsage
	u.Add(map[string]agent.Usage{"m": {InputTokens: 1, OutputTokens: 2, CacheReadInputTokens: 3, CacheCreationInputTokens: 4}})
	u.Add(map[string]agent.Usage{"m": {InputTokens: 1}})
	if u.ByModel["m"] != (ModelUsage{Input: 2, Output: 2, CacheRead: 3, CacheWrite: 4}) {
		t.Errorf("usage add = %+v", u.ByModel["m"])
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 1 {
		t.Fatalf("temp files left behind: %v", ents)
	}
}

func TestConfigHash(t *testing.T) {
	a := ContainerSpec{Image: "img:1", ImageID: "sha1", Mounts: []Mount{{"/a", "/x", false}, {"/b", "/y", true}}}
	b := ContainerSpec{Image: "img:1", ImageID: "sha1", Mounts: []Mount{{"/b", "/y", true}, {"/a", "/x", false}}}
	if a.Hash() != b.Hash() {
		t.Fatal("hash depends on mount order")
	}
	for _, c := range []ContainerSpec{
		{Image: "img:2", ImageID: "sha1", Mounts: a.Mounts},
		{Image: "img:1", ImageID: "sha2", Mounts: a.Mounts},
		{Image: "img:1", ImageID: "sha1", Mounts: []Mount{{"/a", "/x", false}, {"/b", "/y", false}}},
		{Image: "img:1", ImageID: "sha1", Mounts: a.Mounts[:1]},
	} {
		if c.Hash() == a.Hash() {
			t.Fatalf("hash ignores a change: %+v", c)
		}
	}
}

func TestSlugAndBranch(t *testing.T) {
	if got := Slug("Fix the  Login bug!! (#42)"); got != "fix-the-login-bug-42" {
		t.Fatalf("slug = %q", got)
	}
	if got := BranchName("Fix it", "0a1b2c3d-xxxx"); got != "loop/fix-it-0a1b2c" {
		t.Fatalf("branch = %q", got)
	}
	if got := BranchName("???", "0a1b2c3d"); got != "loop/0a1b2c" {
		t.Fatalf("branch of empty slug = %q", got)
	}
	if len(Slug(strings.Repeat("abc ", 40))) > 32 {
		t.Fatal("slug not capped")
	}
}

func TestStoreCreateOnRepoBranch(t *testing.T) {
	repo := t.TempDir()
	r, err := git.PlainInit(repo, false)
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(repo, "README.md"), []byte("hi\n"), 0o644)
	wt, _ := r.Worktree()
	wt.Add("README.md")
	sig := &object.Signature{Name: "t", Email: "t@t", When: time.Now()}
	if _, err := wt.Commit("init", &git.CommitOptions{Author: sig}); err != nil {
		t.Fatal(err)
	}
	st, err := NewStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	m, err := st.Create(NewLoop{Title: "Add feature X", Repo: repo})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(m.Branch, "loop/add-feature-x-") || m.Repo != repo || m.Vault != "default" {
		t.Fatalf("meta = %+v", m)
	}
	clone, err := git.PlainOpen(st.WorkDir(m.ID))
	if err != nil {
		t.Fatal(err)
	}
	head, _ := clone.Head()
	if head.Name().Short() != m.Branch {
		t.Fatalf("clone HEAD = %s, want %s", head.Name(), m.Branch)
	}
	if _, err := os.Stat(filepath.Join(st.WorkDir(m.ID), "README.md")); err != nil {
		t.Fatal("clone lacks files")
	}
	if _, err := os.Stat(st.HomeDir(m.ID)); err != nil {
		t.Fatal("no sandbox home")
	}
	if _, err := st.Create(NewLoop{Title: "x", Repo: t.TempDir()}); err == nil {
		t.Fatal("non-repository accepted")
	}
	if _, err := st.Create(NewLoop{Title: "  "}); err == nil {
		t.Fatal("empty title accepted")
	}
	if _, err := st.Get("../../etc"); err == nil {
		t.Fatal("path-like id accepted")
	}
	list, _ := st.List()
	if len(list) != 1 {
		t.Fatalf("failed creates left loops behind: %+v", list)
	}
}

type downConn struct{}

func (downConn) Conn(context.Context) (context.Context, error) {
	return nil, errors.New("podman socket not found")
}

// A turn that cannot start ends in an error line with a hint and status error, never a hang.
func TestSendFailuresBecomeTranscriptErrors(t *testing.T) {
	ws, _ := config.NewWorkspace(filepath.Join(t.TempDir(), "ws"))
	keyring.MockInit()
	v := vault.New(ws, vault.OSKeyring())
	bus := events.New()
	m, err := NewManager(Options{Workspace: ws, Conn: downConn{}, Secrets: v, Events: bus})
	if err != nil {
		t.Fatal(err)
	}
	statuses, cancel := bus.Subscribe(64, func(s string) bool { return strings.HasSuffix(s, ":status") })
	defer cancel()
	meta, err := m.Create(CreateRequest{Title: "fails"})
	if err != nil {
		t.Fatal(err)
	}
	check := func(want string) {
		t.Helper()
		if _, err := m.Send(meta.ID, "hello"); err != nil {
			t.Fatal(err)
		}
		ctx, c := context.WithTimeout(context.Background(), 10*time.Second)
		defer c()
		if err := m.Wait(ctx, meta.ID); err != nil {
			t.Fatal(err)
		}
		lines, _ := m.Messages(meta.ID)
		var last struct{ Type, Message, Hint string }
		json.Unmarshal(lines[len(lines)-1], &last)
		if last.Type != "error" || !strings.Contains(last.Message, want) || last.Hint == "" {
			t.Fatalf("last line = %+v, want error containing %q with hint", last, want)
		}
		if got, _ := m.Get(meta.ID); got.Status != StatusError {
			t.Fatalf("status = %s", got.Status)
		}
	}
	check("No API key")
	if err := v.SetEnv("default", "ANTHROPIC_API_KEY", "k"); err != nil {
		t.Fatal(err)
	}
	check("container engine is not available")
	seen := map[string]bool{}
	for len(statuses) > 0 {
		ev := <-statuses
		seen[ev.Data.(map[string]string)["status"]] = true
	}
	if !seen[StatusStarting] || !seen[StatusError] {
		t.Fatalf("status events = %v", seen)
	}
	if _, err := m.Send(meta.ID, "   "); err == nil {
		t.Fatal("empty message accepted")
	}
	if err := m.SetPermissionMode(meta.ID, "yolo"); err == nil {
		t.Fatal("bad permission mode accepted")
	}
	// Archive stops the container; with the engine down that is logged, not fatal.
	if err := m.Archive(meta.ID, true); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Send(meta.ID, "x"); err == nil {
		t.Fatal("send to archived loop accepted")
	}
}
