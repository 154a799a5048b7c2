package kanban

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing/object"

	"github.com/loopat/desktop/backend/config"
	"github.com/loopat/desktop/backend/contextrepo"
)

const canonical = `# To do

- [ ] Write the docs #docs #v2
  > priority: high
  > loop: abc123
  - [ ] outline
  - [x] first draft
  Explain the pull edge.

  Then the promote edge.
- [x] Ship it
- [ ] Plain card
`

func TestCanonicalRoundTripIsByteExact(t *testing.T) {
	c := Parse("todo", canonical)
	if got := c.String(); got != canonical {
		t.Fatalf("round trip changed the text:\n--- want\n%s--- got\n%s", canonical, got)
	}
	if c.Title != "To do" || len(c.Cards) != 3 {
		t.Fatalf("parsed %+v", c)
	}
	k := c.Cards[0]
	if k.Text != "Write the docs #docs #v2" || k.Done || k.Loop != "abc123" ||
		!reflect.DeepEqual(k.Topics, []string{"docs", "v2"}) ||
		!reflect.DeepEqual(k.Subtasks, []Subtask{{"outline", false}, {"first draft", true}}) ||
		k.Description != "Explain the pull edge.\n\nThen the promote edge." ||
		!reflect.DeepEqual(k.Meta, []Field{{"priority", "high"}, {"loop", "abc123"}}) {
		t.Errorf("card 0: %+v", k)
	}
	if !c.Cards[1].Done || c.Cards[1].ID != CardID("Ship it") {
		t.Errorf("card 1: %+v", c.Cards[1])
	}
}

// Files in other shapes keep their meaning through parse -> serialise -> parse.
func TestVariedFilesKeepMeaning(t *testing.T) {
	files := map[string]string{
		"frontmatter and preamble": "---\nkanban-plugin: basic\n---\n\n# Doing\n\nSome intro text.\n\n* [X] star bullet done\n\t> assignee: ana\n\t> loop: fix the bug [L-42]\n\t- [X] tabbed sub\n- [ ] next\n\n## Archive\nold stuff\n",
		"no title":                 "- [ ] first\n- [ ] first\n",
		"crlf and blank lines":     "# Done\r\n\r\n\r\n- [ ] a\r\n  desc a\r\n\r\n- [ ] b\r\n",
		"description before meta":  "# T\n- [ ] c\n  text first\n  > key: not meta\n",
		"empty":                    "",
		"unicode":                  "# Ideen\n- [ ] Größe prüfen #ux 🚀\n",
	}
	for name, text := range files {
		t.Run(name, func(t *testing.T) {
			a := Parse("col", text)
			out := a.String()
			b := Parse("col", out)
			if !reflect.DeepEqual(a, b) {
				t.Fatalf("meaning changed:\n%+v\n%+v\nserialised:\n%s", a, b, out)
			}
			if out2 := b.String(); out2 != out {
				t.Fatalf("not stable:\n%s\n---\n%s", out, out2)
			}
		})
	}
	a := Parse("doing", files["frontmatter and preamble"])
	if a.Title != "Doing" || len(a.Cards) != 2 || a.Cards[0].Loop != "L-42" || !a.Cards[0].Done || !a.Cards[0].Subtasks[0].Done {
		t.Errorf("parsed %+v", a)
	}
	if s := a.String(); !strings.HasPrefix(s, "---\nkanban-plugin: basic\n---\n# Doing\n\nSome intro text.\n") || !strings.HasSuffix(s, "\n## Archive\nold stuff\n") {
		t.Errorf("front matter / preamble / trailer lost:\n%s", s)
	}
	dup := Parse("x", files["no title"])
	if dup.Title != "x" || dup.Cards[0].ID == dup.Cards[1].ID {
		t.Errorf("duplicate texts: %+v", dup)
	}
	if d := Parse("x", files["description before meta"]).Cards[0]; len(d.Meta) != 0 || d.Description != "text first\n> key: not meta" {
		t.Errorf("description before meta: %+v", d)
	}
}

func TestCardIDMatchesJavaScriptHash(t *testing.T) {
	// loopat's hashCid (server/src/kanban.ts); the wants were computed with it in node:
	//   let h = 0; for (let i = 0; i < s.length; i++) h = (h * 31 + s.charCodeAt(i)) & 0xffffffff; h.toString(36)
	// It walks UTF-16 code units (an emoji is two) and keeps the sign of the int32.
	for text, want := range map[string]string{
		"a": "2p", "hello": "1n1e4y", "": "0",
		"Ship 🚀":                              "-9dm5eh",
		"Ship it":                             "-9eo2vl",
		"a much longer card text to overflow": "qntiqp",
	} {
		if got := CardID(text); got != want {
			t.Errorf("CardID(%q) = %s, want %s", text, got, want)
		}
	}
}

