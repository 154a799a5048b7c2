// Package uninstall removes exactly one workspace's resources: its loop containers, the
// sandbox images only it uses, its network, its keychain items, the app's own podman
// service and, unless KeepData, LOOPAT_HOME. Podman resources are selected by the label
// loopat.workspace=<name> (never by name prefix), so two workspaces whose names are
// prefixes of each other never touch each other.
//
// Shared infrastructure (the podman machine VM, podman itself, the FROM base image,
// package caches) is never touched: the plan prints how to remove it by hand. The
// package runs no external command at all (no os/exec); see forbidden_test.go.
package uninstall

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"

	"github.com/loopat/desktop/backend/config"
	"github.com/loopat/desktop/backend/vault"
)

// Options choose what Run removes.
type Options struct {
	KeepData bool `json:"keepData"` // keep transcripts, workdirs, context repos and config.toml
	DryRun   bool `json:"dryRun"`   // plan and report only; change nothing
}

// Keychain is the part of *vault.Vault uninstall needs.
type Keychain interface {
	List(vault string) ([]vault.Item, error)
	ServiceName() (string, error)
	Purge() error
}

// Deps are the real parts uninstall works on. Only Workspace is required.
type Deps struct {
	Workspace config.Workspace
	// Conn returns a podman bindings connection; an error means podman is unreachable and
	// the podman steps are skipped (and reported as unchecked).
	Conn func(ctx context.Context) (context.Context, error)
	// Keychain holds this workspace's secrets (normally vault.New(ws, vault.OSKeyring())).
	Keychain Keychain
	// StopLoops ends the app's agent processes before their containers go (nil in the CLI).
	StopLoops func(ctx context.Context) error
	// StopService stops the podman service the app started (engine.Close). Run calls it
	// after the podman steps, which still need the connection.
	StopService func() error
	// BaseImage is the configured FROM image, listed as staying (shared, pulled).
	BaseImage string
	// GOOS selects the manual hints (default runtime.GOOS).
	GOOS string
}

func (d Deps) goos() string {
	if d.GOOS != "" {
		return d.GOOS
	}
	return runtime.GOOS
}

// Container is one loop (or helper) container of this workspace.
type Container struct {
	Name    string `json:"name"`
	ID      string `json:"id"`
	Running bool   `json:"running"`
	LoopID  string `json:"loopId,omitempty"`
}

// Image actions.
const (
	ImageRemove = "remove" // deleted: no other workspace uses it
	ImageUntag  = "untag"  // only this workspace's tag goes; the image stays for others
)

// Image is a sandbox image this workspace built or uses.
type Image struct {
	Ref    string   `json:"ref"`
	ID     string   `json:"id"`
	Size   int64    `json:"size"`
	Tags   []string `json:"tags"`
	Action string   `json:"action"` // ImageRemove or ImageUntag
	// StaysFor names the other users that keep the image (workspaces or containers).
	StaysFor []string `json:"staysFor,omitempty"`
	// UntagRefs are the names this workspace removes when the image stays.
	UntagRefs []string `json:"untagRefs,omitempty"`
}

// Network is this workspace's podman network.
type Network struct {
	Name string `json:"name"`
	ID   string `json:"id"`
}

// KeychainItem names one secret; values are never read.
type KeychainItem struct {
	Service string `json:"service"`
	Account string `json:"account"` // vault/kind/name
	Chunks  int    `json:"chunks,omitempty"`
}

// Folder actions.
const (
	FolderRemove = "remove"
	FolderKeep   = "keep"
)

// Folder is a path under LOOPAT_HOME (or a socket folder) and what happens to it.
type Folder struct {
	Path   string `json:"path"`
	Size   int64  `json:"size"`
	Action string `json:"action"`
	Why    string `json:"why,omitempty"`
	retry  bool   // kept only until a run can check podman: listed as left to do
}

// Service is the podman service the app starts itself when no other socket exists.
type Service struct {
	Sockets []string `json:"sockets"` // socket files that exist now
	Managed bool     `json:"managed"` // the app can stop it (StopService is set)
}

// Stay is something uninstall leaves alone, with the commands to remove it by hand.
type Stay struct {
	What     string   `json:"what"`
	Why      string   `json:"why"`
	Commands []string `json:"commands,omitempty"`
}

