package contextrepo

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"unicode/utf8"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"

	"github.com/loopat/desktop/backend/safefs"
)

// MaxReadSize caps a file returned by Read.
const MaxReadSize = 1 << 20

// Entry is one item of a folder listing.
type Entry struct {
	Name string `json:"name"`
	Path string `json:"path"` // slash-separated, relative to the repository
	Dir  bool   `json:"dir"`
	Size int64  `json:"size"`
}

// File is a file's content for the viewer.
type File struct {
	Path      string `json:"path"`
	Content   string `json:"content"`
	Size      int64  `json:"size"`
	Binary    bool   `json:"binary"`
	Truncated bool   `json:"truncated"`
}

// Hit is one search match; Line 0 means the file name matched.
type Hit struct {
	Path string `json:"path"`
	Line int    `json:"line"`
	Text string `json:"text"`
}

// MaxHits caps a search.
const MaxHits = 200

// SyncStatus compares a main clone with its origin.
type SyncStatus struct {
	Repo       string `json:"repo"`
	Branch     string `json:"branch"`
	Remote     string `json:"remote"`
	Solo       bool   `json:"solo"` // the origin is the workspace's own bare repository
	Head       string `json:"head"`
	Ahead      int    `json:"ahead"`  // local commits the origin lacks
	Behind     int    `json:"behind"` // origin commits not here yet
	Dirty      bool   `json:"dirty"`
	FetchError string `json:"fetchError,omitempty"`
}

// resolve checks a repository-relative path lexically: no "..", no .git component. It
// returns the clean slash path ("" = the root). Every file operation then goes through
// os.Root on the main clone, so no symlink leads out of the repository.
func resolve(rel string) (string, error) {
	for _, seg := range strings.Split(filepath.ToSlash(rel), "/") {
		if seg == ".." {
			return "", fmt.Errorf("path %q leaves the repository", rel)
		}
	}
	clean := strings.TrimPrefix(path.Clean("/"+filepath.ToSlash(rel)), "/")
	for _, seg := range strings.Split(clean, "/") {
		if safefs.IsGitName(seg) {
			return "", fmt.Errorf("path %q is inside .git", rel)
		}
	}
	return clean, nil
}

func osPath(clean string) string {
	if clean == "" {
		return "."
	}
	return filepath.FromSlash(clean)
}

// openMainRoot makes sure repo's main clone exists and opens its folder as an os.Root.
func (s *Store) openMainRoot(repo string) (*os.Root, error) {
	if err := checkRepo(repo); err != nil {
		return nil, err
	}
	unlock := s.lock(repo)
	g, err := s.open(repo)
	g.Close()
	unlock()
	if err != nil {
		return nil, err
	}
	return os.OpenRoot(s.Dir(repo))
}

// Tree lists one folder of repo ("" = the root), folders first.
func (s *Store) Tree(repo, rel string) ([]Entry, error) {
	clean, err := resolve(rel)
	if err != nil {
		return nil, err
	}
	root, err := s.openMainRoot(repo)
	if err != nil {
		return nil, err
	}
	defer root.Close()
	f, err := root.Open(osPath(clean))
	if err != nil {
		return nil, fmt.Errorf("list %s/%s: %w", repo, clean, err)
	}
	des, err := f.ReadDir(-1)
	f.Close()
	if err != nil {
		return nil, fmt.Errorf("list %s/%s: %w", repo, clean, err)
	}
	out := []Entry{}
	for _, de := range des {
		if safefs.IsGitName(de.Name()) {
			continue
		}
		info, err := de.Info()
		if err != nil {
			continue
		}
		out = append(out, Entry{Name: de.Name(), Path: path.Join(clean, de.Name()), Dir: de.IsDir(), Size: info.Size()})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Dir != out[j].Dir {
			return out[i].Dir
		}
		return out[i].Name < out[j].Name
	})
	return out, nil
}

