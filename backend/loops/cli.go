package loops

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
)

const cliUsage = `usage:
  loopat loop new <title> [--repo <path>] [--vault <name>]
  loopat loop ls
  loopat loop send <id> <text...>     (waits for the turn and prints the reply)
  loopat loop rm <id>
An id may be shortened to any unique prefix.
`

// RunCLI runs `loopat loop ...` (args after "loop") and returns the exit code.
func RunCLI(ctx context.Context, args []string, in io.Reader, out, errOut io.Writer, m *Manager) int {
	if len(args) > 0 && args[0] == "loop" {
		args = args[1:]
	}
	if len(args) == 0 {
		fmt.Fprint(errOut, cliUsage)
		return 2
	}
	fail := func(err error) int {
		fmt.Fprintln(errOut, "error:", err)
		return 1
	}
	switch args[0] {
	case "new":
		fs := flag.NewFlagSet("loop new", flag.ContinueOnError)
		fs.SetOutput(errOut)
		repo := fs.String("repo", "", "local git repository to work on (cloned on a new branch)")
		vault := fs.String("vault", "", "vault whose secrets the loop gets (default: default)")
		title, rest := leadingWords(args[1:])
		if err := fs.Parse(rest); err != nil {
			return 2
		}
		title = strings.TrimSpace(title + " " + strings.Join(fs.Args(), " "))
		if title == "" {
			fmt.Fprint(errOut, cliUsage)
			return 2
		}
		meta, err := m.Create(CreateRequest{Title: title, Repo: *repo, Vault: *vault})
		if err != nil {
			return fail(err)
		}
		fmt.Fprintln(out, meta.ID)
		if meta.Branch != "" {
			fmt.Fprintf(errOut, "workdir: %s (branch %s)\n", m.Store().WorkDir(meta.ID), meta.Branch)
		}
		return 0
	case "ls":
		list, err := m.List()
		if err != nil {
			return fail(err)
		}
		tw := tabwriter.NewWriter(out, 2, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tSTATUS\tCREATED\tTITLE")
		for _, l := range list {
			title := l.Title
			if l.Archived {
				title += " (archived)"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", l.ID, l.Status, l.Created.Local().Format("2006-01-02 15:04"), title)
		}
		_ = tw.Flush()
		return 0
	case "send":
		if len(args) < 3 {
			fmt.Fprint(errOut, cliUsage)
			return 2
		}
		id, err := m.resolveID(args[1])
		if err != nil {
			return fail(err)
		}
		text := strings.Join(args[2:], " ")
		if text == "-" {
			b, err := io.ReadAll(in)
			if err != nil {
				return fail(err)
			}
			text = string(b)
		}
		before, _ := m.Messages(id)
		if _, err := m.Send(id, text); err != nil {
			return fail(err)
		}
		if err := m.Wait(ctx, id); err != nil {
			return fail(fmt.Errorf("waiting for the reply: %w", err))
		}
		all, err := m.Messages(id)
		if err != nil {
			return fail(err)
		}
		reply, errMsg := replyOf(all[min(len(before), len(all)):])
		if errMsg != "" {
			fmt.Fprintln(errOut, errMsg)
			return 1
		}
		fmt.Fprintln(out, reply)
		return 0
	case "rm":
		if len(args) != 2 {
			fmt.Fprint(errOut, cliUsage)
			return 2
		}
		id, err := m.resolveID(args[1])
		if err != nil {
			return fail(err)
		}
		if err := m.Delete(id); err != nil {
			return fail(err)
		}
		fmt.Fprintln(out, "deleted", id)
		return 0
	case "help", "-h", "--help":
		fmt.Fprint(out, cliUsage)
		return 0
	}
	fmt.Fprintf(errOut, "unknown loop command %q\n%s", args[0], cliUsage)
	return 2
}

// leadingWords splits args into the words before the first flag and the rest.
func leadingWords(args []string) (string, []string) {
	for i, a := range args {
		if strings.HasPrefix(a, "-") {
			return strings.Join(args[:i], " "), args[i:]
		}
	}
	return strings.Join(args, " "), nil
}

// resolveID accepts a full id or a unique prefix.
func (m *Manager) resolveID(prefix string) (string, error) {
	list, err := m.List()
	if err != nil {
		return "", err
	}
	var found []string
	for _, l := range list {
		if l.ID == prefix {
			return l.ID, nil
		}
		if strings.HasPrefix(l.ID, prefix) {
			found = append(found, l.ID)
		}
	}
	switch len(found) {
	case 0:
		return "", fmt.Errorf("%w: %s", ErrNotFound, prefix)
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
