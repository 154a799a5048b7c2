package contextrepo

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/go-git/go-git/v5"
	gitconfig "github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/transport"
	githttp "github.com/go-git/go-git/v5/plumbing/transport/http"
	gitssh "github.com/go-git/go-git/v5/plumbing/transport/ssh"
	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"

	"github.com/loopat/desktop/backend/gitcommit"
	"github.com/loopat/desktop/backend/vault"
)

// auth builds go-git credentials for r from the vault.
func (s *Store) auth(r Remote) (transport.AuthMethod, error) {
	ep, err := transport.NewEndpoint(r.URL)
	if err != nil {
		return nil, fmt.Errorf("remote URL %q: %w", r.URL, err)
	}
	v := r.Vault
	if v == "" {
		v = vault.DefaultVault
	}
	switch ep.Protocol {
	case "ssh":
		if r.SSHKeyFile == "" {
			return nil, nil // ssh-agent / default keys via go-git's defaults
		}
		if s.opt.Secrets == nil {
			return nil, errors.New("remote needs a vault key but no vault is configured")
		}
		key, err := s.opt.Secrets.GetFile(v, r.SSHKeyFile)
		if err != nil {
			return nil, fmt.Errorf("ssh key %s from vault %s: %w", r.SSHKeyFile, v, err)
		}
		user := r.Username
		if user == "" {
			user = ep.User
		}
		if user == "" {
			user = "git"
		}
		pk, err := gitssh.NewPublicKeys(user, key.Value, "")
		if err != nil {
			return nil, fmt.Errorf("ssh key %s: %w", r.SSHKeyFile, err)
		}
		if r.KnownHosts != "" {
			cb, err := knownHostsCallback(r.KnownHosts)
			if err != nil {
				return nil, err
			}
			pk.HostKeyCallback = cb
			// Ask only for the listed key types: a server offering another type first
			// would otherwise fail the check with a key mismatch.
			pk.HostKeyAlgorithms = hostKeyAlgorithms(r.KnownHosts)
		}
		return pk, nil
	case "http", "https":
		if r.TokenEnv == "" {
			return nil, nil
		}
		if s.opt.Secrets == nil {
			return nil, errors.New("remote needs a vault token but no vault is configured")
		}
		tok, err := s.opt.Secrets.GetEnv(v, r.TokenEnv)
		if err != nil {
			return nil, fmt.Errorf("token %s from vault %s: %w", r.TokenEnv, v, err)
		}
		user := r.Username
		if user == "" {
			user = "x-access-token"
		}
		return &githttp.BasicAuth{Username: user, Password: strings.TrimRight(tok, "\r\n")}, nil
	}
	return nil, nil
}

// knownHostsCallback accepts exactly the host keys listed in lines (known_hosts format).
func knownHostsCallback(lines string) (ssh.HostKeyCallback, error) {
	f, err := os.CreateTemp("", "loopat-known-hosts-")
	if err != nil {
		return nil, fmt.Errorf("known hosts: %w", err)
	}
	defer os.Remove(f.Name())
	if _, err := f.WriteString(lines + "\n"); err != nil {
		f.Close()
		return nil, fmt.Errorf("known hosts: %w", err)
	}
	f.Close()
	cb, err := knownhosts.New(f.Name())
	if err != nil {
		return nil, fmt.Errorf("parse known hosts: %w", err)
	}
	return cb, nil
}

// hostKeyAlgorithms lists the key types in known_hosts lines.
func hostKeyAlgorithms(lines string) []string {
	var out []string
	seen := map[string]bool{}
	add := func(a string) {
		if !seen[a] {
			seen[a] = true
			out = append(out, a)
		}
	}
	rest := []byte(lines)
	for len(rest) > 0 {
		_, _, key, _, r, err := ssh.ParseKnownHosts(rest)
		if err != nil {
			break
		}
		rest = r
		if key.Type() == ssh.KeyAlgoRSA {
			add(ssh.KeyAlgoRSASHA512)
			add(ssh.KeyAlgoRSASHA256)
		}
		add(key.Type())
	}
	return out
}

// defaultBranch is the branch HEAD names (checked out or unborn).
func defaultBranch(g *git.Repository) (string, error) {
	ref, err := g.Storer.Reference(plumbing.HEAD)
	if err != nil {
		return "", fmt.Errorf("read HEAD: %w", err)
	}
	if ref.Type() == plumbing.SymbolicReference {
		return ref.Target().Short(), nil
	}
	return DefaultBranch, nil
}

// commitAll stages everything in a main clone (host-private, confined) and commits; it
// returns "" when there was nothing to commit. Loop clones are never staged with
// go-git: their worktree is snapshotted through os.Root (snapshotter).
func (s *Store) commitAll(g *confinedRepo, msg string) (string, error) {
	h, err := gitcommit.All(g.Repository, msg, gitcommit.Author(s.opt.Author))
	if errors.Is(err, gitcommit.ErrNothing) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	return h.String(), nil
}

