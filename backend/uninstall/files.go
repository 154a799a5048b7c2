package uninstall

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"

	"github.com/loopat/desktop/backend/config"
)

// What keep-data keeps and removes. Everything a later app start needs to show the loops
// and resume them stays; what is rebuilt or re-created on demand goes.
//
//	kept:    config.toml, loops/<id>/{meta.json, messages.jsonl, workdir/, home/.claude/},
//	         and any other folder the app does not know (context repos, user files)
//	removed: logs/, run/ (service socket), vaults.json (its keychain items are purged),
//	         loops/<id>/home/* except .claude (tool caches: npm, mise, ...)
var (
	disposableTop = []string{"logs", "run", "vaults.json", "vaults.json.lock", "vaults.json.tmp"}
	keptInLoop    = map[string]bool{"meta.json": true, "messages.jsonl": true, "workdir": true, "home": true}
	keptInHome    = map[string]bool{".claude": true} // the agent's session state, for --resume
)

const vaultIndex = "vaults.json"

// dataTargets lists the paths the data step removes and those it keeps. keepIndex keeps
// vaults.json (a failed keychain purge needs it to find the items on a rerun).
//
// keepIdentity (podman could not be checked) keeps the workspace id and config.toml: a
// later run needs them to find this workspace's podman resources (labels) and to reach
// podman the same way.
func dataTargets(ws config.Workspace, keepData, keepIndex, keepIdentity bool) (remove, keep []Folder, err error) {
	if _, err := os.Lstat(ws.Home); errors.Is(err, os.ErrNotExist) {
		return nil, nil, nil
	} else if err != nil {
		return nil, nil, fmt.Errorf("read %s: %w", ws.Home, err)
	}
	if !keepData && !keepIndex && !keepIdentity {
		return []Folder{{Path: ws.Home, Action: FolderRemove}}, nil, nil
	}
	entries, err := os.ReadDir(ws.Home)
	if err != nil {
		return nil, nil, fmt.Errorf("read %s: %w", ws.Home, err)
	}
	disposable := map[string]bool{}
	for _, n := range disposableTop {
		disposable[n] = true
	}
	for _, e := range entries {
		p := filepath.Join(ws.Home, e.Name())
		switch {
		case keepIdentity && (e.Name() == config.IDFile || e.Name() == "config.toml"):
			keep = append(keep, Folder{Path: p, Action: FolderKeep, retry: true,
				Why: "kept so the next run can find this workspace's containers, images and networks in podman"})
		case keepIndex && e.Name() == vaultIndex:
			keep = append(keep, Folder{Path: p, Action: FolderKeep, Why: "needed to find the keychain items on the next run"})
		case !keepData || disposable[e.Name()]:
			remove = append(remove, Folder{Path: p, Action: FolderRemove})
		case e.Name() == "loops" && e.IsDir():
			r, k, err := loopTargets(p)
			if err != nil {
				return nil, nil, err
			}
			remove, keep = append(remove, r...), append(keep, k...)
		case e.Name() == "config.toml":
			keep = append(keep, Folder{Path: p, Action: FolderKeep, Why: "settings"})
		case e.Name() == config.IDFile:
			keep = append(keep, Folder{Path: p, Action: FolderKeep, Why: "workspace identity (labels of its podman resources)"})
		default:
			keep = append(keep, Folder{Path: p, Action: FolderKeep, Why: "your data (context repos, other files)"})
		}
	}
	return remove, keep, nil
}

// loopTargets splits each loop folder into what keep-data keeps and removes.
func loopTargets(loops string) (remove, keep []Folder, err error) {
	ids, err := os.ReadDir(loops)
	if err != nil {
		return nil, nil, fmt.Errorf("read %s: %w", loops, err)
	}
	for _, id := range ids {
		dir := filepath.Join(loops, id.Name())
		if !id.IsDir() {
			keep = append(keep, Folder{Path: dir, Action: FolderKeep, Why: "unknown file in loops/"})
			continue
		}
		entries, err := os.ReadDir(dir)
		if err != nil {
			return nil, nil, fmt.Errorf("read %s: %w", dir, err)
		}
		for _, e := range entries {
			p := filepath.Join(dir, e.Name())
			switch {
			case e.Name() == "home" && e.IsDir():
				homeEntries, err := os.ReadDir(p)
				if err != nil {
					return nil, nil, fmt.Errorf("read %s: %w", p, err)
				}
				for _, h := range homeEntries {
					hp := filepath.Join(p, h.Name())
					if keptInHome[h.Name()] {
						keep = append(keep, Folder{Path: hp, Action: FolderKeep, Why: "agent session, so the conversation resumes"})
					} else {
						remove = append(remove, Folder{Path: hp, Action: FolderRemove})
					}
				}
			case keptInLoop[e.Name()]:
				keep = append(keep, Folder{Path: p, Action: FolderKeep, Why: loopWhy(e.Name())})
			default:
				keep = append(keep, Folder{Path: p, Action: FolderKeep, Why: "loop data"})
			}
		}
	}
	return remove, keep, nil
}

func loopWhy(name string) string {
	switch name {
	case "messages.jsonl":
		return "transcript"
	case "workdir":
		return "the loop's working copy"
	}
	return "loop metadata"
}

// planFolders lists every folder with its size for the plan.
func planFolders(ws config.Workspace, keepData bool) ([]Folder, error) {
	remove, keep, err := dataTargets(ws, keepData, false, false)
	if err != nil {
		return nil, err
	}
	out := append(remove, keep...)
	for _, d := range shortSocketDirs(ws) {
		if exists(d) {
			out = append(out, Folder{Path: d, Action: FolderRemove, Why: "podman service socket"})
		}
	}
	for i := range out {
		out[i].Size = diskSize(out[i].Path)
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Action != out[j].Action {
			return out[i].Action == FolderRemove
		}
		return out[i].Path < out[j].Path
	})
	return out, nil
}

func exists(p string) bool { _, err := os.Lstat(p); return err == nil }

// diskSize is the total size of regular files under p (symlinks not followed).
func diskSize(p string) int64 {
	var n int64
	_ = filepath.WalkDir(p, func(_ string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil // unreadable parts are skipped, not fatal for a plan
		}
		if d.Type().IsRegular() {
			if info, err := d.Info(); err == nil {
				n += info.Size()
			}
		}
		return nil
	})
	return n
}

// removePaths deletes each path; an already missing path is success.
func removePaths(fs []Folder) (removed []string, failed []Leftover) {
	for _, f := range fs {
		if err := os.RemoveAll(f.Path); err != nil && !errors.Is(err, os.ErrNotExist) {
			failed = append(failed, Leftover{What: f.Path, Reason: err.Error()})
			continue
		}
		removed = append(removed, f.Path)
	}
	return removed, failed
}
