// Package kanban reads and writes loopat's markdown boards in the notes repository:
// focus/boards/<board>/<column>.md, one file per column. A column file has optional
// front matter, a first "# Title", and cards as top-level task items:
//
//   - [ ] Card text #topic
//     > priority: high
//     > loop: 3f2a9c
//   - [ ] a subtask
//     Description lines, indented.
//
// Parsing keeps front matter and any other text, so a parse/serialise round trip keeps
// the file's meaning, and a file already in this canonical shape byte for byte.
package kanban

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// Field is one "> key: value" metadata line of a card.
type Field struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

// Subtask is an indented task item under a card.
type Subtask struct {
	Text string `json:"text"`
	Done bool   `json:"done"`
}

// Card is one task item of a column.
type Card struct {
	ID          string    `json:"id"` // derived from the text (base36 of a 31-hash), unique within its column
	Text        string    `json:"text"`
	Done        bool      `json:"done"`
	Meta        []Field   `json:"meta"`        // in file order; includes loop
	Loop        string    `json:"loop"`        // the linked loop id ("> loop: <id>" or "label [<id>]")
	Subtasks    []Subtask `json:"subtasks"`    //
	Description string    `json:"description"` // indented lines, joined with "\n"
	Topics      []string  `json:"topics"`      // #tags in the text
}

// Column is one column file.
type Column struct {
	ID    string `json:"id"` // file name without .md
	Title string `json:"title"`
	Color string `json:"color,omitempty"`
	Cards []Card `json:"cards"`

	front    []string // front matter lines including the --- fences
	preamble []string // text between the title and the first card
	trailer  []string // top-level non-card text after the cards
}

var (
	cardRe    = regexp.MustCompile(`^[-*] \[([ xX])\](?: (.*))?$`)
	subRe     = regexp.MustCompile(`^[-*] \[([ xX])\](?: (.*))?$`)
	fieldRe   = regexp.MustCompile(`^>\s*([A-Za-z0-9_-]+):\s*(.*)$`)
	loopRefRe = regexp.MustCompile(`\[([A-Za-z0-9_-]+)\]\s*$`)
	topicRe   = regexp.MustCompile(`(?:^|\s)#([\p{L}\p{N}_-]+)`)
)

// Parse reads a column file; id is its file name without .md.
func Parse(id, text string) Column {
	col := Column{ID: id, Cards: []Card{}}
	lines := strings.Split(strings.ReplaceAll(text, "\r\n", "\n"), "\n")
	if len(lines) > 0 && lines[len(lines)-1] == "" {
		lines = lines[:len(lines)-1]
	}
	i := 0
	if len(lines) > 0 && strings.TrimSpace(lines[0]) == "---" {
		for j := 1; j < len(lines); j++ {
			if strings.TrimSpace(lines[j]) == "---" {
				col.front = append([]string(nil), lines[:j+1]...)
				i = j + 1
				break
			}
		}
	}
	var cur *Card
	var desc []string
	blanks := 0
	flush := func() {
		if cur != nil {
			cur.Description = strings.Join(desc, "\n")
			col.Cards = append(col.Cards, *cur)
		}
		cur, desc, blanks = nil, nil, 0
	}
	for ; i < len(lines); i++ {
		line := lines[i]
		if strings.TrimSpace(line) == "" {
			if cur != nil {
				blanks++
			} else if len(col.preamble) > 0 || len(col.trailer) > 0 {
				if len(col.Cards) > 0 {
					col.trailer = append(col.trailer, "")
				} else {
					col.preamble = append(col.preamble, "")
				}
			}
			continue
		}
		indented := line[0] == ' ' || line[0] == '\t'
		if cur != nil && indented {
			s := strings.TrimLeft(line, " \t")
			if m := fieldRe.FindStringSubmatch(s); m != nil && blanks == 0 && len(desc) == 0 {
				cur.Meta = append(cur.Meta, Field{Key: m[1], Value: strings.TrimSpace(m[2])})
			} else if m := subRe.FindStringSubmatch(s); m != nil && blanks == 0 && len(desc) == 0 {
				cur.Subtasks = append(cur.Subtasks, Subtask{Text: m[2], Done: m[1] != " "})
			} else {
				for ; blanks > 0 && len(desc) > 0; blanks-- {
					desc = append(desc, "")
				}
				desc = append(desc, s)
			}
			blanks = 0
			continue
		}
		if m := cardRe.FindStringSubmatch(line); m != nil {
			flush()
			cur = &Card{Text: m[2], Done: m[1] != " "}
			continue
		}
		flush()
		if col.Title == "" && len(col.Cards) == 0 && len(col.preamble) == 0 && strings.HasPrefix(line, "# ") {
			col.Title = strings.TrimSpace(line[2:])
			continue
		}
		if len(col.Cards) == 0 {
			col.preamble = append(col.preamble, line)
		} else {
			col.trailer = append(col.trailer, line)
		}
	}
	flush()
	col.preamble = trimBlank(col.preamble)
	col.trailer = trimBlank(col.trailer)
	if col.Title == "" {
		col.Title = id
	}
	col.normalize()
	return col
}

func trimBlank(ls []string) []string {
	for len(ls) > 0 && ls[len(ls)-1] == "" {
		ls = ls[:len(ls)-1]
	}
	return ls
}