func TestConfig(t *testing.T) {
	cfg := ParseConfig("# board\ncolumns:\n  - file: todo.md\n    color: \"#ff0000\"\n  - file: 'done.md'\nother: x\n")
	want := []ColumnConfig{{"todo.md", "#ff0000"}, {"done.md", ""}}
	if !reflect.DeepEqual(cfg, want) {
		t.Fatalf("config %+v", cfg)
	}
	if got := ParseConfig(FormatConfig(want)); !reflect.DeepEqual(got, want) {
		t.Errorf("config round trip %+v", got)
	}
}

func newBoards(t *testing.T) (*Store, *contextrepo.Store) {
	t.Helper()
	ws, err := config.NewWorkspace(filepath.Join(t.TempDir(), ".loopat"))
	if err != nil {
		t.Fatal(err)
	}
	cs := contextrepo.New(contextrepo.Options{Workspace: ws})
	edit := func(msg string, fn func(string) error) (string, error) { return cs.Edit(contextrepo.Notes, msg, fn) }
	if _, err := edit("init", func(string) error { return nil }); err != nil {
		t.Fatal(err)
	}
	return New(cs.Dir(contextrepo.Notes), edit), cs
}

func commits(t *testing.T, dir string) int {
	t.Helper()
	g, err := git.PlainOpen(dir)
	if err != nil {
		t.Fatal(err)
	}
	it, err := g.Log(&git.LogOptions{})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	_ = it.ForEach(func(*object.Commit) error { n++; return nil })
	return n
}

func TestOperationsAreCommitsAndKeepMeaning(t *testing.T) {
	ks, cs := newBoards(t)
	dir := cs.Dir(contextrepo.Notes)
	boards, err := ks.Boards()
	if err != nil || !reflect.DeepEqual(boards, []string{"default"}) {
		t.Fatalf("boards %v %v", boards, err)
	}
	if _, err := ks.CreateBoard("alpha"); err != nil {
		t.Fatal(err)
	}
	if _, err := ks.CreateBoard("../x"); err == nil {
		t.Error("bad board name accepted")
	}
	boards, _ = ks.Boards()
	if !reflect.DeepEqual(boards, []string{"default", "alpha"}) {
		t.Fatalf("boards %v", boards)
	}
	n0 := commits(t, dir)
	a, err := ks.AddCard("default", "todo", "Write docs #docs")
	if err != nil {
		t.Fatal(err)
	}
	b, err := ks.AddCard("default", "todo", "Fix bug")
	if err != nil {
		t.Fatal(err)
	}
	if err := ks.MoveCard("default", "todo", b.ID, "doing", 0); err != nil {
		t.Fatal(err)
	}
	a.Meta = []Field{{"priority", "high"}}
	a.Subtasks = []Subtask{{"outline", true}}
	a.Description = "Two\nlines"
	if a, err = ks.UpdateCard("default", "todo", a.ID, a); err != nil {
		t.Fatal(err)
	}
	if a, err = ks.LinkLoop("default", "todo", a.ID, "loop-123"); err != nil || a.Loop != "loop-123" {
		t.Fatalf("link: %+v %v", a, err)
	}
	col, err := ks.AddColumn("default", "Review later")
	if err != nil || col.ID != "review-later" {
		t.Fatalf("add column %+v %v", col, err)
	}
	if err := ks.MoveCard("default", "doing", b.ID, "review-later", -1); err != nil {
		t.Fatal(err)
	}
	if got := commits(t, dir) - n0; got != 7 {
		t.Errorf("%d commits for 7 operations", got)
	}
	board, err := ks.Board("default")
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, c := range board.Columns {
		ids = append(ids, c.ID)
	}
	if !reflect.DeepEqual(ids, []string{"todo", "doing", "done", "review-later"}) {
		t.Fatalf("column order %v", ids)
	}
	todo := board.Columns[0]
	if len(todo.Cards) != 1 || board.Columns[3].Cards[0].Text != "Fix bug" || len(board.Columns[1].Cards) != 0 {
		t.Fatalf("cards %+v", board)
	}
	got := todo.Cards[0]
	if got.Loop != "loop-123" || got.Description != "Two\nlines" || !got.Subtasks[0].Done || got.Meta[0] != (Field{"priority", "high"}) || got.Topics[0] != "docs" {
		t.Errorf("card %+v", got)
	}
	raw, _ := os.ReadFile(filepath.Join(dir, "focus/boards/default/todo.md"))
	want := "# To do\n\n- [ ] Write docs #docs\n  > priority: high\n  > loop: loop-123\n  - [x] outline\n  Two\n  lines\n"
	if string(raw) != want {
		t.Errorf("file:\n%s\nwant:\n%s", raw, want)
	}
	if err := ks.DeleteCard("default", "todo", got.ID); err != nil {
		t.Fatal(err)
	}
	if err := ks.DeleteCard("default", "todo", got.ID); err == nil {
		t.Error("deleted a missing card")
	}
	if _, err := ks.AddCard("default", "nope", "x"); err == nil {
		t.Error("added to a missing column")
	}
	st, err := cs.Status(t.Context(), contextrepo.Notes)
	if err != nil || st.Dirty {
		t.Errorf("notes left dirty: %+v %v", st, err)
	}
}

