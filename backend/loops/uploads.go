// Files the user drops into the composer (written under the workdir's uploads/) and the
// @ file picker's search. The workdir is loop-writable, hence hostile: both go through
// safefs (os.Root), follow no link, and are bounded.

package loops

import (
	"errors"
	"fmt"
	"io/fs"
	"path"
	"strings"
	"unicode"

	"github.com/loopat/desktop/backend/safefs"
	"github.com/loopat/desktop/backend/sandboxuser"
)

// Bounds of uploads and the file search.
const (
	UploadsDir     = "uploads"
	MaxUploadBytes = 5 << 20 // the RPC body is 8 MiB and data travels base64
	maxUploadName  = 100
	// The search visits at most this many entries, so a huge or hostile tree cannot hold the host.
	maxSearchVisits = 20_000
	maxSearchHits   = 50
)

// Upload writes data into the workdir as uploads/<safe name> (a free name: "x-1.txt" when
// "x.txt" exists) and returns its workdir-relative path. uploads must be a real folder:
// a link planted there is refused, and the file itself is written O_EXCL-temp-and-rename,
// so nothing is written through a link.
func (m *Manager) Upload(id, name string, data []byte) (string, error) {
	if _, err := m.store.Get(id); err != nil {
		return "", err
	}
	if len(data) > MaxUploadBytes {
		return "", fmt.Errorf("%w: the file is larger than %d MiB", ErrBadInput, MaxUploadBytes>>20)
	}
	safe := SafeUploadName(name)
	t, err := safefs.Open(m.store.WorkDir(id))
	if err != nil {
		return "", fmt.Errorf("open the workdir: %w", err)
	}
	defer t.Close()
	fi, err := t.Lstat(UploadsDir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if err := t.MkdirAll(UploadsDir, 0o755); err != nil {
			return "", fmt.Errorf("create %s/: %w", UploadsDir, err)
		}
	case err != nil:
		return "", fmt.Errorf("check %s/: %w", UploadsDir, err)
	case !fi.IsDir():
		return "", fmt.Errorf("%w: %s/ in the workdir is not a folder (a link or file is there); remove it and try again", ErrBadInput, UploadsDir)
	}
	rel, err := freeName(t, safe)
	if err != nil {
		return "", err
	}
	if err := t.WriteFileAtomic(rel, data, 0o644); err != nil {
		return "", fmt.Errorf("write %s: %w", rel, err)
	}
	if sandboxuser.Chowns() {
		if err := t.LchownAll(rel, sandboxuser.UID, sandboxuser.GID); err != nil {
			m.log.Warn("give an upload to the sandbox user", "loop", id, "path", rel, "err", err)
		}
	}
	return rel, nil
}

// freeName is uploads/<name>, or with -1, -2 … before the extension when taken.
func freeName(t *safefs.Tree, name string) (string, error) {
	ext := path.Ext(name)
	base := strings.TrimSuffix(name, ext)
	for i := 0; i < 1000; i++ {
		cand := name
		if i > 0 {
			cand = fmt.Sprintf("%s-%d%s", base, i, ext)
		}
		rel := UploadsDir + "/" + cand
		if _, err := t.Lstat(rel); errors.Is(err, fs.ErrNotExist) {
			return rel, nil
		} else if err != nil {
			return "", fmt.Errorf("check %s: %w", rel, err)
		}
	}
	return "", fmt.Errorf("%w: too many uploads named %q", ErrBadInput, name)
}

// SafeUploadName keeps a dropped file's base name readable but harmless: letters, digits,
// '.', '-', '_' (others become '_'), no leading dot, at most 100 bytes; "upload" if
// nothing is left.
func SafeUploadName(name string) string {
	name = path.Base(strings.ReplaceAll(name, "\\", "/"))
	var b strings.Builder
	for _, r := range name {
		switch {
		case r < 128 && (unicode.IsLetter(r) || unicode.IsDigit(r) || r == '.' || r == '-' || r == '_'):
			b.WriteRune(r)
		default:
			b.WriteByte('_')
		}
	}
	s := strings.TrimLeft(b.String(), "._")
	if len(s) > maxUploadName {
		ext := path.Ext(s)
		if len(ext) > 16 {
			ext = ""
		}
		s = s[:maxUploadName-len(ext)] + ext
	}
	if s == "" {
		return "upload"
	}
	return s
}

// FindFiles lists workdir files and folders whose path contains query (case-insensitive;
// "" lists the first ones), for the composer's @ picker. The walk never follows a link
// and skips .git and node_modules; it stops after a bounded number of entries.
func (m *Manager) FindFiles(id, query string) ([]string, error) {
	if _, err := m.store.Get(id); err != nil {
		return nil, err
	}
	t, err := safefs.Open(m.store.WorkDir(id))
	if err != nil {
		return nil, fmt.Errorf("open the workdir: %w", err)
	}
	defer t.Close()
	q := strings.ToLower(strings.TrimSpace(query))
	hits := []string{}
	visits := 0
	errDone := errors.New("done")
	err = t.Walk("", func(rel string, fi fs.FileInfo, err error) error {
		if err != nil || fi == nil || rel == "" || rel == "." {
			return nil // an entry that cannot be read is left out, not the whole list
		}
		visits++
		if visits > maxSearchVisits || len(hits) >= maxSearchHits {
			return errDone
		}
		base := path.Base(rel)
		if fi.IsDir() && (base == ".git" || base == "node_modules") {
			return fs.SkipDir
		}
		if q == "" || strings.Contains(strings.ToLower(rel), q) {
			if fi.IsDir() {
				hits = append(hits, rel+"/")
			} else {
				hits = append(hits, rel)
			}
		}
		return nil
	})
	if err != nil && !errors.Is(err, errDone) {
		return hits, fmt.Errorf("search the workdir: %w", err)
	}
	return hits, nil
}
