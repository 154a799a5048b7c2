package kanban

import (
	"errors"
	"fmt"
	"io/fs"
	"path"
	"regexp"
	"sort"
	"strings"

	"github.com/loopat/desktop/backend/safefs"
)

// BoardsDir is where boards live in the notes repository.
const BoardsDir = "focus/boards"

// Board is one board with its columns in display order.
type Board struct {
	Name    string   `json:"name"`
	Columns []Column `json:"columns"`

	tree *safefs.Tree // the checkout being edited (set during a change)
}

// Editor applies fn to the notes repository root and commits what it changed with msg
// (contextrepo.Store.Edit bound to notes), so each operation is one commit.
type Editor func(msg string, fn func(root string) error) (commit string, err error)

// MaxColumnBytes caps what is read of one column file or config.yaml.
const MaxColumnBytes = 4 << 20

// Store reads boards from a notes checkout and changes them through an Editor. The
// checkout receives promoted files from loops, so every read and write goes through a
// safefs.Tree: no symlink there leads a board operation out of the checkout, and columns
// are written through fresh O_EXCL temp files (a promoted "<col>.md.tmp" symlink is
// never written through).
type Store struct {
	root string
	edit Editor
}

// New returns boards of the notes checkout at root.
func New(root string, edit Editor) *Store { return &Store{root: root, edit: edit} }