// normalize derives ids, loop and topics from each card's text and metadata.
func (c *Column) normalize() {
	seen := map[string]int{}
	for i := range c.Cards {
		k := &c.Cards[i]
		k.Loop = ""
		for _, f := range k.Meta {
			if f.Key == "loop" {
				k.Loop = loopID(f.Value)
			}
		}
		k.Topics = topics(k.Text)
		id := CardID(k.Text)
		seen[id]++
		if n := seen[id]; n > 1 {
			id += "-" + strconv.Itoa(n)
		}
		k.ID = id
		if k.Meta == nil {
			k.Meta = []Field{}
		}
		if k.Subtasks == nil {
			k.Subtasks = []Subtask{}
		}
	}
}

func loopID(v string) string {
	if m := loopRefRe.FindStringSubmatch(v); m != nil {
		return m[1]
	}
	return strings.TrimSpace(v)
}

func topics(text string) []string {
	out := []string{}
	for _, m := range topicRe.FindAllStringSubmatch(text, -1) {
		out = append(out, m[1])
	}
	return out
}

// CardID is loopat's card id (server/src/kanban.ts hashCid): the 31-hash of the card
// text's UTF-16 code units, kept to a signed 32-bit integer as JavaScript's
// `& 0xffffffff` does, in base 36, so a negative hash reads "-…". Emoji and other text
// outside the BMP count as their two surrogate units. Same ids as loopat for the same file.
func CardID(text string) string {
	var h int32
	for _, u := range utf16Units(text) {
		h = h*31 + int32(u)
	}
	return strconv.FormatInt(int64(h), 36)
}

func utf16Units(s string) []uint16 {
	var out []uint16
	for _, r := range s {
		if r >= 0x10000 {
			r -= 0x10000
			out = append(out, uint16(0xD800+(r>>10)), uint16(0xDC00+(r&0x3FF)))
			continue
		}
		out = append(out, uint16(r))
	}
	return out
}

// String serialises the column in canonical form.
func (c Column) String() string {
	var b strings.Builder
	for _, l := range c.front {
		b.WriteString(l + "\n")
	}
	title := c.Title
	if title == "" {
		title = c.ID
	}
	fmt.Fprintf(&b, "# %s\n", title)
	if len(c.preamble) > 0 {
		b.WriteString("\n" + strings.Join(c.preamble, "\n") + "\n")
	}
	if len(c.Cards) > 0 {
		b.WriteString("\n")
	}
	for _, k := range c.Cards {
		b.WriteString(cardLine("", k.Done, k.Text))
		for _, f := range k.Meta {
			fmt.Fprintf(&b, "  > %s: %s\n", f.Key, f.Value)
		}
		for _, s := range k.Subtasks {
			b.WriteString(cardLine("  ", s.Done, s.Text))
		}
		if k.Description != "" {
			for _, l := range strings.Split(k.Description, "\n") {
				if l == "" {
					b.WriteString("\n")
				} else {
					b.WriteString("  " + l + "\n")
				}
			}
		}
	}
	if len(c.trailer) > 0 {
		b.WriteString("\n" + strings.Join(c.trailer, "\n") + "\n")
	}
	return b.String()
}

func cardLine(indent string, done bool, text string) string {
	mark := " "
	if done {
		mark = "x"
	}
	text = strings.ReplaceAll(strings.TrimSpace(text), "\n", " ")
	if text == "" {
		return fmt.Sprintf("%s- [%s]\n", indent, mark)
	}
	return fmt.Sprintf("%s- [%s] %s\n", indent, mark, text)
}

// ColumnConfig is one entry of a board's config.yaml.
type ColumnConfig struct {
	File  string `json:"file"`
	Color string `json:"color,omitempty"`
}

// ParseConfig reads the fixed shape of a board's config.yaml:
//
//	columns:
//	  - file: todo.md
//	    color: "#hex"
//
// Anything else is ignored.
func ParseConfig(text string) []ColumnConfig {
	var out []ColumnConfig
	in := false
	for _, raw := range strings.Split(strings.ReplaceAll(text, "\r\n", "\n"), "\n") {
		line := strings.TrimSpace(raw)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if raw[0] != ' ' && raw[0] != '-' {
			in = strings.HasPrefix(line, "columns:")
			continue
		}
		if !in {
			continue
		}
		if strings.HasPrefix(line, "- ") {
			out = append(out, ColumnConfig{})
			line = strings.TrimSpace(line[2:])
		}
		if len(out) == 0 {
			continue
		}
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		v = unquote(strings.TrimSpace(v))
		switch strings.TrimSpace(k) {
		case "file":
			out[len(out)-1].File = v
		case "color":
			out[len(out)-1].Color = v
		}
	}
	return out
}

func unquote(v string) string {
	if len(v) >= 2 && (v[0] == '"' && v[len(v)-1] == '"' || v[0] == '\'' && v[len(v)-1] == '\'') {
		return v[1 : len(v)-1]
	}
	return v
}

// FormatConfig writes a config.yaml for cols.
func FormatConfig(cols []ColumnConfig) string {
	var b strings.Builder
	b.WriteString("columns:\n")
	for _, c := range cols {
		fmt.Fprintf(&b, "  - file: %s\n", c.File)
		if c.Color != "" {
			fmt.Fprintf(&b, "    color: %q\n", c.Color)
		}
	}
	return b.String()
}
