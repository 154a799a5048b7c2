package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/loopat/desktop/backend/config"
	"github.com/loopat/desktop/backend/control"
	"github.com/loopat/desktop/backend/loops"
	"github.com/loopat/desktop/backend/rpc"
)

// LoopService stands in for the running app's services.LoopService behind its socket.
type LoopService struct {
	answered []loops.PendingAnswer
	sent     []string
	waits    int
	created  []string
	deleted  []string
}

func (s *LoopService) Create(req loops.CreateRequest) (loops.Meta, error) {
	s.created = append(s.created, req.Title)
	return loops.Meta{ID: "new456", Title: req.Title}, nil
}
func (s *LoopService) Delete(id string) error {
	s.deleted = append(s.deleted, id)
	return nil
}
func (s *LoopService) Send(id, text string) (loops.SendResult, error) {
	s.sent = append(s.sent, id+": "+text)
	return loops.SendResult{}, nil
}

// WaitIdle answers "still working" once, as a turn longer than one wait slice would.
func (s *LoopService) WaitIdle(id string, seconds int) (bool, error) {
	s.waits++
	return s.waits >= 2, nil
}
func (s *LoopService) Messages(id string) ([]json.RawMessage, error) {
	lines := []json.RawMessage{json.RawMessage(`{"type":"result","result":"an earlier reply"}`)}
	if len(s.sent) > 0 {
		lines = append(lines, json.RawMessage(`{"type":"result","result":"the app's reply"}`))
	}
	return lines, nil
}

func (s *LoopService) List() ([]loops.Meta, error) {
	return []loops.Meta{{ID: "abc123", Title: "remote loop", Status: "running", Created: time.Unix(0, 0)}}, nil
}
func (s *LoopService) Pending(id string) ([]loops.Pending, error) {
	if id != "abc123" {
		return nil, rpc.NotFound("no loop "+id, "", nil)
	}
	return []loops.Pending{{ID: "p-0001", Kind: loops.PendingPermission, Tool: "Bash", Input: json.RawMessage(`{"command":"ls"}`)},
		{ID: "p-0002", Kind: loops.PendingPermission, Tool: "Write"}}, nil
}
func (s *LoopService) Answer(id, pendingID string, a loops.PendingAnswer) error {
	if pendingID == "p-0002" {
		return rpc.Conflict("that prompt was already answered", "List them again with `loopat loop pending`.", nil)
	}
	s.answered = append(s.answered, a)
	return nil
}

// workspaceWithApp is a short LOOPAT_HOME whose control socket serves svc.
func workspaceWithApp(t *testing.T, svc any) {
	t.Helper()
	home, err := os.MkdirTemp("", "lp")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(home) })
	t.Setenv("LOOPAT_HOME", home)
	ws, err := config.ResolveWorkspace()
	if err != nil {
		t.Fatal(err)
	}
	if err := ws.Ensure(); err != nil {
		t.Fatal(err)
	}
	if svc == nil {
		return
	}
	s, err := control.Listen(control.SocketPath(ws), rpc.NewRegistry(svc), slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
}

func runLoopCmd(args ...string) (code int, stdout, stderr string) {
	var out, errb bytes.Buffer
	code = runLoop(context.Background(), args, Env{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errb})
	return code, out.String(), errb.String()
}

func TestLoopPendingAndAnswerReachTheRunningApp(t *testing.T) {
	svc := &LoopService{}
	workspaceWithApp(t, svc)

	code, out, errOut := runLoopCmd("pending", "abc")
	if code != 0 || !strings.Contains(out, "p-0001\tneeds input [permission] Bash {\"command\":\"ls\"}") || !strings.Contains(out, "p-0002") {
		t.Fatalf("pending: code %d out %q err %q", code, out, errOut)
	}
	code, out, errOut = runLoopCmd("ls")
	if code != 0 || !strings.Contains(out, "abc123") || !strings.Contains(out, "remote loop") {
		t.Fatalf("ls: code %d out %q err %q", code, out, errOut)
	}
	code, _, errOut = runLoopCmd("answer", "abc", "p-0001", "deny", "use", "make")
	if code != 0 || len(svc.answered) != 1 || svc.answered[0].Allow || svc.answered[0].Message != "use make" {
		t.Fatalf("answer: code %d err %q answered %+v", code, errOut, svc.answered)
	}
	// The app's error comes back with its hint.
	code, _, errOut = runLoopCmd("answer", "abc", "p-0002", "allow")
	if code != exitFailed || !strings.Contains(errOut, "already answered") || !strings.Contains(errOut, "hint: List them again") {
		t.Fatalf("answer of an answered prompt: code %d err %q", code, errOut)
	}
	code, _, errOut = runLoopCmd("answer", "abc", "zzzz", "allow")
	if code != exitFailed || !strings.Contains(errOut, "in the running app") {
		t.Fatalf("answer of an unknown prompt: code %d err %q", code, errOut)
	}
}

// new, send and rm go to the running app too: a second process must not run agents for
// the app's loops. send waits through more than one WaitIdle slice and prints only the
// reply of its own turn.
func TestLoopNewSendAndRmRunInTheApp(t *testing.T) {
	svc := &LoopService{}
	workspaceWithApp(t, svc)
	code, out, errOut := runLoopCmd("new", "from", "the", "cli")
	if code != 0 || strings.TrimSpace(out) != "new456" || len(svc.created) != 1 || svc.created[0] != "from the cli" {
		t.Fatalf("new: code %d out %q err %q created %v", code, out, errOut, svc.created)
	}
	code, out, errOut = runLoopCmd("send", "abc", "hello", "app")
	if code != 0 || strings.TrimSpace(out) != "the app's reply" {
		t.Fatalf("send: code %d out %q err %q", code, out, errOut)
	}
	if len(svc.sent) != 1 || svc.sent[0] != "abc123: hello app" || svc.waits < 2 {
		t.Fatalf("the app got sent %v, waited %d times", svc.sent, svc.waits)
	}
	code, out, errOut = runLoopCmd("rm", "abc")
	if code != 0 || len(svc.deleted) != 1 || svc.deleted[0] != "abc123" {
		t.Fatalf("rm: code %d out %q err %q deleted %v", code, out, errOut, svc.deleted)
	}
}

func TestDialAppFallsBackWithoutAnApp(t *testing.T) {
	workspaceWithApp(t, nil)
	var errb bytes.Buffer
	if c, _ := dialApp(Env{Stderr: &errb}); c != nil || errb.Len() != 0 {
		t.Fatalf("no app: client %v, stderr %q (want nil and silence: fall back)", c, errb.String())
	}
}

func TestDialAppRefusesAnOpenSocket(t *testing.T) {
	svc := &LoopService{}
	workspaceWithApp(t, svc)
	ws, _ := config.ResolveWorkspace()
	if err := os.Chmod(control.SocketPath(ws), 0o666); err != nil {
		t.Fatal(err)
	}
	var errb bytes.Buffer
	if c, _ := dialApp(Env{Stderr: &errb}); c != nil || !strings.Contains(errb.String(), "not using the app's control socket") {
		t.Fatalf("0666 socket: client %v, stderr %q (want a refusal said on stderr)", c, errb.String())
	}
}
