package ports

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"mime"
	"net"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/loopat/desktop/backend/safefs"
)

// maxShareFile bounds one file a static share serves.
const maxShareFile = 64 << 20

// hiddenName reports a path element a static share never serves: repository
// internals, secrets and dependency trees, whatever their place in the tree.
func hiddenName(name string) bool {
	name = strings.ToLower(name) // case-insensitive file systems (macOS) open .GIT as .git
	switch name {
	case ".git", ".ssh", ".claude", "node_modules", ".gnupg", ".aws", ".netrc", ".npmrc", ".pypirc":
		return true
	}
	return name == ".env" || strings.HasPrefix(name, ".env.")
}

// ShareHandler serves the folder sub ("" or "." for all) of dir (a tree the loop
// writes) read-only: through safefs rooted at dir, so no path or symlink leads out of
// it; no symlink is followed at all, sub included; hidden names (hiddenName) are 404 at
// any depth; GET/HEAD only; a folder serves its index.html, and a path that does not
// exist falls back to sub's index.html (single-page apps).
func ShareHandler(dir, sub string) (http.Handler, error) {
	fi, err := os.Lstat(dir)
	if err != nil {
		return nil, fmt.Errorf("share %s: %w", dir, err)
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("share %s: not a folder", dir)
	}
	rel, ok := shareRel(sub)
	if !ok {
		return nil, fmt.Errorf("share %q: not a folder that may be shared", sub)
	}
	t, err := safefs.Open(dir)
	if err != nil {
		return nil, err
	}
	defer t.Close()
	for p := rel; p != "."; p = path.Dir(p) { // every element a real folder, not a link
		if fi, err := t.Lstat(p); err != nil || !fi.IsDir() {
			return nil, fmt.Errorf("share %q: not a folder in the workdir", sub)
		}
	}
	return &share{dir: dir, sub: rel}, nil
}

type share struct{ dir, sub string }

func (s *share) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		http.Error(w, "read-only", http.StatusMethodNotAllowed)
		return
	}
	w.Header().Set("X-Content-Type-Options", "nosniff")
	rel, ok := shareRel(r.URL.Path)
	rel = path.Join(s.sub, rel)
	if !ok {
		http.NotFound(w, r)
		return
	}
	t, err := safefs.Open(s.dir)
	if err != nil {
		http.Error(w, "share unavailable", http.StatusServiceUnavailable)
		return
	}
	defer t.Close()
	if s.serve(w, r, t, rel) {
		return
	}
	// Fallback: the root index.html for a path that is not there (SPA routes).
	if _, err := t.Lstat(rel); errors.Is(err, fs.ErrNotExist) && s.serve(w, r, t, path.Join(s.sub, "index.html")) {
		return
	}
	http.NotFound(w, r)
}

// shareRel cleans an URL path into a tree path; false for "..", hidden names or NUL.
func shareRel(p string) (string, bool) {
	if strings.ContainsRune(p, 0) || strings.Contains(p, "\\") {
		return "", false
	}
	for _, el := range strings.Split(p, "/") {
		if el == ".." || hiddenName(el) {
			return "", false
		}
	}
	c := strings.TrimPrefix(path.Clean("/"+p), "/")
	if c == "" {
		c = "."
	}
	return c, true
}

// serve writes rel (a regular file, or a folder's index.html); false if it is not
// servable. Symlinks are never followed: Lstat must say regular file or folder.
func (s *share) serve(w http.ResponseWriter, r *http.Request, t *safefs.Tree, rel string) bool {
	fi, err := t.Lstat(rel)
	if err != nil {
		return false
	}
	if fi.IsDir() {
		rel = path.Join(rel, "index.html")
		if fi, err = t.Lstat(rel); err != nil {
			return false
		}
	}
	if !fi.Mode().IsRegular() || fi.Size() > maxShareFile {
		return false
	}
	f, ofi, err := t.OpenRegular(rel)
	if err != nil {
		return false
	}
	defer f.Close()
	if !os.SameFile(fi, ofi) {
		return false // swapped between the check and the open
	}
	ct := mime.TypeByExtension(filepath.Ext(rel))
	if ct == "" {
		ct = "application/octet-stream"
	}
	w.Header().Set("Content-Type", ct)
	w.Header().Set("Content-Length", strconv.FormatInt(ofi.Size(), 10))
	w.Header().Set("Cache-Control", "no-store")
	if r.Method == http.MethodHead {
		return true
	}
	_, _ = io.Copy(w, io.LimitReader(f, maxShareFile))
	return true
}