// Read returns one file of repo.
func (s *Store) Read(repo, rel string) (File, error) {
	clean, err := resolve(rel)
	if err != nil {
		return File{}, err
	}
	root, err := s.openMainRoot(repo)
	if err != nil {
		return File{}, err
	}
	defer root.Close()
	f, err := root.OpenFile(osPath(clean), os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return File{}, fmt.Errorf("read %s/%s: %w", repo, clean, err)
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return File{}, err
	}
	if info.IsDir() {
		return File{}, fmt.Errorf("%s/%s is a folder", repo, clean)
	}
	if !info.Mode().IsRegular() {
		return File{}, fmt.Errorf("%s/%s is not a regular file", repo, clean)
	}
	buf, err := io.ReadAll(io.LimitReader(f, MaxReadSize))
	if err != nil {
		return File{}, fmt.Errorf("read %s/%s: %w", repo, clean, err)
	}
	out := File{Path: clean, Size: info.Size(), Truncated: info.Size() > int64(len(buf))}
	if bytes.IndexByte(buf, 0) >= 0 || !utf8.Valid(buf) && !out.Truncated {
		out.Binary = true
		return out, nil
	}
	out.Content = string(buf)
	return out, nil
}

// Write saves a file of notes or personal and commits it; it returns the commit hash
// (the current head when nothing changed). Knowledge changes only through proposals.
// The file is written as a new O_EXCL temp file renamed over the old one, inside the
// repository's os.Root.
func (s *Store) Write(repo, rel, content string) (string, error) {
	if repo == Knowledge {
		return "", errors.New("knowledge is read-only here: change it in a loop and promote a proposal")
	}
	if err := checkRepo(repo); err != nil {
		return "", err
	}
	if len(content) > MaxReadSize {
		return "", fmt.Errorf("file too large (%d bytes, at most %d)", len(content), MaxReadSize)
	}
	clean, err := resolve(rel)
	if err != nil {
		return "", err
	}
	if clean == "" {
		return "", errors.New("no file path given")
	}
	return s.EditRoot(repo, clean+": edit", func(root *os.Root) error {
		return safefs.NewBilly(root, s.Dir(repo)).WriteFileAtomic(clean, []byte(content), 0o644)
	})
}

// Edit runs fn on the main clone of notes or personal under the repository lock and
// commits whatever it changed with msg. It returns the commit hash (the current head
// when fn changed nothing). The kanban uses it so each board operation is one commit.
// Prefer EditRoot: fn gets a host path here and must confine its own file operations.
func (s *Store) Edit(repo, msg string, fn func(root string) error) (string, error) {
	return s.edit(repo, msg, func() error { return fn(s.Dir(repo)) })
}

// EditRoot is Edit handing fn the main clone as an *os.Root, so none of its file
// operations can follow a link out of the repository.
func (s *Store) EditRoot(repo, msg string, fn func(root *os.Root) error) (string, error) {
	return s.edit(repo, msg, func() error {
		root, err := os.OpenRoot(s.Dir(repo))
		if err != nil {
			return err
		}
		defer root.Close()
		return fn(root)
	})
}

func (s *Store) edit(repo, msg string, fn func() error) (string, error) {
	if repo == Knowledge {
		return "", errors.New("knowledge is read-only here")
	}
	if err := checkRepo(repo); err != nil {
		return "", err
	}
	defer s.lock(repo)()
	g, err := s.open(repo)
	if err != nil {
		return "", err
	}
	defer g.Close()
	if err := fn(); err != nil {
		return "", err
	}
	h, err := s.commitAll(g, msg)
	if err != nil || h != "" {
		return h, err
	}
	head, err := g.Head()
	if err != nil {
		return "", err
	}
	return head.Hash().String(), nil
}

