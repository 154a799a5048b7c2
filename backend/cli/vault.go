package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"

	"golang.org/x/term"

	"github.com/loopat/desktop/backend/services"
	"github.com/loopat/desktop/backend/vault"
)

const vaultUsage = `usage: loopat vault <command> [flags]

  ls [VAULT|--all]                          list secrets (names and metadata, never values)
  vaults                                    list vault names
  set [--vault V] NAME                      store an env secret; value from stdin or a hidden prompt
  set [--vault V] --file PATH [--mode 0600] store a file secret (PATH under the sandbox home); content from stdin
  rotate [--vault V] NAME | --file PATH     replace a secret's value, keeping its metadata
  rm [--vault V] NAME | --file PATH         delete a secret
  status                                    check that the OS keychain is usable

  -f   NAME is a file secret path (same as --file NAME)

Values are never taken from the command line.
`

func vaultHelp(w io.Writer) { fmt.Fprint(w, vaultUsage) }

// vaultAPI is what `loopat vault` drives: services.VaultService, the UI's vault API.
type vaultAPI interface {
	Vaults() ([]string, error)
	List(vaultName string) ([]vault.Item, error)
	SetEnv(vaultName, name, value string) error
	SetFile(vaultName, path string, mode int, value string) error
	Rotate(vaultName, kind, name, value string) error
	Delete(vaultName, kind, name string) error
	Status() (services.KeychainStatus, error)
}

// vaultReq is one parsed `loopat vault` command line.
type vaultReq struct {
	cmd        string // ls, vaults, set, rotate, rm, status (aliases resolved)
	vault      string
	kind, name string // set, rotate, rm
	mode       int    // set --mode; 0 = the default 0600
}

var vaultAliases = map[string]string{"ls": "ls", "list": "ls", "vaults": "vaults", "set": "set",
	"rotate": "rotate", "rm": "rm", "delete": "rm", "status": "status"}

func runVault(ctx context.Context, args []string, env Env) int {
	req, code, ok := parseVault(args, env)
	if !ok {
		return code
	}
	c := openCore(ctx, env, "vault", false)
	if c == nil {
		return exitFailed
	}
	defer c.Close()
	return vaultCLI{svc: services.NewVaultService(c.Vault, c.Bus, c.Scrub)}.run(req, env)
}

// parseVault checks the command line before the workspace or keychain is touched.
func parseVault(args []string, env Env) (req vaultReq, code int, ok bool) {
	if len(args) == 0 {
		return req, usageError(env, "loopat vault", "missing command", vaultUsage), false
	}
	req.cmd, ok = vaultAliases[args[0]]
	if !ok {
		return req, usageError(env, "loopat vault", fmt.Sprintf("unknown command %q", args[0]), vaultUsage), false
	}
	name := "loopat vault " + args[0]
	bad := func(problem string) (vaultReq, int, bool) {
		return req, usageError(env, name, problem, vaultUsage), false
	}
	fs := newFlags("vault " + args[0])
	var all, isFile *bool
	var vaultName, file, modeStr *string
	switch req.cmd {
	case "ls":
		all = fs.Bool("all", false, "")
	case "set", "rotate", "rm":
		vaultName = fs.String("vault", vault.DefaultVault, "")
		file = fs.String("file", "", "")
		isFile = fs.Bool("f", false, "")
		if req.cmd != "rm" {
			modeStr = fs.String("mode", "", "")
		}
	}
	pos, code, ok := parse(fs, args[1:], vaultUsage, env)
	if !ok {
		return req, code, false
	}
	switch req.cmd {
	case "vaults", "status":
		if len(pos) > 0 {
			return bad(fmt.Sprintf("unexpected argument %q", pos[0]))
		}
	case "ls":
		if len(pos) > 1 {
			return bad("ls takes at most one vault name")
		}
		req.vault = vault.DefaultVault
		if *all {
			req.vault = "*"
		} else if len(pos) == 1 {
			req.vault = pos[0]
		}
	case "set", "rotate", "rm":
		req.vault, req.kind = *vaultName, vault.KindEnv
		switch {
		case *file != "" && len(pos) == 0:
			req.kind, req.name = vault.KindFile, *file
		case *file == "" && len(pos) == 1:
			req.name = pos[0]
			if *isFile {
				req.kind = vault.KindFile
			}
		case len(pos) > 1:
			return bad("too many arguments: the value is read from stdin, never from the command line")
		default:
			return bad("give NAME, or --file PATH")
		}
		if modeStr != nil && *modeStr != "" {
			if req.cmd == "rotate" {
				return bad("rotate keeps the mode; use set to change it")
			}
			if req.kind != vault.KindFile {
				return bad("--mode applies to file secrets only")
			}
			m, err := strconv.ParseUint(*modeStr, 8, 32)
			if err != nil || m > 0o777 {
				return bad(fmt.Sprintf("--mode %q: want octal permission bits such as 0600", *modeStr))
			}
			req.mode = int(m)
		}
	}
	return req, exitOK, true
}

