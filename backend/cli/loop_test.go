package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/loopat/desktop/backend/config"
	"github.com/loopat/desktop/backend/loops"
	"github.com/loopat/desktop/backend/services"
)

type noEngine struct{}

func (noEngine) Conn(context.Context) (context.Context, error) {
	return nil, errors.New("podman socket not found")
}

// `loopat loop` over the real loop service (no engine: new, ls and rm need none).
func TestLoopCLIOverTheLoopService(t *testing.T) {
	ws, _ := config.NewWorkspace(filepath.Join(t.TempDir(), "ws"))
	m, err := loops.NewManager(loops.Options{Workspace: ws, Conn: noEngine{}})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	l := loopCLI{svc: services.NewLoopService(m, nil), wait: m.Wait, workDir: m.Store().WorkDir}
	var out, errOut bytes.Buffer
	env := Env{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errOut}
	do := func(args ...string) int {
		out.Reset()
		errOut.Reset()
		return l.run(context.Background(), args, env)
	}

	if code := do("new", "My", "first", "--vault", "default", "loop"); code != 0 {
		t.Fatalf("new: %d %s", code, errOut.String())
	}
	id := strings.TrimSpace(out.String())
	if meta, err := m.Get(id); err != nil || meta.Title != "My first loop" || meta.Vault != "default" {
		t.Fatalf("created %+v %v", meta, err)
	}
	if code := do("ls"); code != 0 || !strings.Contains(out.String(), id) || !strings.Contains(out.String(), "My first loop") {
		t.Fatalf("ls: %d %q", code, out.String())
	}
	for _, bad := range [][]string{{"new"}, {"new", "--bogus", "x"}, {"ls", "extra"}, {"send", "only-id"}, {"rm"}, {"rm", "a", "b"}} {
		if code := do(bad...); code != 2 || !strings.Contains(errOut.String(), "usage") {
			t.Errorf("%v: exit %d, stderr %q", bad, code, errOut.String())
		}
	}
	// The service's user-facing message and hint, as the UI shows them.
	if code := do("rm", "zzzzzzz"); code != 1 || !strings.Contains(errOut.String(), "zzzzzzz") {
		t.Fatalf("rm unknown: %d %q", code, errOut.String())
	}
	// A turn that fails prints the transcript's error and hint, and exits 1.
	if code := do("send", id[:6], "hello"); code != 1 || !strings.HasPrefix(errOut.String(), "error: ") || !strings.Contains(errOut.String(), "\nhint: ") {
		t.Fatalf("send with no key: %d %q", code, errOut.String())
	}
	// rm resolves the prefix to the loop; without an engine its container cannot be
	// removed, so the loop stays and the error says why.
	if code := do("rm", id[:6]); code != 1 || !strings.Contains(errOut.String(), id) || !strings.Contains(errOut.String(), "podman socket not found") {
		t.Fatalf("rm by prefix: %d %q %q", code, out.String(), errOut.String())
	}
	if _, err := m.Get(id); err != nil {
		t.Fatalf("loop gone after a failed delete: %v", err)
	}
}

func TestReplyOf(t *testing.T) {
	for _, c := range []struct {
		lines        []string
		reply, error string
	}{
		{[]string{`{"type":"result","result":"hi","is_error":false}`}, "hi", ""},
		{[]string{`{"type":"user_input"}`, `{"type":"result","result":"a"}`, `not json`, `{"type":"result","result":"b"}`}, "a\nb", ""},
		{[]string{`{"type":"error","message":"no key","hint":"add one"}`}, "", "error: no key\nhint: add one"},
		{[]string{`{"type":"interrupted"}`}, "", "the turn was interrupted"},
	} {
		var raw []json.RawMessage
		for _, l := range c.lines {
			raw = append(raw, json.RawMessage(l))
		}
		if reply, e := replyOf(raw); reply != c.reply || e != c.error {
			t.Errorf("%v: %q %q", c.lines, reply, e)
		}
	}
}