// Search finds query (case-insensitive) in file names and text files of repo. It reads
// through os.Root and skips symlinks and .git.
func (s *Store) Search(repo, query string) ([]Hit, error) {
	q := strings.ToLower(strings.TrimSpace(query))
	if q == "" {
		return nil, errors.New("empty search")
	}
	root, err := s.openMainRoot(repo)
	if err != nil {
		return nil, err
	}
	defer root.Close()
	hits := []Hit{}
	var walk func(dir string)
	walk = func(dir string) {
		f, err := root.Open(osPath(dir))
		if err != nil {
			return
		}
		des, err := f.ReadDir(-1)
		f.Close()
		if err != nil {
			return
		}
		sort.Slice(des, func(i, j int) bool { return des[i].Name() < des[j].Name() })
		for _, de := range des {
			if len(hits) >= MaxHits {
				return
			}
			rel := path.Join(dir, de.Name())
			if de.IsDir() {
				if !safefs.IsGitName(de.Name()) {
					walk(rel)
				}
				continue
			}
			if !de.Type().IsRegular() {
				continue
			}
			if strings.Contains(strings.ToLower(rel), q) {
				hits = append(hits, Hit{Path: rel})
			}
			searchFile(root, rel, q, &hits)
		}
	}
	walk("")
	return hits, nil
}

func searchFile(root *os.Root, rel, q string, hits *[]Hit) {
	f, err := root.OpenFile(filepath.FromSlash(rel), os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return
	}
	defer f.Close()
	if info, err := f.Stat(); err != nil || !info.Mode().IsRegular() || info.Size() > MaxReadSize {
		return
	}
	b, err := io.ReadAll(io.LimitReader(f, MaxReadSize))
	if err != nil || bytes.IndexByte(b, 0) >= 0 {
		return
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 64*1024), MaxReadSize)
	for n := 1; sc.Scan() && len(*hits) < MaxHits; n++ {
		if strings.Contains(strings.ToLower(sc.Text()), q) {
			*hits = append(*hits, Hit{Path: rel, Line: n, Text: strings.TrimSpace(sc.Text())})
		}
	}
}

// Status fetches (best effort) and compares the main clone with its origin.
func (s *Store) Status(ctx context.Context, repo string) (SyncStatus, error) {
	if err := checkRepo(repo); err != nil {
		return SyncStatus{}, err
	}
	defer s.lock(repo)()
	g, err := s.open(repo)
	if err != nil {
		return SyncStatus{}, err
	}
	defer g.Close()
	return s.status(ctx, repo, g)
}

func (s *Store) status(ctx context.Context, repo string, g *confinedRepo) (SyncStatus, error) {
	br, err := defaultBranch(g.Repository)
	if err != nil {
		return SyncStatus{}, err
	}
	rem, solo, err := s.remote(repo)
	if err != nil {
		return SyncStatus{}, err
	}
	st := SyncStatus{Repo: repo, Branch: br, Remote: rem.URL, Solo: solo}
	if err := s.fetchMain(ctx, repo, g.Repository, br); err != nil {
		st.FetchError = err.Error()
	}
	local, _ := refHash(g.Repository, "refs/heads/"+br)
	up, _ := refHash(g.Repository, "refs/remotes/origin/"+br)
	st.Head = local.String()
	if st.Ahead, st.Behind, err = aheadBehind(g.Repository, local, up); err != nil {
		return st, err
	}
	wt, err := g.Worktree()
	if err != nil {
		return st, err
	}
	ws, err := wt.Status()
	if err != nil {
		return st, fmt.Errorf("status: %w", err)
	}
	st.Dirty = !ws.IsClean()
	return st, nil
}

// Pull brings the origin's default branch into the main clone: fast-forward when
// possible, else a merge commit. A conflict is reported (*ConflictError) and changes
// nothing; local commits stay.
func (s *Store) Pull(ctx context.Context, repo string) (SyncStatus, error) {
	if err := checkRepo(repo); err != nil {
		return SyncStatus{}, err
	}
	defer s.lock(repo)()
	g, err := s.open(repo)
	if err != nil {
		return SyncStatus{}, err
	}
	defer g.Close()
	if _, err := s.commitAll(g, "loopat: local edits"); err != nil {
		return SyncStatus{}, err
	}
	br, err := defaultBranch(g.Repository)
	if err != nil {
		return SyncStatus{}, err
	}
	if err := s.fetchMain(ctx, repo, g.Repository, br); err != nil {
		return SyncStatus{}, err
	}
	if err := s.integrate(ctx, g, br); err != nil {
		return SyncStatus{}, err
	}
	return s.status(ctx, repo, g)
}