// Plan is exactly what an uninstall removes and what it leaves.
type Plan struct {
	Workspace string `json:"workspace"`
	Home      string `json:"home"`
	KeepData  bool   `json:"keepData"`
	DryRun    bool   `json:"dryRun"`

	Containers []Container    `json:"containers"`
	Images     []Image        `json:"images"`
	Networks   []Network      `json:"networks"`
	Keychain   []KeychainItem `json:"keychain"`
	Folders    []Folder       `json:"folders"`
	Service    Service        `json:"service"`
	Stays      []Stay         `json:"stays"`
	// Unchecked lists what could not be inspected (podman unreachable, keychain locked).
	Unchecked []string `json:"unchecked,omitempty"`
}

// RemoveBytes is the total size of images and folders that go.
func (p Plan) RemoveBytes() int64 {
	var n int64
	for _, im := range p.Images {
		if im.Action == ImageRemove {
			n += im.Size
		}
	}
	for _, f := range p.Folders {
		if f.Action == FolderRemove {
			n += f.Size
		}
	}
	return n
}

// MakePlan inspects the workspace (read-only) and returns what Run would do.
func MakePlan(ctx context.Context, d Deps, o Options) (Plan, error) {
	ws := d.Workspace
	if ws.Name == "" || ws.Home == "" {
		return Plan{}, errors.New("uninstall: no workspace")
	}
	p := Plan{Workspace: ws.Name, Home: ws.Home, KeepData: o.KeepData, DryRun: o.DryRun}

	others := map[string]bool{}
	if pd, err := inspectPodman(ctx, d); err != nil {
		p.Unchecked = append(p.Unchecked, "containers, images and networks: "+err.Error())
	} else {
		p.Containers, p.Images, p.Networks = pd.containers, pd.images, pd.networks
		for _, w := range pd.otherWorkspaces {
			others[w] = true
		}
	}

	if d.Keychain != nil {
		items, err := keychainItems(d.Keychain)
		if err != nil {
			p.Unchecked = append(p.Unchecked, "keychain items: "+err.Error())
		}
		p.Keychain = items
	}

	folders, err := planFolders(ws, o.KeepData)
	if err != nil {
		p.Unchecked = append(p.Unchecked, "folders: "+err.Error())
	}
	p.Folders = folders
	p.Service = Service{Sockets: existingSockets(ws), Managed: d.StopService != nil}
	p.Stays = stays(d.goos(), d.BaseImage, sortedKeys(others))
	return p, nil
}

func keychainItems(k Keychain) ([]KeychainItem, error) {
	svc, err := k.ServiceName()
	if err != nil {
		return nil, fmt.Errorf("read vault index: %w", err)
	}
	items, err := k.List("*")
	if err != nil {
		return nil, fmt.Errorf("list secrets: %w", err)
	}
	out := make([]KeychainItem, 0, len(items))
	for _, it := range items {
		out = append(out, KeychainItem{Service: svc, Account: it.Vault + "/" + it.Kind + "/" + it.Name, Chunks: it.Chunks})
	}
	return out, nil
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// socketPaths are where the app's own podman service may listen (config.Workspace.ServiceSocket
// picks one of these by path length; both are checked so nothing is left either way).
func socketPaths(ws config.Workspace) []string {
	out := []string{filepath.Join(ws.RunDir(), "podman.sock")}
	for _, d := range shortSocketDirs(ws) {
		out = append(out, filepath.Join(d, "podman.sock"))
	}
	return out
}

// shortSocketDirs are the temp socket folders: the id-named one and the one of versions
// before workspace ids (checked only when ours: a real directory owned by us).
func shortSocketDirs(ws config.Workspace) []string {
	out := []string{ws.ShortSocketDir()}
	if legacy := ws.LegacyShortSocketDir(); legacy != out[0] && config.CheckPrivateDir(legacy) == nil {
		out = append(out, legacy)
	}
	return out
}

func existingSockets(ws config.Workspace) []string {
	var out []string
	for _, s := range socketPaths(ws) {
		if _, err := os.Lstat(s); err == nil {
			out = append(out, s)
		}
	}
	return out
}

// Confirmed reports whether typed confirms uninstalling workspace (exact name, surrounding
// blanks ignored).
func Confirmed(typed, workspace string) bool {
	return workspace != "" && strings.TrimSpace(typed) == workspace
}
