// Package contextrepo manages the workspace's context repositories (knowledge, notes,
// personal): their main clones under LOOPAT_HOME/context/<name>, the origin they sync
// with (a configured remote, or a workspace-hosted bare repository in solo mode), the
// per-loop clones mounted into sandboxes (pull edge) and the way loop changes go back
// (promote edge, knowledge proposals).
//
// Git work goes through go-git over os.Root (safefs.BillyFS): no host file operation
// follows a link out of a repository. A loop's clone (which its sandbox writes) is only
// read in-process after its shape is checked (openLoopClone) and written back the same
// way; the git CLI never runs in it. The git CLI runs only `merge-tree` for three-way
// merges (go-git v5 only fast-forwards), in a host-private main clone with all config
// but the repository's own switched off (mergeTrees). go-git's file:// transport runs
// git-upload-pack/git-receive-pack in the host-private origins.
package contextrepo

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/go-git/go-git/v5"
	gitconfig "github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/transport"

	"github.com/loopat/desktop/backend/config"
	"github.com/loopat/desktop/backend/safefs"
	"github.com/loopat/desktop/backend/sandboxuser"
	"github.com/loopat/desktop/backend/vault"
)

// The context repositories.
const (
	Knowledge = "knowledge"
	Notes     = "notes"
	Personal  = "personal"
)

// Repos lists the context repositories in mount order.
var Repos = []string{Knowledge, Notes, Personal}

// ContainerRoot is where the repositories appear inside a sandbox: ContainerRoot/<name>.
const ContainerRoot = "/loopat/context"

// DefaultBranch is used for repositories loopat creates.
const DefaultBranch = "main"

// SandboxUID owns loop clones when we run as root (rootful podman), so the sandbox user
// can write and commit in them.
const SandboxUID = sandboxuser.UID

// Remote is where one context repository syncs. Credentials are vault secrets: an SSH
// private key file secret (ssh URLs) or an env secret holding a token (https URLs).
type Remote struct {
	URL        string `json:"url"`
	Vault      string `json:"vault,omitempty"`      // default "default"
	SSHKeyFile string `json:"sshKeyFile,omitempty"` // vault file secret path, e.g. ".ssh/id_ed25519"
	TokenEnv   string `json:"tokenEnv,omitempty"`   // vault env secret with an https token
	Username   string `json:"username,omitempty"`   // https user (default "x-access-token") or ssh user (default from URL, else "git")
	// KnownHosts holds known_hosts lines accepted for this remote. Empty means the
	// user's ~/.ssh/known_hosts decides.
	KnownHosts string `json:"knownHosts,omitempty"`
}

// Secrets yields vault values for remote credentials (vault.Vault implements it).
type Secrets interface {
	GetEnv(vault, name string) (string, error)
	GetFile(vault, path string) (vault.FileSecret, error)
}

// Mount is a host folder bound into a loop's sandbox. Its fields match loops.Mount, so
// a loops.Mount(m) conversion works.
type Mount struct {
	Source   string `json:"source"`
	Target   string `json:"target"`
	ReadOnly bool   `json:"readOnly"`
}

// Author signs commits loopat makes.
type Author struct {
	Name  string `json:"name"`
	Email string `json:"email"`
}

// DefaultAuthor signs commits when none is configured.
var DefaultAuthor = Author{Name: "loopat", Email: "loopat@loopat.local"}

// Options wire a Store.
type Options struct {
	Workspace config.Workspace
	Secrets   Secrets // nil = remotes without credentials only
	Author    Author  // zero = DefaultAuthor
	Log       *slog.Logger
	// FetchTimeout bounds a fetch at loop creation (default 15s); a failed fetch uses what is local.
	FetchTimeout time.Duration
}

// Store manages the three context repositories of one workspace.
type Store struct {
	opt   Options
	log   *slog.Logger
	locks map[string]*sync.Mutex
	mu    sync.Mutex // guards remotes.json
}

// New returns the Store of ws's context. Repositories are created on first use.
func New(opt Options) *Store {
	if opt.Log == nil {
		opt.Log = slog.Default()
	}
	if opt.Author.Name == "" || opt.Author.Email == "" {
		opt.Author = DefaultAuthor
	}
	if opt.FetchTimeout <= 0 {
		opt.FetchTimeout = 15 * time.Second
	}
	s := &Store{opt: opt, log: opt.Log.With("component", "contextrepo"), locks: map[string]*sync.Mutex{}}
	for _, r := range Repos {
		s.locks[r] = &sync.Mutex{}
	}
	return s
}

