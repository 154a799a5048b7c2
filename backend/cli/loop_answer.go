// `loopat loop pending|answer`, and answering the agent's prompts during `loop send`.
//
// A prompt lives in the process that runs the loop's agent: the app, or the `loopat
// loop send` that started it. So `send` shows each prompt and reads the answer from
// its stdin; `pending` and `answer` ask the running app over its control socket
// (loop_remote.go), else reach the prompts of this process's agents.

package cli

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/loopat/desktop/backend/loops"
)

const answerUsage = `answers: allow | always [RULE] | deny [NOTE...] | answer TEXT (to a question)`

// pendingAPI is the part of services.LoopService that answers prompts.
type pendingAPI interface {
	Pending(id string) ([]loops.Pending, error)
	Answer(id, pendingID string, answer loops.PendingAnswer) error
}

// parseAnswer reads "allow", "always [RULE]", "deny [NOTE]" or "answer TEXT" for p.
func parseAnswer(p loops.Pending, words []string) (loops.PendingAnswer, error) {
	if len(words) == 0 {
		return loops.PendingAnswer{}, fmt.Errorf("no answer; %s", answerUsage)
	}
	rest := strings.Join(words[1:], " ")
	switch strings.ToLower(words[0]) {
	case "allow", "approve", "yes", "y":
		return loops.PendingAnswer{Allow: true}, nil
	case "always":
		return loops.PendingAnswer{Allow: true, Always: true, Rule: rest}, nil
	case "deny", "no", "n":
		return loops.PendingAnswer{Message: rest}, nil
	case "answer":
		if p.Kind != loops.PendingQuestion || rest == "" {
			return loops.PendingAnswer{}, fmt.Errorf("'answer TEXT' answers a question")
		}
		answers := map[string]string{}
		for _, q := range questionsOf(p) {
			answers[q] = rest
		}
		return loops.PendingAnswer{Allow: true, Answers: answers}, nil
	}
	return loops.PendingAnswer{}, fmt.Errorf("unknown answer %q; %s", words[0], answerUsage)
}

func questionsOf(p loops.Pending) []string {
	var in struct {
		Questions []struct {
			Question string `json:"question"`
		} `json:"questions"`
	}
	_ = json.Unmarshal(p.Input, &in)
	var out []string
	for _, q := range in.Questions {
		out = append(out, q.Question)
	}
	return out
}

// describePending is one prompt as the terminal shows it (input shortened).
func describePending(p loops.Pending) string {
	in := string(p.Input)
	if len(in) > 400 {
		in = in[:400] + "…"
	}
	s := fmt.Sprintf("needs input [%s] %s %s", p.Kind, p.Tool, in)
	if p.Rule != "" {
		s += fmt.Sprintf(" (always: %s)", p.Rule)
	}
	return s
}

// runPending is `loopat loop pending ID` and `loopat loop answer ID PENDING ANSWER...`.
func (l loopCLI) runPending(cmd, name string, pos []string, env Env) int {
	api, ok := l.svc.(pendingAPI)
	if !ok {
		return fail(env, name, fmt.Errorf("this loop service cannot answer prompts"))
	}
	if len(pos) < 1 || (cmd == "answer" && len(pos) < 3) || (cmd == "pending" && len(pos) != 1) {
		return usageError(env, name, "wrong arguments", loopUsage)
	}
	id, err := l.resolveID(pos[0])
	if err != nil {
		return fail(env, name, err)
	}
	list, err := api.Pending(id)
	if err != nil {
		return fail(env, name, err)
	}
	if cmd == "pending" {
		for _, p := range list {
			fmt.Fprintf(env.Stdout, "%s\t%s\n", p.ID, describePending(p))
		}
		return exitOK
	}
	for _, p := range list {
		if p.ID == pos[1] || (len(pos[1]) >= 4 && strings.HasPrefix(p.ID, pos[1])) {
			a, err := parseAnswer(p, pos[2:])
			if err != nil {
				return usageError(env, name, err.Error(), loopUsage)
			}
			if err := api.Answer(id, p.ID, a); err != nil {
				return fail(env, name, err)
			}
			return exitOK
		}
	}
	where := "in this process (no running app serves this workspace; a prompt is answered where its agent runs: the app, or the `loop send` that started it)"
	if _, remote := l.svc.(remoteLoops); remote {
		where = "in the running app (see `loopat loop pending ID`)"
	}
	return fail(env, name, fmt.Errorf("nothing waits with id %q %s", pos[1], where))
}