// maxSecretScan bounds the entries a network share's secret check walks; a bigger
// folder is refused rather than half-checked.
const maxSecretScan = 50000

// errTooBig ends the secret scan of a folder with too many entries.
var errTooBig = errors.New("too many entries")

// SecretIn names the first entry under sub of dir that a share hides (hiddenName:
// .git, .env*, .ssh, .claude, node_modules...), or "" if there is none. Links are not
// followed (fs.WalkDir over an os.Root lists a link as a link), and a folder of more
// than maxSecretScan entries is an error: a network share is refused when unsure.
func SecretIn(dir, sub string) (string, error) {
	rel, ok := shareRel(sub)
	if !ok {
		return "", fmt.Errorf("share %q: not a folder that may be shared", sub)
	}
	t, err := safefs.Open(dir)
	if err != nil {
		return "", err
	}
	defer t.Close()
	found, n := "", 0
	err = fs.WalkDir(t.Root().FS(), rel, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if n++; n > maxSecretScan {
			return errTooBig
		}
		if p != rel && hiddenName(d.Name()) {
			found = p
			return fs.SkipAll
		}
		return nil
	})
	if err != nil {
		return "", fmt.Errorf("check %q for secrets: %w", sub, err)
	}
	return found, nil
}

// StartShare serves sub of dir on 127.0.0.1:port (0: any free port), or on every
// address when network; stop ends it. A network share of a folder that holds any
// hidden name (SecretIn) is refused: off loopback, one missed rule would hand a
// secret to the whole network, so such a folder is not offered at all.
func StartShare(dir, sub string, port int, network bool) (url string, stop func() error, err error) {
	h, err := ShareHandler(dir, sub)
	if err != nil {
		return "", nil, err
	}
	bind := "127.0.0.1"
	if network {
		secret, err := SecretIn(dir, sub)
		if err != nil {
			return "", nil, fmt.Errorf("not shared on the network: %w", err)
		}
		if secret != "" {
			return "", nil, fmt.Errorf("not shared on the network: %q holds %s; share a folder without secrets (e.g. dist)", sub, secret)
		}
		bind = "0.0.0.0"
	}
	ln, err := net.Listen("tcp4", net.JoinHostPort(bind, strconv.Itoa(port)))
	if err != nil {
		return "", nil, fmt.Errorf("share %s: %w", dir, err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	port = ln.Addr().(*net.TCPAddr).Port
	return "http://127.0.0.1:" + strconv.Itoa(port) + "/", srv.Close, nil
}

// Shared is one loop's static share.
type Shared struct {
	Sub     string `json:"sub"` // the shared folder, relative to the workdir ("." = all)
	URL     string `json:"url"`
	Network bool   `json:"network"` // bound on every address, not only loopback
}

type shareState struct {
	Shared
	stop func() error
}

// Share serves sub of loopID's workdir dir read-only on the host's loopback, replacing
// the loop's previous share; network binds every address (refused for a folder that
// holds secrets, see StartShare).
func (m *Manager) Share(loopID, dir, sub string, network bool) (Shared, error) {
	if !loopIDPattern.MatchString(loopID) {
		return Shared{}, fmt.Errorf("invalid loop id %q", loopID)
	}
	url, stop, err := StartShare(dir, sub, 0, network)
	if err != nil {
		return Shared{}, err // a refused share leaves the previous one running
	}
	rel, _ := shareRel(sub)
	st := &shareState{Shared: Shared{Sub: rel, URL: url, Network: network}, stop: stop}
	m.mu.Lock()
	if m.shares == nil {
		m.shares = map[string]*shareState{}
	}
	old := m.shares[loopID]
	m.shares[loopID] = st
	m.mu.Unlock()
	if old != nil {
		_ = old.stop()
	}
	m.o.Log.Info("workdir shared", "loop", loopID, "sub", rel, "url", url, "network", network)
	return st.Shared, nil
}

// SharedOf is loopID's static share, if any.
func (m *Manager) SharedOf(loopID string) (Shared, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	st := m.shares[loopID]
	if st == nil {
		return Shared{}, false
	}
	return st.Shared, true
}

// StopShare ends loopID's static share.
func (m *Manager) StopShare(loopID string) {
	m.mu.Lock()
	st := m.shares[loopID]
	delete(m.shares, loopID)
	m.mu.Unlock()
	if st != nil {
		_ = st.stop()
	}
}
