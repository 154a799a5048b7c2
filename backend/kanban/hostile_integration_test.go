//go:build integration

package kanban_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/loopat/desktop/backend/config"
	"github.com/loopat/desktop/backend/contextrepo"
	"github.com/loopat/desktop/backend/kanban"
	"github.com/loopat/desktop/backend/loops"
	"github.com/loopat/desktop/backend/loops/testimage"
	"github.com/loopat/desktop/backend/services"
	"github.com/loopat/desktop/internal/testkit"
)

type staticConn struct{ ctx context.Context }

func (s staticConn) Conn(context.Context) (context.Context, error) { return s.ctx, nil }

// The agent plants symlinks in its notes clone where the kanban writes (the old
// "<col>.md.tmp" temp name, a column file) and promotes them into the user's notes
// checkout, as `loopat-host promote` does. The user's next board edits must leave both a
// file outside the checkout (~/.bashrc) and a note inside it unchanged, and never show
// their content on the board.
func TestHostileKanbanPromotedTmpSymlinkCannotRedirectEdits(t *testing.T) {
	uri := testkit.StartPodmanService(t)
	conn := testkit.Connect(t, uri)
	if err := testimage.Ensure(); err != nil {
		t.Fatal(err)
	}
	ws, err := config.NewWorkspace(filepath.Join(t.TempDir(), testkit.UniqueName("hk")))
	if err != nil {
		t.Fatal(err)
	}
	if err := ws.Ensure(); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	cs := contextrepo.New(contextrepo.Options{Workspace: ws})
	boards := services.NewKanbanService(cs, nil) // the Focus board, as the UI calls it
	if _, err := boards.Board("default"); err != nil {
		t.Fatal(err)
	}
	const note = "# Plans\nthe user's own note\n"
	if _, err := cs.Write(contextrepo.Notes, "plans.md", note); err != nil {
		t.Fatal(err)
	}
	const rc = "# the user's shell rc\nexport PATH=$HOME/bin:$PATH\n"
	bashrc := filepath.Join(t.TempDir(), ".bashrc")
	if err := os.WriteFile(bashrc, []byte(rc), 0o644); err != nil {
		t.Fatal(err)
	}

	m, err := loops.NewManager(loops.Options{
		Workspace: ws, Conn: staticConn{conn},
		Images: loops.ImageFunc(func(ctx, conn context.Context, _ loops.Meta) (string, string, error) { return testimage.Ref, "", nil }),
		Context: func(ctx context.Context, loopID string) (loops.LoopContext, error) {
			ms, warnings, err := cs.PrepareLoopWarnings(ctx, loopID, false)
			lc := loops.LoopContext{Warnings: warnings}
			for _, m := range ms {
				lc.Mounts = append(lc.Mounts, loops.Mount(m))
			}
			return lc, err
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.Close)
	meta, err := m.Create(loops.CreateRequest{Title: "hostile kanban"})
	if err != nil {
		t.Fatal(err)
	}
	container := m.Sandbox().ContainerName(meta.ID)
	t.Cleanup(func() {
		_ = exec.Command("podman", "rm", "-f", "-t", "0", container).Run()
		_ = exec.Command("podman", "network", "rm", "-f", m.Sandbox().NetworkName()).Run()
	})
	startCtx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()
	if err := m.EnsureContainer(startCtx, meta.ID); err != nil {
		t.Fatalf("start the loop container: %v", err)
	}
	agent := func(script string) {
		t.Helper()
		out, err := exec.Command("podman", "exec", "--user", "2000", "--workdir", contextrepo.ContainerRoot+"/notes/"+kanban.BoardsDir+"/default",
			container, "sh", "-c", script).CombinedOutput()
		if err != nil {
			t.Fatalf("agent: %s: %v\n%s", script, err, out)
		}
	}
	promote := func() contextrepo.RepoPromote {
		t.Helper()
		res, err := cs.Promote(ctx, meta.ID) // what `loopat-host promote` runs on the host
		if err != nil {
			t.Fatalf("promote: %v", err)
		}
		if _, err := cs.Pull(ctx, contextrepo.Notes); err != nil {
			t.Fatalf("pull notes: %v", err)
		}
		for _, r := range res.Repos {
			if r.Repo == contextrepo.Notes {
				return r
			}
		}
		t.Fatalf("promote did not report notes: %+v", res)
		return contextrepo.RepoPromote{}
	}

	// 1. Links that stay inside the repository (promote must accept them): the temp names
	// the kanban used to write through, and a column file, all pointing at the user's note.
	agent("ln -s ../../../plans.md todo.md.tmp && ln -s ../../../plans.md doing.md.tmp && rm -f done.md && ln -s ../../../plans.md done.md")
	if r := promote(); r.Status != contextrepo.Promoted {
		t.Fatalf("promote of in-repository links: %+v", r)
	}
	host := filepath.Join(cs.Dir(contextrepo.Notes), filepath.FromSlash(kanban.BoardsDir), "default")
	if fi, err := os.Lstat(filepath.Join(host, "todo.md.tmp")); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Fatalf("precondition: the planted link is not in the user's checkout (%v %v)", fi, err)
	}

	// 2. A link out of the repository to the user's ~/.bashrc. Promote should refuse it;
	// if it ever lets it through, the kanban must still not write through it.
	agent("rm -f todo.md.tmp && ln -s " + bashrc + " todo.md.tmp")
	r := promote()
	landed := false
	if fi, err := os.Lstat(filepath.Join(host, "todo.md.tmp")); err == nil && fi.Mode()&os.ModeSymlink != 0 {
		if target, _ := os.Readlink(filepath.Join(host, "todo.md.tmp")); target == bashrc {
			landed = true
		}
	}
	t.Logf("promote of a link out: %s %s (reached the checkout: %v)", r.Status, r.Error, landed)

	// The user edits the board.
	card, err := boards.AddCard("default", "todo", "after the attack")
	if err != nil {
		t.Fatal(err)
	}
	if err := boards.MoveCard("default", "todo", card.ID, "doing", 0); err != nil {
		t.Fatal(err)
	}
	if _, err := boards.AddCard("default", "doing", "second edit"); err != nil {
		t.Fatal(err)
	}
	b, err := boards.Board("default")
	if err != nil {
		t.Fatal(err)
	}

	if got, _ := os.ReadFile(bashrc); string(got) != rc {
		t.Fatalf("~/.bashrc overwritten by a kanban edit:\n%s", got)
	}
	if got, _ := os.ReadFile(filepath.Join(cs.Dir(contextrepo.Notes), "plans.md")); string(got) != note {
		t.Fatalf("the user's note overwritten by a kanban edit:\n%s", got)
	}
	for _, c := range b.Columns {
		if c.ID == "done" {
			t.Errorf("a symlinked column was read as a column: %+v", c)
		}
		for _, k := range c.Cards {
			if strings.Contains(k.Text, "the user's own note") || strings.Contains(k.Text, "shell rc") {
				t.Errorf("linked content shown on the board: %+v", k)
			}
		}
	}
	if fi, err := os.Lstat(filepath.Join(host, "doing.md")); err != nil || !fi.Mode().IsRegular() {
		t.Fatalf("doing.md after the edits: %v %v", fi, err)
	}
}
