package services

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/loopat/desktop/backend/config"
	"github.com/loopat/desktop/backend/contextrepo"
	"github.com/loopat/desktop/backend/events"
	"github.com/loopat/desktop/backend/kanban"
	"github.com/loopat/desktop/backend/rpc"
)

// The Context view and the board, driven by name over the rpc registry as the UI does.
func TestContextAndKanbanServicesOverRPC(t *testing.T) {
	ws, err := config.NewWorkspace(filepath.Join(t.TempDir(), ".loopat"))
	if err != nil {
		t.Fatal(err)
	}
	st := contextrepo.New(contextrepo.Options{Workspace: ws})
	bus := events.New()
	sub, cancel := bus.Subscribe(64, func(topic string) bool {
		return topic == "context:changed" || topic == "kanban:changed"
	})
	defer cancel()
	reg := rpc.NewRegistry(NewContextService(context.Background(), st, bus), NewKanbanService(st, bus))
	call := func(svc, method, args string) any {
		t.Helper()
		res, err := reg.Call(svc, method, json.RawMessage(args))
		if err != nil {
			t.Fatalf("%s.%s%s: %v", svc, method, args, err)
		}
		return res
	}

	if _, err := reg.Call("ContextService", "Write", json.RawMessage(`["knowledge","a.md","x"]`)); err == nil {
		t.Error("knowledge write accepted")
	}
	if h := call("ContextService", "Write", `["notes","ideas.md","# Ideas\nteal boat\n"]`).(string); len(h) != 40 {
		t.Errorf("commit %q", h)
	}
	if hits := call("ContextService", "Search", `["notes","TEAL"]`).([]contextrepo.Hit); len(hits) != 1 || hits[0].Path != "ideas.md" {
		t.Errorf("hits %+v", hits)
	}
	if s := call("ContextService", "Status", `["notes"]`).(contextrepo.SyncStatus); s.Ahead != 1 {
		t.Errorf("status %+v", s)
	}
	if s := call("ContextService", "Push", `["notes"]`).(contextrepo.SyncStatus); s.Ahead != 0 {
		t.Errorf("after push %+v", s)
	}

	// A loop edits knowledge: promote proposes, review merges.
	if _, err := st.PrepareLoop(context.Background(), "loop1", true); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(st.LoopDir("loop1", contextrepo.Knowledge), "howto.md")
	if err := os.WriteFile(p, []byte("run make test\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	res := call("ContextService", "Promote", `["loop1"]`).(contextrepo.PromoteResult)
	if len(res.Repos) != 3 || res.Repos[0].Status != contextrepo.Proposed {
		t.Fatalf("promote %+v", res)
	}
	if ps := call("ContextService", "Proposals", `[]`).([]contextrepo.Proposal); len(ps) != 1 || ps[0].ID != "loop1" || ps[0].Files[0] != "howto.md" {
		t.Fatalf("proposals %+v", ps)
	}
	if d := call("ContextService", "ProposalDiff", `["loop1"]`).(string); !strings.Contains(d, "+run make test") {
		t.Errorf("diff %s", d)
	}
	call("ContextService", "MergeProposal", `["loop1"]`)
	if f := call("ContextService", "Read", `["knowledge","howto.md"]`).(contextrepo.File); f.Content != "run make test\n" {
		t.Errorf("merged file %+v", f)
	}

	if b := call("KanbanService", "Boards", `[]`).([]string); len(b) != 1 || b[0] != "default" {
		t.Fatalf("boards %v", b)
	}
	card := call("KanbanService", "AddCard", `["default","todo","Try the app"]`).(kanban.Card)
	call("KanbanService", "MoveCard", `["default","todo","`+card.ID+`","doing",0]`)
	linked := call("KanbanService", "LinkLoop", `["default","doing","`+card.ID+`","loop1"]`).(kanban.Card)
	if linked.Loop != "loop1" {
		t.Errorf("linked %+v", linked)
	}
	board := call("KanbanService", "Board", `["default"]`).(kanban.Board)
	if len(board.Columns) != 3 || len(board.Columns[1].Cards) != 1 || board.Columns[1].Cards[0].Loop != "loop1" {
		t.Errorf("board %+v", board)
	}
	seen := map[string]bool{}
	for len(sub) > 0 {
		ev := <-sub
		seen[ev.Topic] = true
	}
	if !seen["context:changed"] || !seen["kanban:changed"] {
		t.Errorf("events %v", seen)
	}
}