// vaultCLI is `loopat vault` over the vault service.
type vaultCLI struct{ svc vaultAPI }

func (v vaultCLI) run(req vaultReq, env Env) int {
	name := "loopat vault " + req.cmd
	switch req.cmd {
	case "ls":
		items, err := v.svc.List(req.vault)
		if err != nil {
			return fail(env, name, err)
		}
		tw := tabwriter.NewWriter(env.Stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "VAULT\tKIND\tNAME\tMODE\tSIZE\tUPDATED")
		for _, it := range items {
			mode := "-"
			if it.Kind == vault.KindFile {
				mode = fmt.Sprintf("%04o", it.Mode)
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%s\n", it.Vault, it.Kind, it.Name, mode, it.Size, it.Updated.Local().Format("2006-01-02 15:04"))
		}
		_ = tw.Flush()
	case "vaults":
		names, err := v.svc.Vaults()
		if err != nil {
			return fail(env, name, err)
		}
		fmt.Fprintln(env.Stdout, strings.Join(names, "\n"))
	case "status":
		st, err := v.svc.Status()
		if err != nil {
			return fail(env, name, err)
		}
		if !st.OK {
			fmt.Fprintf(env.Stderr, "%s: %s\n", name, st.Message)
			if st.Fix != "" {
				fmt.Fprintln(env.Stderr, "fix:", st.Fix)
			}
			return exitFailed
		}
		fmt.Fprintln(env.Stdout, "keychain ok")
	case "set", "rotate":
		// Check the name before prompting, so a typo does not cost the user a paste.
		if err := checkSecretName(req.kind, req.name); err != nil {
			return fail(env, name, err)
		}
		value, err := readSecretValue(env, req.kind, req.name)
		if err != nil {
			return fail(env, name, err)
		}
		switch {
		case req.cmd == "rotate":
			err = v.svc.Rotate(req.vault, req.kind, req.name, value)
		case req.kind == vault.KindFile:
			err = v.svc.SetFile(req.vault, req.name, req.mode, value)
		default:
			err = v.svc.SetEnv(req.vault, req.name, value)
		}
		if err != nil {
			return fail(env, name, err)
		}
	case "rm":
		if err := v.svc.Delete(req.vault, req.kind, req.name); err != nil {
			return fail(env, name, err)
		}
	}
	return exitOK
}

func checkSecretName(kind, name string) error {
	if kind == vault.KindFile {
		return vault.CheckFilePath(name)
	}
	return vault.CheckEnvName(name)
}

// readSecretValue takes the secret from a hidden prompt when stdin is a terminal, else
// from all of stdin.
func readSecretValue(env Env, kind, name string) (string, error) {
	if f, ok := env.Stdin.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		if kind == vault.KindFile {
			return "", errors.New("pipe the file content on stdin, e.g. `loopat vault set --file .ssh/id_ed25519 < ~/.ssh/id_ed25519`")
		}
		fmt.Fprintf(env.Stderr, "value for %s (input hidden): ", name)
		b, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(env.Stderr)
		if err != nil {
			return "", fmt.Errorf("read value: %w", err)
		}
		if val := strings.TrimRight(string(b), "\r"); val != "" {
			return val, nil
		}
		return "", errors.New("empty value")
	}
	data, err := io.ReadAll(io.LimitReader(env.Stdin, vault.MaxValueSize+1))
	if err != nil {
		return "", fmt.Errorf("read value from stdin: %w", err)
	}
	val := string(data)
	if kind == vault.KindEnv {
		// `echo secret | loopat vault set NAME` must not store the newline.
		val = strings.TrimSuffix(strings.TrimSuffix(val, "\n"), "\r")
	}
	if val == "" {
		return "", errors.New("empty value on stdin")
	}
	return val, nil
}