// waitAnswering waits for the turn like wait, and meanwhile shows each prompt on stderr
// and reads its answer from in, one line each. A prompt answered elsewhere meanwhile (the
// app's window, `loopat loop answer`) is dropped from the terminal. When in has ended:
// in this process nobody else can answer, so the prompt is denied and the turn never
// waits on a terminal nobody reads; with the running app the prompt stays for the app.
func (l loopCLI) waitAnswering(ctx context.Context, id string, in io.Reader, env Env) error {
	api, ok := l.svc.(pendingAPI)
	if !ok {
		return l.wait(ctx, id)
	}
	_, inApp := l.svc.(remoteLoops)
	done := make(chan error, 1)
	go func() { done <- l.wait(ctx, id) }()
	stop := make(chan struct{})
	defer close(stop)
	lines := readLines(in, stop)
	var asking *loops.Pending // the prompt on the terminal, waiting for its line
	seen := map[string]bool{}
	ended := false
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for {
		var input <-chan string // read the terminal only while a prompt waits for it
		if asking != nil && !ended {
			input = lines
		}
		select {
		case err := <-done:
			if asking != nil { // the turn ended, so the prompt was answered in the app
				fmt.Fprintln(env.Stderr, "\nanswered elsewhere")
			}
			return err
		case line, ok := <-input:
			if !ok {
				ended = true
				if !inApp {
					_ = api.Answer(id, asking.ID, loops.PendingAnswer{Message: "No answer came from the terminal."})
					fmt.Fprintln(env.Stderr, "\nno answer (stdin ended): denied")
				} else {
					fmt.Fprintln(env.Stderr, "\nno answer (stdin ended): answer it in the app or with `loopat loop answer`")
				}
				asking = nil
				continue
			}
			a, err := parseAnswer(*asking, strings.Fields(line))
			if err == nil {
				err = api.Answer(id, asking.ID, a)
			}
			if err != nil {
				fmt.Fprintf(env.Stderr, "%v\n> ", err)
				continue
			}
			asking = nil
		case <-tick.C:
			list, err := api.Pending(id)
			if err != nil {
				continue
			}
			if asking != nil && !slices.ContainsFunc(list, func(p loops.Pending) bool { return p.ID == asking.ID }) {
				fmt.Fprintln(env.Stderr, "\nanswered elsewhere")
				asking = nil
			}
			for _, p := range list {
				if asking != nil || seen[p.ID] {
					continue
				}
				seen[p.ID] = true
				switch {
				case !ended:
					asking = &p
					fmt.Fprintf(env.Stderr, "%s\n%s\n> ", describePending(p), answerUsage)
				case !inApp:
					_ = api.Answer(id, p.ID, loops.PendingAnswer{Message: "No answer came from the terminal."})
					fmt.Fprintf(env.Stderr, "%s\nno answer (stdin ended): denied\n", describePending(p))
				default:
					fmt.Fprintf(env.Stderr, "%s\nwaiting for an answer in the app (or `loopat loop answer %s %s ...`)\n", describePending(p), id, p.ID)
				}
			}
		}
	}
}

// readLines delivers in's lines until in ends (the channel closes) or stop closes.
func readLines(in io.Reader, stop <-chan struct{}) <-chan string {
	out := make(chan string)
	go func() {
		defer close(out)
		sc := bufio.NewScanner(in)
		for sc.Scan() {
			select {
			case out <- sc.Text():
			case <-stop:
				return
			}
		}
	}()
	return out
}