// Dir is the main clone of repo: LOOPAT_HOME/context/<repo>.
func (s *Store) Dir(repo string) string { return filepath.Join(s.opt.Workspace.Home, "context", repo) }

// OriginDir is the solo-mode bare origin of repo: LOOPAT_HOME/origins/<repo>.git.
func (s *Store) OriginDir(repo string) string {
	return filepath.Join(s.opt.Workspace.Home, "origins", repo+".git")
}

// LoopDir is a loop's clone of repo: LOOPAT_HOME/loops/<id>/context/<repo>.
func (s *Store) LoopDir(loopID, repo string) string {
	return filepath.Join(s.opt.Workspace.LoopsDir(), loopID, "context", repo)
}

func (s *Store) remotesPath() string {
	return filepath.Join(s.opt.Workspace.Home, "context", "remotes.json")
}

func checkRepo(repo string) error {
	for _, r := range Repos {
		if r == repo {
			return nil
		}
	}
	return fmt.Errorf("unknown context repository %q (want knowledge, notes or personal)", repo)
}

func (s *Store) lock(repo string) func() {
	l := s.locks[repo]
	l.Lock()
	return l.Unlock
}

// Remotes returns the configured remotes by repository name.
func (s *Store) Remotes() (map[string]Remote, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.loadRemotes()
}

func (s *Store) loadRemotes() (map[string]Remote, error) {
	m := map[string]Remote{}
	b, err := os.ReadFile(s.remotesPath())
	if errors.Is(err, os.ErrNotExist) {
		return m, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read context remotes: %w", err)
	}
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("parse %s: %w", s.remotesPath(), err)
	}
	return m, nil
}

// SetRemote configures (or, with an empty URL, removes) repo's remote. It applies to a
// main clone made afterwards; an existing clone has its origin URL changed too.
func (s *Store) SetRemote(repo string, r Remote) error {
	if err := checkRepo(repo); err != nil {
		return err
	}
	if r.URL != "" {
		if _, err := transport.NewEndpoint(r.URL); err != nil {
			return fmt.Errorf("remote URL %q: %w", r.URL, err)
		}
	}
	s.mu.Lock()
	m, err := s.loadRemotes()
	if err == nil {
		if r.URL == "" {
			delete(m, repo)
		} else {
			m[repo] = r
		}
		err = writeJSON(s.remotesPath(), m)
	}
	s.mu.Unlock()
	if err != nil {
		return err
	}
	defer s.lock(repo)()
	g, err := openConfined(s.Dir(repo), false)
	if errors.Is(err, errNoRepo) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("open %s: %w", repo, err)
	}
	defer g.Close()
	url := r.URL
	if url == "" {
		if err := s.ensureOrigin(repo); err != nil {
			return err
		}
		url = s.OriginDir(repo)
	}
	_ = g.DeleteRemote("origin")
	if _, err := g.CreateRemote(&gitconfig.RemoteConfig{Name: "origin", URLs: []string{url}}); err != nil {
		return fmt.Errorf("set origin of %s: %w", repo, err)
	}
	return nil
}

func writeJSON(p string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		return fmt.Errorf("create %s: %w", filepath.Dir(p), err)
	}
	root, err := os.OpenRoot(filepath.Dir(p))
	if err != nil {
		return err
	}
	defer root.Close()
	if err := safefs.NewBilly(root, filepath.Dir(p)).WriteFileAtomic(filepath.Base(p), b, 0o600); err != nil {
		return fmt.Errorf("write %s: %w", p, err)
	}
	return nil
}

// remote returns repo's origin: the configured remote, or the solo bare origin.
func (s *Store) remote(repo string) (Remote, bool, error) {
	m, err := s.Remotes()
	if err != nil {
		return Remote{}, false, err
	}
	if r, ok := m[repo]; ok && r.URL != "" {
		return r, false, nil
	}
	return Remote{URL: s.OriginDir(repo)}, true, nil
}

// seeds are the files a new repository starts with.
var seeds = map[string]map[string]string{
	Knowledge: {"README.md": "# Knowledge\n\nCurated team knowledge. Loops read it; changes arrive as proposals you review.\n"},
	Notes: {
		"memory/MEMORY.md":                 "# Team memory\n\nOne line per memory file in this folder.\n",
		"focus/boards/default/todo.md":     "# To do\n",
		"focus/boards/default/doing.md":    "# Doing\n",
		"focus/boards/default/done.md":     "# Done\n",
		"focus/boards/default/config.yaml": "columns:\n  - file: todo.md\n  - file: doing.md\n  - file: done.md\n",
	},
	Personal: {"memory/MEMORY.md": "# Personal memory index\n"},
}

