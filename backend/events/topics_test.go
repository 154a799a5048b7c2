package events

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// everyTopic is each topic the backend publishes, per-id topics made with the id "ID".
// A topic added to topics.go belongs here, so the tests below cover it.
func everyTopic() []string {
	topics := []string{
		TopicEngineState, TopicMachineProgress, TopicImageProgress, TopicLoopsChanged,
		TopicContextChanged, TopicKanbanChanged, TopicVaultChanged, TopicConfigChanged,
		TopicUninstallProgress, TopicUninstallDone, TopicAppOpenLoop,
	}
	for _, what := range []string{LoopMessage, LoopDelta, LoopStatus, LoopQueue, LoopHostExec, LoopPorts, LoopPending} {
		topics = append(topics, LoopTopic("ID", what))
	}
	for _, what := range []string{TermData, TermExit} {
		topics = append(topics, TermTopic("ID", what))
	}
	return topics
}

func TestTopicsAreDistinct(t *testing.T) {
	seen := map[string]bool{}
	for _, topic := range everyTopic() {
		if seen[topic] {
			t.Errorf("topic %q is named twice", topic)
		}
		seen[topic] = true
		if !regexp.MustCompile(`^[a-z]+:([A-Za-z0-9]+:)?[a-z-]+$`).MatchString(topic) {
			t.Errorf("topic %q is not <area>:<what> or <area>:<id>:<what>", topic)
		}
	}
}

// TestFrontendSubscribesToEveryTopic reads frontend/src and checks that each topic is
// spelled there as the UI subscribes to it: a quoted string for a fixed topic, a template
// literal `loop:${id}:message` for a per-id one. A renamed Go topic, or a TS name that
// drifted, fails here instead of leaving a UI that silently never updates.
func TestFrontendSubscribesToEveryTopic(t *testing.T) {
	src := readFrontendSources(t)
	for _, topic := range everyTopic() {
		var pattern string
		if area, what, ok := strings.Cut(topic, ":ID:"); ok {
			pattern = "`" + regexp.QuoteMeta(area) + `:\$\{[^}]+\}:` + regexp.QuoteMeta(what) + "`"
		} else {
			pattern = `['"` + "`" + `]` + regexp.QuoteMeta(topic) + `['"` + "`" + `]`
		}
		if !regexp.MustCompile(pattern).MatchString(src) {
			t.Errorf("the frontend never spells topic %q (looked for /%s/ in frontend/src)", topic, pattern)
		}
	}
}

func readFrontendSources(t *testing.T) string {
	t.Helper()
	root := filepath.Join("..", "..", "frontend", "src")
	var b strings.Builder
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		name := d.Name()
		if d.IsDir() || !(strings.HasSuffix(name, ".ts") || strings.HasSuffix(name, ".tsx")) || strings.Contains(name, ".test.") {
			return nil
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		b.Write(data)
		b.WriteByte('\n')
		return nil
	})
	if err != nil {
		t.Fatalf("reading the frontend sources: %v", err)
	}
	if b.Len() == 0 {
		t.Fatalf("no .ts/.tsx files under %s", root)
	}
	return b.String()
}

func TestParseLoopTopic(t *testing.T) {
	for _, what := range []string{LoopMessage, LoopStatus, LoopPending} {
		id, got, ok := ParseLoopTopic(LoopTopic("abc123", what))
		if !ok || id != "abc123" || got != what {
			t.Errorf("ParseLoopTopic(LoopTopic(abc123, %s)) = %q, %q, %v", what, id, got, ok)
		}
	}
	for _, topic := range []string{"loops:changed", "loop::status", "loop:a:b:status", "loop:abc:", "loop:abc", "term:abc:data", TopicEngineState} {
		if id, what, ok := ParseLoopTopic(topic); ok {
			t.Errorf("ParseLoopTopic(%q) = %q, %q, true; want not a loop topic", topic, id, what)
		}
	}
}