// anonRemote talks to url without storing it in g's config (loop clones keep no host paths).
func anonRemote(g *git.Repository, url string) *git.Remote {
	return git.NewRemote(g.Storer, &gitconfig.RemoteConfig{Name: "origin", URLs: []string{url}})
}

// fetchBranch fetches origin's branch into refs/remotes/origin/<branch> of g.
func fetchBranch(ctx context.Context, g *git.Repository, r Remote, auth transport.AuthMethod, branch string) error {
	spec := gitconfig.RefSpec(fmt.Sprintf("+refs/heads/%s:refs/remotes/origin/%s", branch, branch))
	err := anonRemote(g, r.URL).FetchContext(ctx, &git.FetchOptions{RemoteName: "origin", RefSpecs: []gitconfig.RefSpec{spec}, Auth: auth})
	if err != nil && !errors.Is(err, git.NoErrAlreadyUpToDate) {
		return err
	}
	return nil
}

// push sends local ref src (a branch name or full ref) to dst (branch name or full ref) at r.
func (s *Store) push(ctx context.Context, g *git.Repository, r Remote, auth transport.AuthMethod, src, dst string, force bool) error {
	spec := fullRef(src) + ":" + fullRef(dst)
	if src == "" {
		spec = ":" + fullRef(dst)
	}
	if force {
		spec = "+" + spec
	}
	err := anonRemote(g, r.URL).PushContext(ctx, &git.PushOptions{RemoteName: "origin", RefSpecs: []gitconfig.RefSpec{gitconfig.RefSpec(spec)}, Auth: auth})
	if err != nil && !errors.Is(err, git.NoErrAlreadyUpToDate) {
		return err
	}
	return nil
}

func fullRef(name string) string {
	if strings.HasPrefix(name, "refs/") {
		return name
	}
	return "refs/heads/" + name
}

func refHash(g *git.Repository, name string) (plumbing.Hash, error) {
	ref, err := g.Reference(plumbing.ReferenceName(name), true)
	if err != nil {
		return plumbing.ZeroHash, err
	}
	return ref.Hash(), nil
}

// ancestors returns every commit reachable from h.
func ancestors(g *git.Repository, h plumbing.Hash) (map[plumbing.Hash]bool, error) {
	seen := map[plumbing.Hash]bool{}
	if h.IsZero() {
		return seen, nil
	}
	stack := []plumbing.Hash{h}
	for len(stack) > 0 {
		c := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if seen[c] {
			continue
		}
		seen[c] = true
		co, err := g.CommitObject(c)
		if err != nil {
			return nil, fmt.Errorf("read commit %s: %w", c, err)
		}
		stack = append(stack, co.ParentHashes...)
	}
	return seen, nil
}

// aheadBehind counts commits in a not in b, and in b not in a.
func aheadBehind(g *git.Repository, a, b plumbing.Hash) (ahead, behind int, err error) {
	sa, err := ancestors(g, a)
	if err != nil {
		return 0, 0, err
	}
	sb, err := ancestors(g, b)
	if err != nil {
		return 0, 0, err
	}
	for h := range sa {
		if !sb[h] {
			ahead++
		}
	}
	for h := range sb {
		if !sa[h] {
			behind++
		}
	}
	return ahead, behind, nil
}

// ErrConflict is returned (wrapped in *ConflictError) when a merge conflicts.
var ErrConflict = errors.New("merge conflict")

// ConflictError lists the files a merge could not combine. The branch being merged into
// is left exactly as it was.
type ConflictError struct {
	Files []string
}

func (e *ConflictError) Error() string {
	return fmt.Sprintf("merge conflict in %s", strings.Join(e.Files, ", "))
}

func (e *ConflictError) Unwrap() error { return ErrConflict }

// isAncestor reports whether a is reachable from b.
func isAncestor(g *git.Repository, a, b plumbing.Hash) (bool, error) {
	if a == b {
		return true, nil
	}
	ca, err := g.CommitObject(a)
	if err != nil {
		return false, err
	}
	cb, err := g.CommitObject(b)
	if err != nil {
		return false, err
	}
	return ca.IsAncestor(cb)
}

// changedFiles lists paths that differ between two commits' trees.
func changedFiles(g *git.Repository, from, to plumbing.Hash) ([]string, error) {
	a, err := treeOf(g, from)
	if err != nil {
		return nil, err
	}
	b, err := treeOf(g, to)
	if err != nil {
		return nil, err
	}
	ch, err := object.DiffTree(a, b)
	if err != nil {
		return nil, fmt.Errorf("diff trees: %w", err)
	}
	var files []string
	for _, c := range ch {
		name := c.To.Name
		if name == "" {
			name = c.From.Name
		}
		files = append(files, name)
	}
	return files, nil
}

func treeOf(g *git.Repository, h plumbing.Hash) (*object.Tree, error) {
	if h.IsZero() {
		return &object.Tree{}, nil
	}
	c, err := g.CommitObject(h)
	if err != nil {
		return nil, fmt.Errorf("read commit %s: %w", h, err)
	}
	return c.Tree()
}