// integrate merges refs/remotes/origin/<br> into the checked-out br of a clean main
// clone: the incoming trees are checked first (no escaping symlink, .git or gitlink),
// the merge runs in the object store (mergeTrees) and the worktree is then reset to the
// result through the confined file system.
func (s *Store) integrate(ctx context.Context, g *confinedRepo, br string) error {
	up, err := refHash(g.Repository, "refs/remotes/origin/"+br)
	if err != nil {
		return nil // origin has nothing yet
	}
	local, err := refHash(g.Repository, "refs/heads/"+br)
	if err != nil {
		return err
	}
	return s.mergeInto(ctx, g, local, up, "loopat: merge "+br)
}

// mergeInto brings commit theirs into the main clone's checked-out branch (at local).
func (s *Store) mergeInto(ctx context.Context, g *confinedRepo, local, theirs plumbing.Hash, msg string) error {
	if ok, err := isAncestor(g.Repository, theirs, local); err != nil || ok {
		return err // already contained
	}
	if err := checkNewCommits(g.Storer, local, theirs); err != nil {
		return err
	}
	ff, err := isAncestor(g.Repository, local, theirs)
	if err != nil {
		return err
	}
	target := theirs
	if !ff {
		if target, err = s.mergeCommit(ctx, g, local, theirs, msg); err != nil {
			return err
		}
	}
	wt, err := g.Worktree()
	if err != nil {
		return err
	}
	return wt.Reset(&git.ResetOptions{Commit: target, Mode: git.HardReset})
}

// syncMain fast-forwards a clean main clone after a promote moved the origin.
func (s *Store) syncMain(ctx context.Context, repo string, g *confinedRepo, br string) error {
	if err := s.fetchMain(ctx, repo, g.Repository, br); err != nil {
		return err
	}
	wt, err := g.Worktree()
	if err != nil {
		return err
	}
	st, err := wt.Status()
	if err != nil {
		return err
	}
	if !st.IsClean() {
		return errors.New("main clone has uncommitted changes")
	}
	up, err := refHash(g.Repository, "refs/remotes/origin/"+br)
	if err != nil {
		return err
	}
	local, err := refHash(g.Repository, "refs/heads/"+br)
	if err != nil {
		return err
	}
	if ok, err := isAncestor(g.Repository, local, up); err != nil || !ok {
		return fmt.Errorf("main clone has commits the origin lacks; pull merges them")
	}
	if err := checkNewCommits(g.Storer, local, up); err != nil {
		return err
	}
	return wt.Reset(&git.ResetOptions{Commit: up, Mode: git.HardReset})
}

// Push sends the main clone's default branch to the origin. When the origin has
// commits the clone lacks it refuses: pull first.
func (s *Store) Push(ctx context.Context, repo string) (SyncStatus, error) {
	if err := checkRepo(repo); err != nil {
		return SyncStatus{}, err
	}
	defer s.lock(repo)()
	g, err := s.open(repo)
	if err != nil {
		return SyncStatus{}, err
	}
	defer g.Close()
	if _, err := s.commitAll(g, "loopat: local edits"); err != nil {
		return SyncStatus{}, err
	}
	st, err := s.status(ctx, repo, g)
	if err != nil {
		return st, err
	}
	if st.FetchError != "" {
		return st, errors.New(st.FetchError)
	}
	if st.Behind > 0 {
		return st, fmt.Errorf("the origin has %d new commit(s): pull first", st.Behind)
	}
	rem, _, err := s.remote(repo)
	if err != nil {
		return st, err
	}
	auth, err := s.auth(rem)
	if err != nil {
		return st, err
	}
	if err := s.push(ctx, g.Repository, rem, auth, st.Branch, st.Branch, false); err != nil {
		return st, fmt.Errorf("push %s: %w", repo, err)
	}
	return s.status(ctx, repo, g)
}

// headHash is the main clone's default branch head.
func headHash(g *git.Repository) (plumbing.Hash, error) {
	br, err := defaultBranch(g)
	if err != nil {
		return plumbing.ZeroHash, err
	}
	return refHash(g, "refs/heads/"+br)
}
