package loops

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/google/uuid"

	"github.com/loopat/desktop/backend/sandboxuser"
)

// ErrNotFound is returned for an unknown loop id.
var ErrNotFound = errors.New("loop not found")

var idPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{5,63}$`)

// Store is the on-disk loop model under LOOPAT_HOME/loops.
type Store struct {
	root string
	mu   sync.Mutex // serialises meta read-modify-write
}

// NewStore opens (and creates) the loops folder.
func NewStore(root string) (*Store, error) {
	if err := os.MkdirAll(root, 0o700); err != nil {
		return nil, fmt.Errorf("create loops folder: %w", err)
	}
	return &Store{root: root}, nil
}

// Dir is the loop's folder; it validates id so no path can escape the loops folder.
func (s *Store) Dir(id string) (string, error) {
	if !idPattern.MatchString(id) {
		return "", fmt.Errorf("invalid loop id %q", id)
	}
	return filepath.Join(s.root, id), nil
}

func (s *Store) WorkDir(id string) string { return filepath.Join(s.root, id, "workdir") }
func (s *Store) HomeDir(id string) string { return filepath.Join(s.root, id, "home") }

// Transcript returns the loop's messages.jsonl.
func (s *Store) Transcript(id string) *Transcript {
	return NewTranscript(filepath.Join(s.root, id, "messages.jsonl"))
}

// NewLoop describes a loop to create.
type NewLoop struct {
	Title, Repo, Vault, Provider, Model, PermissionMode string
	Warm                                                bool // prepared ahead (warm.go)
}

// Create makes the loop folder, its workdir (a local clone of Repo on a fresh branch
// loop/<slug>-<id6>, or empty) and its sandbox home.
func (s *Store) Create(n NewLoop) (Meta, error) {
	title := strings.TrimSpace(n.Title)
	if title == "" {
		return Meta{}, errors.New("a loop needs a title")
	}
	id := uuid.NewString()
	dir := filepath.Join(s.root, id)
	m := Meta{
		ID: id, Title: title, Created: time.Now().UTC(), Status: StatusIdle, Vault: n.Vault,
		Provider: n.Provider, Model: n.Model, PermissionMode: n.PermissionMode, Usage: LoopUsage{ByModel: map[string]ModelUsage{}},
		Warm: n.Warm,
	}
	if m.Vault == "" {
		m.Vault = "default"
	}
	if err := os.MkdirAll(s.HomeDir(id), 0o755); err != nil {
		return Meta{}, fmt.Errorf("create loop: %w", err)
	}
	cleanup := func() { _ = os.RemoveAll(dir) }
	if n.Repo != "" {
		branch, err := cloneOnBranch(n.Repo, s.WorkDir(id), BranchName(title, id))
		if err != nil {
			cleanup()
			return Meta{}, err
		}
		abs, _ := filepath.Abs(n.Repo)
		m.Repo, m.Branch = abs, branch
	} else if err := os.MkdirAll(s.WorkDir(id), 0o755); err != nil {
		cleanup()
		return Meta{}, fmt.Errorf("create loop workdir: %w", err)
	}
	if err := chownForSandbox(s.WorkDir(id), s.HomeDir(id)); err != nil {
		cleanup()
		return Meta{}, err
	}
	if err := writeMeta(dir, m); err != nil {
		cleanup()
		return Meta{}, err
	}
	return m, nil
}

// Get reads a loop's meta.
func (s *Store) Get(id string) (Meta, error) {
	dir, err := s.Dir(id)
	if err != nil {
		return Meta{}, err
	}
	m, err := readMeta(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return Meta{}, fmt.Errorf("%w: %s", ErrNotFound, id)
	}
	return m, err
}

// Update applies fn to the loop's meta and saves it atomically.
func (s *Store) Update(id string, fn func(*Meta)) (Meta, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m, err := s.Get(id)
	if err != nil {
		return Meta{}, err
	}
	fn(&m)
	if err := writeMeta(filepath.Join(s.root, id), m); err != nil {
		return Meta{}, err
	}
	return m, nil
}

// List returns all loops, newest first. Unreadable folders are skipped with their error logged by the caller.
func (s *Store) List() ([]Meta, error) {
	entries, err := os.ReadDir(s.root)
	if err != nil {
		return nil, fmt.Errorf("list loops: %w", err)
	}
	out := []Meta{}
	for _, e := range entries {
		if !e.IsDir() || !idPattern.MatchString(e.Name()) {
			continue
		}
		m, err := readMeta(filepath.Join(s.root, e.Name()))
		if err != nil {
			continue
		}
		out = append(out, m)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Created.After(out[j].Created) })
	return out, nil
}

// Delete removes the loop's folder.
func (s *Store) Delete(id string) error {
	dir, err := s.Dir(id)
	if err != nil {
		return err
	}
	if _, err := os.Stat(filepath.Join(dir, "meta.json")); err != nil {
		return fmt.Errorf("%w: %s", ErrNotFound, id)
	}
	if err := os.RemoveAll(dir); err != nil {
		return fmt.Errorf("delete loop folder: %w", err)
	}
	return nil
}

// BranchName is loop/<slug>-<id6>.
func BranchName(title, id string) string {
	id6 := strings.ReplaceAll(id, "-", "")
	if len(id6) > 6 {
		id6 = id6[:6]
	}
	slug := Slug(title)
	if slug == "" {
		return "loop/" + id6
	}
	return "loop/" + slug + "-" + id6
}

// Slug is a lowercase a-z0-9 dash form of title, at most 32 characters.
func Slug(title string) string {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(title) {
		if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') {
			b.WriteRune(r)
			dash = false
		} else if !dash && b.Len() > 0 {
			b.WriteByte('-')
			dash = true
		}
		if b.Len() >= 32 {
			break
		}
	}
	return strings.Trim(b.String(), "-")
}

// cloneOnBranch clones a local repository (go-git cannot add linked worktrees, and a
// worktree's absolute gitdir pointer would break inside the container) and checks out a
// new branch from its HEAD.
func cloneOnBranch(repo, dest, branch string) (string, error) {
	abs, err := filepath.Abs(repo)
	if err != nil {
		return "", fmt.Errorf("repo path %q: %w", repo, err)
	}
	if _, err := git.PlainOpen(abs); err != nil {
		return "", fmt.Errorf("%s is not a git repository: %w", abs, err)
	}
	r, err := git.PlainClone(dest, false, &git.CloneOptions{URL: abs})
	if err != nil {
		return "", fmt.Errorf("clone %s: %w", abs, err)
	}
	head, err := r.Head()
	if err != nil {
		return "", fmt.Errorf("repository %s has no commit to branch from: %w", abs, err)
	}
	wt, err := r.Worktree()
	if err != nil {
		return "", fmt.Errorf("open clone: %w", err)
	}
	if err := wt.Checkout(&git.CheckoutOptions{Hash: head.Hash(), Branch: plumbing.NewBranchReferenceName(branch), Create: true}); err != nil {
		return "", fmt.Errorf("create branch %s: %w", branch, err)
	}
	return branch, nil
}

// chownForSandbox gives the sandbox user the loop's folders (sandboxuser.Give: only when
// we run as root; rootless podman maps our uid with keep-id instead).
func chownForSandbox(dirs ...string) error {
	for _, d := range dirs {
		if err := sandboxuser.Give(d); err != nil {
			return err
		}
	}
	return nil
}
