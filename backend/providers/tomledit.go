package providers

import (
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/loopat/desktop/backend/config"
)

// config.toml is the user's file, full of their comments; go-toml cannot keep comments,
// so provider edits are textual: only the lines of the [[providers]] table being changed
// (and [agent].default_provider) are rewritten. Every edit is checked by parsing the
// result and comparing it with the intended config; an edit that would come out
// different (an unusual layout such as inline tables) is refused, never written.

var (
	reProviderName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)
	reKeyRef       = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,127}$`)
	reHeader       = regexp.MustCompile(`^\s*\[`)
	reProvHeader   = regexp.MustCompile(`^\s*\[\[\s*providers\s*\]\]\s*(#.*)?$`)
	reAgentHeader  = regexp.MustCompile(`^\s*\[\s*agent\s*\]\s*(#.*)?$`)
	reKeyLine      = regexp.MustCompile(`^\s*("?)([A-Za-z0-9_-]+)("?)\s*=`)
)

// Validate checks a provider as the settings form sends it.
func Validate(p config.Provider) error {
	if !reProviderName.MatchString(p.Name) {
		return fmt.Errorf("name %q: use letters, digits, '.', '_' or '-' (up to 64, starting with a letter or digit)", p.Name)
	}
	if !strings.HasPrefix(p.BaseURL, "http://") && !strings.HasPrefix(p.BaseURL, "https://") || strings.ContainsAny(p.BaseURL, " \t\r\n\"\\") {
		return fmt.Errorf("base URL %q: it must start with http:// or https:// and hold no spaces or quotes", p.BaseURL)
	}
	if p.KeyRef != "" && !reKeyRef.MatchString(p.KeyRef) {
		return fmt.Errorf("key %q: name the vault secret like an environment variable (letters, digits, '_')", p.KeyRef)
	}
	for _, m := range p.Models {
		if strings.TrimSpace(m) == "" || strings.ContainsFunc(m, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
			return fmt.Errorf("model %q: empty or holds control characters", m)
		}
	}
	return nil
}

// UpsertProvider returns text with provider `original` replaced by p (original "" or not
// found in the file: p is added after the last provider). Keys of the table that the form
// does not know, and every comment, stay.
func UpsertProvider(text, original string, p config.Provider) (string, error) {
	if err := Validate(p); err != nil {
		return "", err
	}
	want, err := parse(text)
	if err != nil {
		return "", err
	}
	if original == "" {
		original = p.Name
	}
	at := slices.IndexFunc(want.Providers, func(x config.Provider) bool { return x.Name == original })
	if p.Name != original && slices.ContainsFunc(want.Providers, func(x config.Provider) bool { return x.Name == p.Name }) {
		return "", fmt.Errorf("a provider named %q already exists", p.Name)
	}
	lines := splitLines(text)
	blocks := providerBlocks(lines)
	if len(blocks) == 0 && len(want.Providers) > 0 {
		// The file names no providers, so the built-in ones are in force: write them out
		// first, or adding one would silently drop them.
		lines = appendTables(lines, len(lines), want.Providers)
		blocks = providerBlocks(lines)
	}
	if at >= 0 {
		if len(blocks) != len(want.Providers) {
			return "", errLayout
		}
		b := blocks[at]
		body := setKeys(lines[b.start+1:b.end], providerKeys(p))
		lines = slices.Concat(lines[:b.start+1], body, lines[b.end:])
		want.Providers[at] = p
		if want.Agent.DefaultProvider == original && p.Name != original {
			lines = setAgentKey(lines, "default_provider", tomlString(p.Name))
			want.Agent.DefaultProvider = p.Name
		}
	} else {
		pos := len(lines)
		if len(blocks) > 0 {
			pos = blocks[len(blocks)-1].end
		}
		lines = appendTables(lines, pos, []config.Provider{p})
		want.Providers = append(want.Providers, p)
	}
	return check(joinLines(lines), want)
}

// appendTables inserts a [[providers]] table for each of ps at line pos, blank-line separated.
func appendTables(lines []string, pos int, ps []config.Provider) []string {
	if pos == len(lines) {
		for pos > 0 && strings.TrimSpace(lines[pos-1]) == "" {
			pos-- // add before the file's trailing newline(s), keep them after
		}
	}
	var add []string
	for _, p := range ps {
		if pos+len(add) > 0 && (len(add) > 0 || strings.TrimSpace(lines[pos-1]) != "") {
			add = append(add, "")
		}
		add = append(add, "[[providers]]")
		for _, kv := range providerKeys(p) {
			add = append(add, kv.key+" = "+kv.value)
		}
	}
	if pos < len(lines) && strings.TrimSpace(lines[pos]) != "" {
		add = append(add, "")
	}
	return slices.Concat(lines[:pos], add, lines[pos:])
}

// RemoveProvider returns text without provider name's table. The default provider cannot
// be removed: make another one the default first.
func RemoveProvider(text, name string) (string, error) {
	want, err := parse(text)
	if err != nil {
		return "", err
	}
	at := slices.IndexFunc(want.Providers, func(x config.Provider) bool { return x.Name == name })
	if at < 0 {
		return "", fmt.Errorf("no provider named %q", name)
	}
	if want.Agent.DefaultProvider == name {
		return "", fmt.Errorf("%q is the default provider: make another provider the default first", name)
	}
	lines := splitLines(text)
	blocks := providerBlocks(lines)
	if len(blocks) != len(want.Providers) {
		return "", errLayout
	}
	b := blocks[at]
	start, end := b.start, b.end
	if at > 0 {
		// Comment lines right above a later table describe it; the first table's may
		// describe the whole providers list, so they stay.
		for start > 0 && strings.HasPrefix(strings.TrimSpace(lines[start-1]), "#") {
			start--
		}
	}
	if end < len(lines) && strings.TrimSpace(lines[end]) == "" {
		end++ // the blank line that separated it from what follows
	}
	lines = slices.Concat(lines[:start], lines[end:])
	want.Providers = slices.Delete(want.Providers, at, at+1)
	return check(joinLines(lines), want)
}

// SetDefaultProvider returns text with [agent].default_provider = name.
func SetDefaultProvider(text, name string) (string, error) {
	want, err := parse(text)
	if err != nil {
		return "", err
	}
	if !slices.ContainsFunc(want.Providers, func(x config.Provider) bool { return x.Name == name }) {
		return "", fmt.Errorf("no provider named %q", name)
	}
	want.Agent.DefaultProvider = name
	return check(joinLines(setAgentKey(splitLines(text), "default_provider", tomlString(name))), want)
}

var errLayout = fmt.Errorf("config.toml lists providers in a layout this form cannot edit safely (not as [[providers]] tables); edit it in Settings → General → Advanced")

type block struct{ start, end int } // header line; end is exclusive

// providerBlocks finds each [[providers]] table: from its header to its last key or
// comment line before the next table. Comment lines directly above the next header are
// left to that table (they describe it).
func providerBlocks(lines []string) []block {
	var out []block
	for i := 0; i < len(lines); i++ {
		if !reProvHeader.MatchString(lines[i]) {
			continue
		}
		next := len(lines)
		for j := i + 1; j < len(lines); j++ {
			if reHeader.MatchString(lines[j]) {
				next = j
				break
			}
		}
		end := next
		if next < len(lines) {
			for end > i+1 && isBlankOrComment(lines[end-1]) {
				end--
			}
		} else {
			for end > i+1 && strings.TrimSpace(lines[end-1]) == "" {
				end--
			}
		}
		out = append(out, block{i, end})
		i = end - 1
	}
	return out
}

type keyValue struct{ key, value string }

func providerKeys(p config.Provider) []keyValue {
	models := make([]string, len(p.Models))
	for i, m := range p.Models {
		models[i] = tomlString(m)
	}
	return []keyValue{
		{"name", tomlString(p.Name)},
		{"base_url", tomlString(p.BaseURL)},
		{"models", "[" + strings.Join(models, ", ") + "]"},
		{"key", tomlString(p.KeyRef)},
	}
}

// setKeys rewrites the value of each key in body (keeping an inline comment after it) or
// adds the key after the table's last key line.
func setKeys(body []string, kvs []keyValue) []string {
	out := slices.Clone(body)
	for _, kv := range kvs {
		found := false
		for i := 0; i < len(out); i++ {
			m := reKeyLine.FindStringSubmatchIndex(out[i])
			if m == nil || out[i][m[4]:m[5]] != kv.key {
				continue
			}
			valueStart := m[1]
			rest, span := afterValue(out, i, valueStart)
			indent := out[i][:len(out[i])-len(strings.TrimLeft(out[i], " \t"))]
			line := indent + kv.key + " = " + kv.value
			if rest != "" {
				line += " " + rest
			}
			out = slices.Concat(out[:i], []string{line}, out[i+span:])
			found = true
			break
		}
		if !found {
			last := -1
			for i, l := range out {
				if !isBlankOrComment(l) {
					last = i
				}
			}
			out = slices.Insert(out, last+1, kv.key+" = "+kv.value)
		}
	}
	return out
}

// afterValue scans the value starting at lines[i][col] (strings and arrays may span lines)
// and returns the comment after it ("" if none) and how many lines the key took.
func afterValue(lines []string, i, col int) (comment string, span int) {
	depth := 0
	var quote string // the open string's delimiter
	for li := i; li < len(lines); li++ {
		s := lines[li]
		start := 0
		if li == i {
			start = col
		}
		for k := start; k < len(s); k++ {
			c := s[k]
			switch {
			case quote != "":
				if c == '\\' && quote[0] == '"' {
					k++
				} else if strings.HasPrefix(s[k:], quote) {
					k += len(quote) - 1
					quote = ""
				}
			case c == '#':
				if depth == 0 {
					return strings.TrimSpace(s[k:]), li - i + 1
				}
				k = len(s) // a comment inside a multi-line array
			case strings.HasPrefix(s[k:], `"""`) || strings.HasPrefix(s[k:], `'''`):
				quote = s[k : k+3]
				k += 2
			case c == '"' || c == '\'':
				quote = string(c)
			case c == '[' || c == '{':
				depth++
			case c == ']' || c == '}':
				depth--
			}
		}
		if quote != "" && len(quote) == 1 {
			quote = "" // a one-line string cannot span lines: broken, stop here
		}
		if depth <= 0 && quote == "" {
			return "", li - i + 1
		}
	}
	return "", len(lines) - i
}

// setAgentKey sets key in the [agent] table (adding the key or the table when missing).
func setAgentKey(lines []string, key, value string) []string {
	start := slices.IndexFunc(lines, reAgentHeader.MatchString)
	if start < 0 {
		return append(lines, "", "[agent]", key+" = "+value)
	}
	end := len(lines)
	for j := start + 1; j < len(lines); j++ {
		if reHeader.MatchString(lines[j]) {
			end = j
			break
		}
	}
	for end > start+1 && isBlankOrComment(lines[end-1]) {
		end--
	}
	body := setKeys(lines[start+1:end], []keyValue{{key, value}})
	return slices.Concat(lines[:start+1], body, lines[end:])
}

func isBlankOrComment(l string) bool {
	t := strings.TrimSpace(l)
	return t == "" || strings.HasPrefix(t, "#")
}

// tomlString is s as a TOML basic string.
func tomlString(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(&b, `\u%04X`, r)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}

func splitLines(text string) []string { return strings.Split(text, "\n") }
func joinLines(lines []string) string { return strings.Join(lines, "\n") }

func parse(text string) (config.Config, error) {
	cfg, err := config.Parse("config.toml", []byte(text))
	if err != nil {
		return config.Config{}, fmt.Errorf("config.toml does not parse; fix it in Settings → General → Advanced first: %w", err)
	}
	return cfg, nil
}

// check parses the edited text and returns it only if it means exactly want.
func check(text string, want config.Config) (string, error) {
	got, err := config.Parse("config.toml", []byte(text))
	if err != nil {
		return "", fmt.Errorf("%w (the edit would not parse: %v)", errLayout, err)
	}
	norm := func(c config.Config) config.Config {
		for i := range c.Providers {
			if len(c.Providers[i].Models) == 0 {
				c.Providers[i].Models = nil
			}
		}
		return c
	}
	if len(config.Changed(norm(got), norm(want))) != 0 {
		return "", errLayout
	}
	return text, nil
}