// A loop can promote symlinks into the notes checkout. None of them may turn a board edit
// into a write (or a read) of a file outside the checkout.
func TestPromotedSymlinksNeverLeadABoardOperationOut(t *testing.T) {
	ks, cs := newBoards(t)
	dir := cs.Dir(contextrepo.Notes)
	victim := filepath.Join(t.TempDir(), ".bashrc")
	if err := os.WriteFile(victim, []byte("# the user's rc\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	board := filepath.Join(dir, "focus", "boards", "default")
	// The old temp-file name, the column itself, a column and config.yaml, all links out.
	for _, name := range []string{"todo.md.tmp", "doing.md.tmp", "leak.md", "done.md"} {
		p := filepath.Join(board, name)
		_ = os.Remove(p)
		if err := os.Symlink(victim, p); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := ks.AddCard("default", "todo", "after the attack"); err != nil {
		t.Fatal(err)
	}
	if err := ks.MoveCard("default", "todo", CardID("after the attack"), "doing", 0); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(victim); string(b) != "# the user's rc\n" {
		t.Fatalf("victim overwritten: %q", b)
	}
	b, err := ks.Board("default")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range b.Columns {
		if c.ID == "leak" || c.ID == "done" {
			t.Errorf("a symlinked column was read: %+v", c)
		}
		for _, k := range c.Cards {
			if strings.Contains(k.Text, "rc") {
				t.Errorf("victim content on the board: %+v", k)
			}
		}
	}
	// A board folder that is a link out is no board, and cannot be written into.
	if err := os.Symlink(filepath.Dir(victim), filepath.Join(dir, "focus", "boards", "evil")); err != nil {
		t.Fatal(err)
	}
	boards, err := ks.Boards()
	if err != nil || strings.Contains(strings.Join(boards, ","), "evil") {
		t.Fatalf("boards = %v %v", boards, err)
	}
	if _, err := ks.AddCard("evil", "x", "y"); err == nil {
		t.Fatal("edited a board that is a link out")
	}
	// config.yaml as a link out is replaced by the board's own, not written through.
	cfg := filepath.Join(board, "config.yaml")
	_ = os.Remove(cfg)
	if err := os.Symlink(victim, cfg); err != nil {
		t.Fatal(err)
	}
	if _, err := ks.AddColumn("default", "Later"); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(victim); string(b) != "# the user's rc\n" {
		t.Fatalf("victim overwritten through config.yaml: %q", b)
	}
	if fi, err := os.Lstat(cfg); err != nil || !fi.Mode().IsRegular() {
		t.Fatalf("config.yaml after the edit: %v %v", fi, err)
	}
}

// A card whose text leaves the BMP (an emoji) gets loopat's id, negative sign and all,
// and the board operations find it by that id.
func TestEmojiCardHasLoopatIDAndCanBeMoved(t *testing.T) {
	ks, _ := newBoards(t)
	c, err := ks.AddCard("default", "todo", "Ship 🚀")
	if err != nil {
		t.Fatal(err)
	}
	if c.ID != "-9dm5eh" {
		t.Fatalf("id %q, want loopat's -9dm5eh", c.ID)
	}
	if err := ks.MoveCard("default", "todo", c.ID, "doing", 0); err != nil {
		t.Fatal(err)
	}
	b, err := ks.Board("default")
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, col := range b.Columns {
		for _, k := range col.Cards {
			if k.Text == "Ship 🚀" {
				found = true
				if col.ID != "doing" || k.ID != "-9dm5eh" {
					t.Fatalf("card in %s with id %s", col.ID, k.ID)
				}
			}
		}
	}
	if !found {
		t.Fatal("the card is gone")
	}
}
