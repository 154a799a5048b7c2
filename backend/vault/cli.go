package vault

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
)

const cliUsage = `usage: loopat vault <command> [flags]

  ls [VAULT|--all]                          list secrets (names and metadata, never values)
  vaults                                    list vault names
  set [--vault V] NAME                      store an env secret; value from stdin or a hidden prompt
  set [--vault V] --file PATH [--mode 0600] store a file secret (PATH under the sandbox home); content from stdin
  rotate [--vault V] NAME | --file PATH     replace a secret's value, keeping its metadata
  rm [--vault V] NAME | --file PATH         delete a secret
  status                                    check that the OS keychain is usable

Values are never taken from the command line.
`

// RunCLI implements `loopat vault ...` and returns the process exit code.
func RunCLI(ctx context.Context, args []string, in io.Reader, out, errOut io.Writer, v *Vault) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprint(out, cliUsage)
		return 0
	}
	if err := ctx.Err(); err != nil {
		fmt.Fprintln(errOut, "loopat vault:", err)
		return 1
	}
	var err error
	switch args[0] {
	case "ls", "list":
		err = cliList(args[1:], out, v)
	case "vaults":
		var names []string
		if names, err = v.Vaults(); err == nil {
			fmt.Fprintln(out, strings.Join(names, "\n"))
		}
	case "set", "rotate":
		err = cliSet(args[0], args[1:], in, errOut, v)
	case "rm", "delete":
		err = cliRemove(args[1:], v)
	case "status":
		if err = v.Probe(); err == nil {
			fmt.Fprintln(out, "keychain ok")
		}
	default:
		fmt.Fprintf(errOut, "loopat vault: unknown command %q\n\n%s", args[0], cliUsage)
		return 2
	}
	if err != nil {
		var usage usageError
		if errors.As(err, &usage) {
			fmt.Fprintf(errOut, "loopat vault %s: %v\n\n%s", args[0], err, cliUsage)
			return 2
		}
		fmt.Fprintf(errOut, "loopat vault %s: %v\n", args[0], err)
		var ke *KeychainError
		if errors.As(err, &ke) && ke.Fix != "" {
			fmt.Fprintln(errOut, "fix:", ke.Fix)
		}
		return 1
	}
	return 0
}

type usageError struct{ error }

// parseInterleaved lets flags appear before or after the positional arguments.
func parseInterleaved(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, usageError{err}
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

func newFlags(name string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	return fs
}

func cliList(args []string, out io.Writer, v *Vault) error {
	fl := newFlags("ls")
	all := fl.Bool("all", false, "all vaults")
	pos, err := parseInterleaved(fl, args)
	if err != nil {
		return err
	}
	if len(pos) > 1 {
		return usageError{errors.New("ls takes at most one vault name")}
	}
	vault := DefaultVault
	if *all {
		vault = "*"
	} else if len(pos) == 1 {
		vault = pos[0]
	}
	items, err := v.List(vault)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "VAULT\tKIND\tNAME\tMODE\tSIZE\tUPDATED")
	for _, it := range items {
		mode := "-"
		if it.Kind == KindFile {
			mode = fmt.Sprintf("%04o", it.Mode)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%s\n", it.Vault, it.Kind, it.Name, mode, it.Size, it.Updated.Local().Format("2006-01-02 15:04"))
	}
	return tw.Flush()
}

func cliSet(cmd string, args []string, in io.Reader, errOut io.Writer, v *Vault) error {
	fl := newFlags(cmd)
	vault := fl.String("vault", DefaultVault, "vault name")
	file := fl.String("file", "", "file secret path under the sandbox home")
	isFile := fl.Bool("f", false, "the name is a file secret path")
	modeStr := fl.String("mode", "", "file permission bits, octal (default 0600)")
	pos, err := parseInterleaved(fl, args)
	if err != nil {
		return err
	}
	kind, name := KindEnv, ""
	switch {
	case *file != "" && len(pos) == 0:
		kind, name = KindFile, *file
	case *file == "" && len(pos) == 1:
		name = pos[0]
		if *isFile {
			kind = KindFile
		}
	default:
		if len(pos) > 1 {
			return usageError{errors.New("too many arguments: the value is read from stdin, never from the command line")}
		}
		return usageError{errors.New("give NAME, or --file PATH")}
	}
	var mode fs.FileMode
	if *modeStr != "" {
		if kind != KindFile {
			return usageError{errors.New("--mode applies to file secrets only")}
		}
		m, err := strconv.ParseUint(*modeStr, 8, 32)
		if err != nil || m > 0o777 {
			return usageError{fmt.Errorf("--mode %q: want octal permission bits such as 0600", *modeStr)}
		}
		mode = fs.FileMode(m)
	}
	// Validate before prompting, so a typo does not cost the user a paste.
	if err := checkKindName(kind, name); err != nil {
		return err
	}
	value, err := readValue(in, errOut, kind, name)
	if err != nil {
		return err
	}
	if cmd == "rotate" {
		if mode != 0 {
			return usageError{errors.New("rotate keeps the mode; use set to change it")}
		}
		return v.Rotate(*vault, kind, name, value)
	}
	if kind == KindFile {
		return v.SetFile(*vault, name, mode, []byte(value))
	}
	return v.SetEnv(*vault, name, value)
}

// readValue takes the secret from a hidden prompt when in is a terminal, else from all of in.
func readValue(in io.Reader, errOut io.Writer, kind, name string) (string, error) {
	if f, ok := in.(*os.File); ok && isTerminal(f) {
		if kind == KindFile {
			return "", errors.New("pipe the file content on stdin, e.g. `loopat vault set --file .ssh/id_ed25519 < ~/.ssh/id_ed25519`")
		}
		fmt.Fprintf(errOut, "value for %s (input hidden): ", name)
		val, err := readHidden(f)
		fmt.Fprintln(errOut)
		if err != nil {
			return "", fmt.Errorf("read value: %w", err)
		}
		if val == "" {
			return "", errors.New("empty value")
		}
		return val, nil
	}
	data, err := io.ReadAll(io.LimitReader(in, MaxValueSize+1))
	if err != nil {
		return "", fmt.Errorf("read value from stdin: %w", err)
	}
	val := string(data)
	if kind == KindEnv {
		// `echo secret | loopat vault set NAME` must not store the newline.
		val = strings.TrimSuffix(strings.TrimSuffix(val, "\n"), "\r")
	}
	if val == "" {
		return "", errors.New("empty value on stdin")
	}
	return val, nil
}

func cliRemove(args []string, v *Vault) error {
	fl := newFlags("rm")
	vault := fl.String("vault", DefaultVault, "vault name")
	file := fl.String("file", "", "file secret path")
	isFile := fl.Bool("f", false, "the name is a file secret path")
	pos, err := parseInterleaved(fl, args)
	if err != nil {
		return err
	}
	switch {
	case *file != "" && len(pos) == 0:
		return v.Delete(*vault, KindFile, *file)
	case *file == "" && len(pos) == 1 && *isFile:
		return v.Delete(*vault, KindFile, pos[0])
	case *file == "" && len(pos) == 1:
		return v.Delete(*vault, KindEnv, pos[0])
	}
	return usageError{errors.New("give NAME, or --file PATH")}
}