// Ensure creates repo's origin (solo) and main clone, seeding a new repository.
func (s *Store) Ensure(ctx context.Context, repo string) error {
	if err := checkRepo(repo); err != nil {
		return err
	}
	defer s.lock(repo)()
	g, err := s.ensure(ctx, repo)
	g.Close()
	return err
}

// EnsureAll ensures all three repositories.
func (s *Store) EnsureAll(ctx context.Context) error {
	for _, r := range Repos {
		if err := s.Ensure(ctx, r); err != nil {
			return err
		}
	}
	return nil
}

func (s *Store) ensureOrigin(repo string) error {
	dir := s.OriginDir(repo)
	if _, err := git.PlainOpen(dir); err == nil {
		return nil
	}
	_, err := git.PlainInitWithOptions(dir, &git.PlainInitOptions{
		Bare: true, InitOptions: git.InitOptions{DefaultBranch: plumbing.NewBranchReferenceName(DefaultBranch)},
	})
	if err != nil {
		return fmt.Errorf("create solo origin %s: %w", dir, err)
	}
	return nil
}

// ensure is Ensure under the repo lock; it returns the opened main clone (confined to
// its folder; the caller closes it). Main clones are host-private: never mounted into
// a loop.
func (s *Store) ensure(ctx context.Context, repo string) (*confinedRepo, error) {
	dir := s.Dir(repo)
	g, err := openConfined(dir, false)
	if err == nil {
		return g, nil
	}
	if !errors.Is(err, errNoRepo) {
		return nil, fmt.Errorf("open %s: %w", repo, err)
	}
	rem, solo, err := s.remote(repo)
	if err != nil {
		return nil, err
	}
	if solo {
		if err := s.ensureOrigin(repo); err != nil {
			return nil, err
		}
	}
	auth, err := s.auth(rem)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Dir(dir), 0o700); err != nil {
		return nil, fmt.Errorf("create context folder: %w", err)
	}
	_ = os.RemoveAll(dir)
	if g, err = newConfined(dir); err != nil {
		return nil, fmt.Errorf("create %s: %w", repo, err)
	}
	g.Repository, err = git.CloneContext(ctx, g.storage, g.wt, &git.CloneOptions{URL: rem.URL, Auth: auth})
	switch {
	case errors.Is(err, transport.ErrEmptyRemoteRepository):
		g.Close()
		_ = os.RemoveAll(dir)
		if g, err = initConfined(dir, DefaultBranch); err != nil {
			return nil, fmt.Errorf("init %s: %w", repo, err)
		}
		if _, err := g.CreateRemote(&gitconfig.RemoteConfig{Name: "origin", URLs: []string{rem.URL}}); err != nil {
			g.Close()
			return nil, fmt.Errorf("set origin of %s: %w", repo, err)
		}
	case err != nil:
		g.Close()
		_ = os.RemoveAll(dir)
		return nil, fmt.Errorf("clone %s from %s: %w", repo, rem.URL, err)
	}
	if _, err := g.Head(); err == nil {
		return g, nil // an existing team repository: no seed
	}
	if err := s.seed(ctx, repo, g, rem, auth); err != nil {
		g.Close()
		return nil, err
	}
	return g, nil
}

func (s *Store) seed(ctx context.Context, repo string, g *confinedRepo, rem Remote, auth transport.AuthMethod) error {
	for name, content := range seeds[repo] {
		if err := g.wt.WriteFileAtomic(name, []byte(content), 0o644); err != nil {
			return fmt.Errorf("seed %s: %w", repo, err)
		}
	}
	if _, err := s.commitAll(g, "loopat: start "+repo); err != nil {
		return fmt.Errorf("seed %s: %w", repo, err)
	}
	br, err := defaultBranch(g.Repository)
	if err != nil {
		return err
	}
	if err := s.push(ctx, g.Repository, rem, auth, br, br, false); err != nil {
		// The seed stays local and is pushed with the next Push.
		s.log.Warn("push seed", "repo", repo, "err", err)
	}
	return nil
}

// open returns the main clone, creating it if needed. Callers hold the repo lock and
// close it.
func (s *Store) open(repo string) (*confinedRepo, error) {
	if err := checkRepo(repo); err != nil {
		return nil, err
	}
	return s.ensure(context.Background(), repo)
}

func (s *Store) signature() *object.Signature {
	return &object.Signature{Name: s.opt.Author.Name, Email: s.opt.Author.Email, When: time.Now()}
}