var (
	nameRe   = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$`)
	keyRe    = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)
	loopIDRe = regexp.MustCompile(`^[A-Za-z0-9_-]{1,128}$`)
)

func checkName(kind, name string) error {
	if !nameRe.MatchString(name) || strings.Contains(name, "..") {
		return fmt.Errorf("invalid %s name %q (letters, digits, '_', '.', '-')", kind, name)
	}
	return nil
}

// boardDir is a board's folder relative to the checkout.
func boardDir(board string) string { return path.Join(BoardsDir, board) }

// withTree opens the checkout at root confined for the length of fn.
func withTree(root string, fn func(t *safefs.Tree) error) error {
	t, err := safefs.Open(root)
	if err != nil {
		return fmt.Errorf("notes checkout: %w", err)
	}
	defer t.Close()
	return fn(t)
}

// Boards lists board names, "default" first. Only real folders count (a symlink is no board).
func (s *Store) Boards() ([]string, error) {
	var des []fs.DirEntry
	err := withTree(s.root, func(t *safefs.Tree) (err error) {
		des, err = t.ReadDir(BoardsDir)
		return err
	})
	if errors.Is(err, fs.ErrNotExist) {
		return []string{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list boards: %w", err)
	}
	out := []string{}
	for _, de := range des {
		if de.IsDir() && nameRe.MatchString(de.Name()) {
			out = append(out, de.Name())
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if (out[i] == "default") != (out[j] == "default") {
			return out[i] == "default"
		}
		return out[i] < out[j]
	})
	return out, nil
}

// Board reads one board.
func (s *Store) Board(name string) (Board, error) {
	if err := checkName("board", name); err != nil {
		return Board{}, err
	}
	var b Board
	err := withTree(s.root, func(t *safefs.Tree) (err error) {
		b, err = readBoard(t, name)
		return err
	})
	return b, err
}

// readBoard reads the columns of a board: its regular *.md files (a symlink is skipped,
// never followed), ordered and coloured by config.yaml.
func readBoard(t *safefs.Tree, name string) (Board, error) {
	dir := boardDir(name)
	if fi, err := t.Lstat(dir); err != nil {
		return Board{}, fmt.Errorf("board %s: %w", name, err)
	} else if !fi.IsDir() {
		return Board{}, fmt.Errorf("board %s: not a folder", name)
	}
	des, err := t.ReadDir(dir)
	if err != nil {
		return Board{}, fmt.Errorf("board %s: %w", name, err)
	}
	var cfg []ColumnConfig
	if b, err := t.ReadFile(path.Join(dir, "config.yaml"), MaxColumnBytes); err == nil {
		cfg = ParseConfig(string(b))
	}
	order := map[string]int{}
	color := map[string]string{}
	for i, c := range cfg {
		order[c.File] = i
		color[c.File] = c.Color
	}
	var files []string
	for _, de := range des {
		if de.Type().IsRegular() && strings.HasSuffix(de.Name(), ".md") {
			files = append(files, de.Name())
		}
	}
	sort.SliceStable(files, func(i, j int) bool {
		oi, iok := order[files[i]]
		oj, jok := order[files[j]]
		switch {
		case iok && jok:
			return oi < oj
		case iok != jok:
			return iok
		}
		return files[i] < files[j]
	})
	b := Board{Name: name, Columns: []Column{}}
	for _, f := range files {
		text, err := t.ReadFile(path.Join(dir, f), MaxColumnBytes)
		if err != nil {
			return Board{}, fmt.Errorf("read %s/%s: %w", name, f, err)
		}
		c := Parse(strings.TrimSuffix(f, ".md"), string(text))
		c.Color = color[f]
		b.Columns = append(b.Columns, c)
	}
	return b, nil
}

func (b *Board) column(id string) (*Column, error) {
	for i := range b.Columns {
		if b.Columns[i].ID == id {
			return &b.Columns[i], nil
		}
	}
	return nil, fmt.Errorf("board %s has no column %q", b.Name, id)
}

func (c *Column) card(id string) (int, error) {
	for i := range c.Cards {
		if c.Cards[i].ID == id {
			return i, nil
		}
	}
	return -1, fmt.Errorf("column %s has no card %q", c.ID, id)
}

// writeColumn replaces a column file atomically (a reader never sees half a column).
func writeColumn(t *safefs.Tree, board string, c *Column) error {
	c.normalize()
	if c.ID == "" || strings.ContainsAny(c.ID, "/\\") {
		return fmt.Errorf("invalid column file name %q", c.ID)
	}
	if err := t.WriteFileAtomic(path.Join(boardDir(board), c.ID+".md"), []byte(c.String()), 0o644); err != nil {
		return fmt.Errorf("write column %s: %w", c.ID, err)
	}
	return nil
}

// change loads board, applies fn and writes the columns fn names as changed, as one commit.
func (s *Store) change(board, msg string, fn func(b *Board) ([]*Column, error)) error {
	if err := checkName("board", board); err != nil {
		return err
	}
	_, err := s.edit("kanban: "+msg, func(root string) error {
		return withTree(root, func(t *safefs.Tree) error {
			b, err := readBoard(t, board)
			if err != nil {
				return err
			}
			b.tree = t
			cols, err := fn(&b)
			if err != nil {
				return err
			}
			for _, c := range cols {
				if err := writeColumn(t, board, c); err != nil {
					return err
				}
			}
			return nil
		})
	})
	return err
}

// DefaultColumns are the columns of a new board.
var DefaultColumns = []string{"To do", "Doing", "Done"}

// CreateBoard makes a board with DefaultColumns.
func (s *Store) CreateBoard(name string) (Board, error) {
	if err := checkName("board", name); err != nil {
		return Board{}, err
	}
	_, err := s.edit("kanban: create board "+name, func(root string) error {
		return withTree(root, func(t *safefs.Tree) error {
			dir := boardDir(name)
			if _, err := t.Lstat(dir); err == nil {
				return fmt.Errorf("board %s exists", name)
			}
			if err := t.MkdirAll(dir, 0o755); err != nil {
				return err
			}
			var cfg []ColumnConfig
			for _, title := range DefaultColumns {
				c := Column{ID: slug(title), Title: title}
				if err := writeColumn(t, name, &c); err != nil {
					return err
				}
				cfg = append(cfg, ColumnConfig{File: c.ID + ".md"})
			}
			return t.WriteFileAtomic(path.Join(dir, "config.yaml"), []byte(FormatConfig(cfg)), 0o644)
		})
	})
	if err != nil {
		return Board{}, err
	}
	return s.Board(name)
}

func slug(title string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(title) {
		switch {
		case r >= 'a' && r <= 'z' || r >= '0' && r <= '9':
			b.WriteRune(r)
		case b.Len() > 0 && !strings.HasSuffix(b.String(), "-"):
			b.WriteRune('-')
		}
	}
	s := strings.Trim(b.String(), "-")
	if s == "" {
		s = "column"
	}
	if len(s) > 48 {
		s = s[:48]
	}
	return s
}

// AddColumn appends a column titled title; its file name comes from the title.
func (s *Store) AddColumn(board, title string) (Column, error) {
	title = strings.TrimSpace(title)
	if title == "" {
		return Column{}, errors.New("column title is empty")
	}
	var out Column
	err := s.change(board, "add column "+title+" to "+board, func(b *Board) ([]*Column, error) {
		id := slug(title)
		for n := 2; ; n++ {
			if _, err := b.column(id); err != nil {
				break
			}
			id = fmt.Sprintf("%s-%d", slug(title), n)
		}
		out = Column{ID: id, Title: title, Cards: []Card{}}
		b.Columns = append(b.Columns, out)
		return []*Column{&b.Columns[len(b.Columns)-1]}, saveOrder(b)
	})
	return out, err
}

// saveOrder rewrites config.yaml with the board's column order and colours.
func saveOrder(b *Board) error {
	var cfg []ColumnConfig
	for _, c := range b.Columns {
		cfg = append(cfg, ColumnConfig{File: c.ID + ".md", Color: c.Color})
	}
	return b.tree.WriteFileAtomic(path.Join(boardDir(b.Name), "config.yaml"), []byte(FormatConfig(cfg)), 0o644)
}

// AddCard appends a card to a column.
func (s *Store) AddCard(board, column, text string) (Card, error) {
	text = strings.TrimSpace(strings.ReplaceAll(text, "\n", " "))
	if text == "" {
		return Card{}, errors.New("card text is empty")
	}
	var out Card
	err := s.change(board, "add card to "+board+"/"+column, func(b *Board) ([]*Column, error) {
		c, err := b.column(column)
		if err != nil {
			return nil, err
		}
		c.Cards = append(c.Cards, Card{Text: text})
		c.normalize()
		out = c.Cards[len(c.Cards)-1]
		return []*Column{c}, nil
	})
	return out, err
}

// MoveCard moves a card to index of toColumn (clamped; -1 = end).
func (s *Store) MoveCard(board, fromColumn, cardID, toColumn string, index int) error {
	return s.change(board, fmt.Sprintf("move card %s %s -> %s", cardID, fromColumn, toColumn), func(b *Board) ([]*Column, error) {
		from, err := b.column(fromColumn)
		if err != nil {
			return nil, err
		}
		i, err := from.card(cardID)
		if err != nil {
			return nil, err
		}
		to, err := b.column(toColumn)
		if err != nil {
			return nil, err
		}
		card := from.Cards[i]
		from.Cards = append(from.Cards[:i], from.Cards[i+1:]...)
		if index < 0 || index > len(to.Cards) {
			index = len(to.Cards)
		}
		to.Cards = append(to.Cards[:index], append([]Card{card}, to.Cards[index:]...)...)
		if from == to {
			return []*Column{from}, nil
		}
		return []*Column{from, to}, nil
	})
}

// UpdateCard replaces a card's text, done flag, metadata, subtasks and description with
// card's; a non-empty card.Loop sets the loop field. It returns the card as stored.
func (s *Store) UpdateCard(board, column, cardID string, card Card) (Card, error) {
	card.Text = strings.TrimSpace(strings.ReplaceAll(card.Text, "\n", " "))
	if card.Text == "" {
		return Card{}, errors.New("card text is empty")
	}
	var out Card
	err := s.change(board, "edit card "+cardID+" in "+board+"/"+column, func(b *Board) ([]*Column, error) {
		c, err := b.column(column)
		if err != nil {
			return nil, err
		}
		i, err := c.card(cardID)
		if err != nil {
			return nil, err
		}
		for _, f := range card.Meta {
			if !keyRe.MatchString(f.Key) || strings.Contains(f.Value, "\n") {
				return nil, fmt.Errorf("invalid metadata %q: %q", f.Key, f.Value)
			}
		}
		c.Cards[i] = Card{Text: card.Text, Done: card.Done, Meta: card.Meta, Subtasks: card.Subtasks, Description: strings.TrimRight(card.Description, "\n")}
		if card.Loop != "" {
			setField(&c.Cards[i], "loop", card.Loop)
		}
		c.normalize()
		out = c.Cards[i]
		return []*Column{c}, nil
	})
	return out, err
}

// DeleteCard removes a card.
func (s *Store) DeleteCard(board, column, cardID string) error {
	return s.change(board, "delete card "+cardID+" from "+board+"/"+column, func(b *Board) ([]*Column, error) {
		c, err := b.column(column)
		if err != nil {
			return nil, err
		}
		i, err := c.card(cardID)
		if err != nil {
			return nil, err
		}
		c.Cards = append(c.Cards[:i], c.Cards[i+1:]...)
		return []*Column{c}, nil
	})
}

// LinkLoop records "> loop: <id>" on a card (replacing an earlier link).
func (s *Store) LinkLoop(board, column, cardID, loopID string) (Card, error) {
	if !loopIDRe.MatchString(loopID) {
		return Card{}, fmt.Errorf("invalid loop id %q", loopID)
	}
	var out Card
	err := s.change(board, "link loop "+loopID+" to card "+cardID, func(b *Board) ([]*Column, error) {
		c, err := b.column(column)
		if err != nil {
			return nil, err
		}
		i, err := c.card(cardID)
		if err != nil {
			return nil, err
		}
		setField(&c.Cards[i], "loop", loopID)
		c.normalize()
		out = c.Cards[i]
		return []*Column{c}, nil
	})
	return out, err
}

func setField(k *Card, key, value string) {
	for i := range k.Meta {
		if k.Meta[i].Key == key {
			k.Meta[i].Value = value
			return
		}
	}
	k.Meta = append(k.Meta, Field{Key: key, Value: value})
}
