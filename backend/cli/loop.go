package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/loopat/desktop/backend/engine"
	"github.com/loopat/desktop/backend/loops"
)

const loopUsage = `usage:
  loopat loop new TITLE... [--repo PATH] [--vault NAME]   create a loop; prints its id
  loopat loop ls                                        list loops
  loopat loop send ID TEXT...                           send TEXT ("-": read stdin), wait for the turn, print the reply
  loopat loop rm ID                                     delete a loop, its container and its folder
  loopat loop pending ID                                list what the loop's agent waits for (asks the running app)
  loopat loop answer ID PENDING allow|always [RULE]|deny [NOTE]|answer TEXT
                                                        answer one; during 'send' prompts are shown and answered on stdin
An ID may be shortened to any unique prefix.
  --repo PATH    local git repository to work on (cloned on a new branch)
  --vault NAME   vault whose secrets the loop gets (default: default)
`

// loopAPI is what `loopat loop` drives: services.LoopService, the UI's loop API.
type loopAPI interface {
	List() ([]loops.Meta, error)
	Create(req loops.CreateRequest) (loops.Meta, error)
	Delete(id string) error
	Messages(id string) ([]json.RawMessage, error)
	Send(id, text string) (loops.SendResult, error)
}

// loopCLI is `loopat loop` over the loop service; wait blocks until a loop's turn ends
// (the UI follows the events instead), workDir names a loop's workdir.
type loopCLI struct {
	svc     loopAPI
	wait    func(ctx context.Context, id string) error
	workDir func(id string) string
}

// loopNeedsEngine lists the `loopat loop` commands that start containers. A fresh process
// has only begun discovering the engine when it gets here, so they wait for it (bounded,
// saying so) instead of failing with "podman engine is starting".
var loopNeedsEngine = map[string]bool{"send": true}

func runLoop(ctx context.Context, args []string, env Env) int {
	if len(args) == 0 {
		return usageError(env, "loopat loop", "missing command", loopUsage)
	}
	if !loopCommands[args[0]] {
		return usageError(env, "loopat loop", fmt.Sprintf("unknown command %q", args[0]), loopUsage)
	}
	if app, ws := dialApp(env); app != nil { // the running app's loops (loop_remote.go)
		return remoteCLI(app, ws).run(ctx, args, env)
	}
	c := openCore(ctx, env, "loop", false)
	if c == nil {
		return exitFailed
	}
	defer c.Close()
	c.Start(ctx)
	if loopNeedsEngine[args[0]] {
		if st := c.Engine.State(); st.Phase != engine.PhaseReady {
			fmt.Fprintf(env.Stderr, "loopat: waiting for the container engine (%s)…\n", st.Phase)
		}
		if _, err := c.WaitEngine(ctx); err != nil {
			return fail(env, "loopat loop "+args[0], err)
		}
	}
	l := loopCLI{svc: c.LoopService, wait: c.Loops.Wait, workDir: c.Loops.Store().WorkDir}
	return l.run(ctx, args, env)
}

var loopCommands = map[string]bool{"new": true, "ls": true, "send": true, "rm": true, "pending": true, "answer": true}

