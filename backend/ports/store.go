package ports

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"sort"

	"github.com/loopat/desktop/backend/safefs"
)

// FileName is the per-loop mapping file, LOOPAT_HOME/loops/<id>/ports.json. The host
// writes it; it is still validated on read (a bad file is ignored, never trusted).
const FileName = "ports.json"

const (
	maxFileBytes = 64 << 10
	maxMappings  = 256
)

// mapping is one remembered forward of a loop.
type mapping struct {
	Container int  `json:"container"`
	Host      int  `json:"host"`
	Stopped   bool `json:"stopped,omitempty"` // the user stopped it: not auto-forwarded again
	Pinned    bool `json:"pinned,omitempty"`  // added by hand: forwarded even when not detected
	// Network: the user shared this forward on the network (0.0.0.0). Never persisted and
	// cleared when the forward closes: the choice was for the server running then, not
	// for whatever the loop listens on next on that port.
	Network bool `json:"-"`
}

type file struct {
	Version int       `json:"version"`
	Ports   []mapping `json:"ports"`
}

// load reads loopID's mappings from loopsDir (confined: no symlink out of it). A
// missing file is empty; an invalid one is reported and ignored.
func load(loopsDir, loopID string) (map[int]mapping, error) {
	out := map[int]mapping{}
	t, err := safefs.Open(loopsDir)
	if err != nil {
		return out, err
	}
	defer t.Close()
	b, err := t.ReadFile(loopID+"/"+FileName, maxFileBytes)
	if errors.Is(err, fs.ErrNotExist) {
		return out, nil
	}
	if err != nil {
		return out, fmt.Errorf("read %s: %w", FileName, err)
	}
	var f file
	if err := json.Unmarshal(b, &f); err != nil || f.Version != 1 {
		return out, fmt.Errorf("%s of loop %s is invalid; starting afresh", FileName, loopID)
	}
	for _, m := range f.Ports {
		if len(out) == maxMappings {
			break
		}
		if m.Container < 1 || m.Container > 65535 || m.Host < 1 || m.Host > 65535 {
			continue
		}
		out[m.Container] = m
	}
	return out, nil
}

// save writes loopID's mappings atomically (at most maxMappings, lowest ports first).
func save(loopsDir, loopID string, ms map[int]mapping) error {
	f := file{Version: 1, Ports: []mapping{}}
	for _, m := range ms {
		f.Ports = append(f.Ports, m)
	}
	sort.Slice(f.Ports, func(i, j int) bool { return f.Ports[i].Container < f.Ports[j].Container })
	if len(f.Ports) > maxMappings {
		f.Ports = f.Ports[:maxMappings]
	}
	b, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return err
	}
	t, err := safefs.Open(loopsDir)
	if err != nil {
		return err
	}
	defer t.Close()
	if err := t.WriteFileAtomic(loopID+"/"+FileName, b, 0o600); err != nil {
		return fmt.Errorf("write %s: %w", FileName, err)
	}
	return nil
}
