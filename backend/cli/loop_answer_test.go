package cli

import (
	"encoding/json"
	"testing"

	"github.com/loopat/desktop/backend/loops"
)

func TestParseAnswer(t *testing.T) {
	perm := loops.Pending{Kind: loops.PendingPermission, Tool: "Bash"}
	q := loops.Pending{Kind: loops.PendingQuestion, Tool: "AskUserQuestion",
		Input: json.RawMessage(`{"questions":[{"question":"Which DB?"},{"question":"Port?"}]}`)}
	cases := []struct {
		p     loops.Pending
		words []string
		want  loops.PendingAnswer
		bad   bool
	}{
		{perm, []string{"allow"}, loops.PendingAnswer{Allow: true}, false},
		{perm, []string{"always", "Bash(npm", "test:*)"}, loops.PendingAnswer{Allow: true, Always: true, Rule: "Bash(npm test:*)"}, false},
		{perm, []string{"deny", "use", "make"}, loops.PendingAnswer{Message: "use make"}, false},
		{perm, []string{"answer", "x"}, loops.PendingAnswer{}, true},
		{perm, []string{"maybe"}, loops.PendingAnswer{}, true},
		{perm, nil, loops.PendingAnswer{}, true},
		{q, []string{"answer", "postgres"}, loops.PendingAnswer{Allow: true, Answers: map[string]string{"Which DB?": "postgres", "Port?": "postgres"}}, false},
	}
	for _, c := range cases {
		got, err := parseAnswer(c.p, c.words)
		if (err != nil) != c.bad {
			t.Fatalf("%v: err = %v", c.words, err)
		}
		if c.bad {
			continue
		}
		g, _ := json.Marshal(got)
		w, _ := json.Marshal(c.want)
		if string(g) != string(w) {
			t.Fatalf("%v: got %s want %s", c.words, g, w)
		}
	}
}