// run runs `loopat loop CMD ...` (args start at CMD).
func (l loopCLI) run(ctx context.Context, args []string, env Env) int {
	name := "loopat loop " + args[0]
	fs := newFlags("loop " + args[0])
	var repo, vaultName *string
	if args[0] == "new" {
		repo = fs.String("repo", "", "")
		vaultName = fs.String("vault", "", "")
	}
	pos, code, ok := parse(fs, args[1:], loopUsage, env)
	if !ok {
		return code
	}
	switch args[0] {
	case "new":
		title := joinArgs(pos)
		if title == "" {
			return usageError(env, name, "a title is required", loopUsage)
		}
		meta, err := l.svc.Create(loops.CreateRequest{Title: title, Repo: *repo, Vault: *vaultName})
		if err != nil {
			return fail(env, name, err)
		}
		fmt.Fprintln(env.Stdout, meta.ID)
		if meta.Branch != "" {
			fmt.Fprintf(env.Stderr, "workdir: %s (branch %s)\n", l.workDir(meta.ID), meta.Branch)
		}
		return exitOK
	case "ls":
		if len(pos) > 0 {
			return usageError(env, name, fmt.Sprintf("unexpected argument %q", pos[0]), loopUsage)
		}
		list, err := l.svc.List()
		if err != nil {
			return fail(env, name, err)
		}
		tw := tabwriter.NewWriter(env.Stdout, 2, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tSTATUS\tCREATED\tTITLE")
		for _, m := range list {
			title := m.Title
			if m.Archived {
				title += " (archived)"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", m.ID, m.Status, m.Created.Local().Format("2006-01-02 15:04"), title)
		}
		_ = tw.Flush()
		return exitOK
	case "send":
		if len(pos) < 2 {
			return usageError(env, name, "an ID and a text are required", loopUsage)
		}
		return l.send(ctx, name, pos[0], joinArgs(pos[1:]), env)
	case "rm":
		if len(pos) != 1 {
			return usageError(env, name, "exactly one ID is required", loopUsage)
		}
		id, err := l.resolveID(pos[0])
		if err != nil {
			return fail(env, name, err)
		}
		if err := l.svc.Delete(id); err != nil {
			return fail(env, name, err)
		}
		fmt.Fprintln(env.Stdout, "deleted", id)
		return exitOK
	case "pending", "answer":
		return l.runPending(args[0], name, pos, env) // loop_answer.go
	}
	return usageError(env, "loopat loop", fmt.Sprintf("unknown command %q", args[0]), loopUsage)
}

// send sends text (stdin for "-") to the loop prefix names, waits for the turn and
// prints its reply, or its error and hint.
func (l loopCLI) send(ctx context.Context, name, prefix, text string, env Env) int {
	id, err := l.resolveID(prefix)
	if err != nil {
		return fail(env, name, err)
	}
	answers := env.Stdin // prompts of the turn are answered on stdin (loop_answer.go)
	if text == "-" {
		answers = strings.NewReader("") // stdin is the message: prompts are denied
		b, err := io.ReadAll(env.Stdin)
		if err != nil {
			return fail(env, name, fmt.Errorf("read stdin: %w", err))
		}
		text = string(b)
	}
	before, _ := l.svc.Messages(id)
	if _, err := l.svc.Send(id, text); err != nil {
		return fail(env, name, err)
	}
	if err := l.waitAnswering(ctx, id, answers, env); err != nil {
		return fail(env, name, fmt.Errorf("waiting for the reply: %w", err))
	}
	all, err := l.svc.Messages(id)
	if err != nil {
		return fail(env, name, err)
	}
	reply, errMsg := replyOf(all[min(len(before), len(all)):])
	if errMsg != "" {
		fmt.Fprintln(env.Stderr, errMsg)
		return exitFailed
	}
	fmt.Fprintln(env.Stdout, reply)
	return exitOK
}

// resolveID accepts a full id or a unique prefix.
func (l loopCLI) resolveID(prefix string) (string, error) {
	list, err := l.svc.List()
	if err != nil {
		return "", err
	}
	var found []string
	for _, m := range list {
		if m.ID == prefix {
			return m.ID, nil
		}
		if strings.HasPrefix(m.ID, prefix) {
			found = append(found, m.ID)
		}
	}
	switch len(found) {
	case 0:
		return "", fmt.Errorf("%w: %s", loops.ErrNotFound, prefix)
	case 1:
		return found[0], nil
	}
	return "", fmt.Errorf("loop id prefix %q is ambiguous (%d loops)", prefix, len(found))
}

// replyOf extracts the turn's reply (the result texts) or its error from new lines.
func replyOf(lines []json.RawMessage) (reply, errMsg string) {
	var replies []string
	for _, raw := range lines {
		var l struct {
			Type    string `json:"type"`
			Result  string `json:"result"`
			IsError bool   `json:"is_error"`
			Message string `json:"message"`
			Hint    string `json:"hint"`
		}
		if json.Unmarshal(raw, &l) != nil {
			continue
		}
		switch l.Type {
		case "result":
			if !l.IsError {
				replies = append(replies, l.Result)
			}
		case "error":
			errMsg = "error: " + l.Message
			if l.Hint != "" {
				errMsg += "\nhint: " + l.Hint
			}
		case "interrupted":
			errMsg = "the turn was interrupted"
		}
	}
	if len(replies) > 0 && errMsg == "" {
		return strings.Join(replies, "\n"), ""
	}
	return strings.Join(replies, "\n"), errMsg
}
