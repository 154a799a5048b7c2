package contextrepo

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
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

// resolve maps a repository-relative path to a host path inside the main clone, refusing
// escapes, .git and symlinks that leave the repository.
func (s *Store) resolve(repo, rel string) (string, string, error) {
	for _, seg := range strings.Split(filepath.ToSlash(rel), "/") {
		if seg == ".." {
			return "", "", fmt.Errorf("path %q leaves the repository", rel)
		}
	}
	clean := strings.TrimPrefix(path.Clean("/"+filepath.ToSlash(rel)), "/")
	for _, seg := range strings.Split(clean, "/") {
		if seg == ".git" {
			return "", "", fmt.Errorf("path %q is inside .git", rel)
		}
	}
	root := s.Dir(repo)
	p := filepath.Join(root, filepath.FromSlash(clean))
	if real, err := filepath.EvalSymlinks(p); err == nil {
		realRoot, err := filepath.EvalSymlinks(root)
		if err != nil {
			return "", "", err
		}
		if real != realRoot && !strings.HasPrefix(real, realRoot+string(filepath.Separator)) {
			return "", "", fmt.Errorf("path %q leaves the repository", rel)
		}
	}
	return p, clean, nil
}

// Tree lists one folder of repo ("" = the root), folders first.
func (s *Store) Tree(repo, rel string) ([]Entry, error) {
	if err := checkRepo(repo); err != nil {
		return nil, err
	}
	unlock := s.lock(repo)
	_, err := s.open(repo)
	unlock()
	if err != nil {
		return nil, err
	}
	p, clean, err := s.resolve(repo, rel)
	if err != nil {
		return nil, err
	}
	des, err := os.ReadDir(p)
	if err != nil {
		return nil, fmt.Errorf("list %s/%s: %w", repo, clean, err)
	}
	out := []Entry{}
	for _, de := range des {
		if de.Name() == ".git" {
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
	if err := checkRepo(repo); err != nil {
		return File{}, err
	}
	p, clean, err := s.resolve(repo, rel)
	if err != nil {
		return File{}, err
	}
	f, err := os.Open(p)
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
	buf := make([]byte, MaxReadSize)
	n, _ := f.Read(buf)
	buf = buf[:n]
	out := File{Path: clean, Size: info.Size(), Truncated: info.Size() > int64(n)}
	if bytes.IndexByte(buf, 0) >= 0 || !utf8.Valid(buf) && !out.Truncated {
		out.Binary = true
		return out, nil
	}
	out.Content = string(buf)
	return out, nil
}

// Write saves a file of notes or personal and commits it; it returns the commit hash
// (the current head when nothing changed). Knowledge changes only through proposals.
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
	_, clean, err := s.resolve(repo, rel)
	if err != nil {
		return "", err
	}
	if clean == "" {
		return "", errors.New("no file path given")
	}
	return s.Edit(repo, clean+": edit", func(root string) error {
		p := filepath.Join(root, filepath.FromSlash(clean))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		return os.WriteFile(p, []byte(content), 0o644)
	})
}

// Edit runs fn on the main clone of notes or personal under the repository lock and
// commits whatever it changed with msg. It returns the commit hash (the current head
// when fn changed nothing). The kanban uses it so each board operation is one commit.
func (s *Store) Edit(repo, msg string, fn func(root string) error) (string, error) {
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
	if err := fn(s.Dir(repo)); err != nil {
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

// Search finds query (case-insensitive) in file names and text files of repo.
func (s *Store) Search(repo, query string) ([]Hit, error) {
	if err := checkRepo(repo); err != nil {
		return nil, err
	}
	q := strings.ToLower(strings.TrimSpace(query))
	if q == "" {
		return nil, errors.New("empty search")
	}
	unlock := s.lock(repo)
	_, err := s.open(repo)
	unlock()
	if err != nil {
		return nil, err
	}
	root := s.Dir(repo)
	hits := []Hit{}
	err = filepath.WalkDir(root, func(p string, de fs.DirEntry, err error) error {
		if err != nil || len(hits) >= MaxHits {
			return nil
		}
		if de.IsDir() {
			if de.Name() == ".git" {
				return filepath.SkipDir
			}
			return nil
		}
		if !de.Type().IsRegular() {
			return nil
		}
		rel, _ := filepath.Rel(root, p)
		rel = filepath.ToSlash(rel)
		if strings.Contains(strings.ToLower(rel), q) {
			hits = append(hits, Hit{Path: rel})
		}
		if info, err := de.Info(); err != nil || info.Size() > MaxReadSize {
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil || bytes.IndexByte(b, 0) >= 0 {
			return nil
		}
		sc := bufio.NewScanner(bytes.NewReader(b))
		sc.Buffer(make([]byte, 64*1024), MaxReadSize)
		for n := 1; sc.Scan() && len(hits) < MaxHits; n++ {
			if strings.Contains(strings.ToLower(sc.Text()), q) {
				hits = append(hits, Hit{Path: rel, Line: n, Text: strings.TrimSpace(sc.Text())})
			}
		}
		return nil
	})
	return hits, err
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
	return s.status(ctx, repo, g)
}

func (s *Store) status(ctx context.Context, repo string, g *git.Repository) (SyncStatus, error) {
	br, err := defaultBranch(g)
	if err != nil {
		return SyncStatus{}, err
	}
	rem, solo, err := s.remote(repo)
	if err != nil {
		return SyncStatus{}, err
	}
	st := SyncStatus{Repo: repo, Branch: br, Remote: rem.URL, Solo: solo}
	if err := s.fetchMain(ctx, repo, g, br); err != nil {
		st.FetchError = err.Error()
	}
	local, _ := refHash(g, "refs/heads/"+br)
	up, _ := refHash(g, "refs/remotes/origin/"+br)
	st.Head = local.String()
	if st.Ahead, st.Behind, err = aheadBehind(g, local, up); err != nil {
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
// possible, else a merge commit. A conflict is aborted and reported (*ConflictError);
// local commits stay.
func (s *Store) Pull(ctx context.Context, repo string) (SyncStatus, error) {
	if err := checkRepo(repo); err != nil {
		return SyncStatus{}, err
	}
	defer s.lock(repo)()
	g, err := s.open(repo)
	if err != nil {
		return SyncStatus{}, err
	}
	if _, err := s.commitAll(g, "loopat: local edits"); err != nil {
		return SyncStatus{}, err
	}
	br, err := defaultBranch(g)
	if err != nil {
		return SyncStatus{}, err
	}
	if err := s.fetchMain(ctx, repo, g, br); err != nil {
		return SyncStatus{}, err
	}
	if err := s.integrate(ctx, repo, g, br); err != nil {
		return SyncStatus{}, err
	}
	return s.status(ctx, repo, g)
}

// integrate merges refs/remotes/origin/<br> into the checked-out br of a clean main clone.
func (s *Store) integrate(ctx context.Context, repo string, g *git.Repository, br string) error {
	up, err := refHash(g, "refs/remotes/origin/"+br)
	if err != nil {
		return nil // origin has nothing yet
	}
	local, err := refHash(g, "refs/heads/"+br)
	if err != nil {
		return err
	}
	if ok, err := isAncestor(g, up, local); err != nil || ok {
		return err // already contains the origin
	}
	ff, err := isAncestor(g, local, up)
	if err != nil {
		return err
	}
	if ff {
		wt, err := g.Worktree()
		if err != nil {
			return err
		}
		return wt.Reset(&git.ResetOptions{Commit: up, Mode: git.HardReset})
	}
	return s.mergeCLI(ctx, s.Dir(repo), "refs/remotes/origin/"+br, "loopat: merge "+br)
}

// syncMain fast-forwards a clean main clone after a promote moved the origin.
func (s *Store) syncMain(ctx context.Context, repo string, g *git.Repository, br string) error {
	if err := s.fetchMain(ctx, repo, g, br); err != nil {
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
	up, err := refHash(g, "refs/remotes/origin/"+br)
	if err != nil {
		return err
	}
	local, err := refHash(g, "refs/heads/"+br)
	if err != nil {
		return err
	}
	if ok, err := isAncestor(g, local, up); err != nil || !ok {
		return fmt.Errorf("main clone has commits the origin lacks; pull merges them")
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
	if err := s.push(ctx, g, rem, auth, st.Branch, st.Branch, false); err != nil {
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
