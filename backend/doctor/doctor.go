// Package doctor is the bootstrap checklist shown in onboarding and by `loopat doctor`:
// every item says whether it is OK and, when not, a platform-specific fix.
package doctor

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/zalando/go-keyring"

	"github.com/loopat/desktop/backend/config"
	"github.com/loopat/desktop/backend/engine"
	"github.com/loopat/desktop/backend/machine"
)

// Result is one checklist item.
type Result struct {
	ID    string `json:"id"`
	OK    bool   `json:"ok"`
	Label string `json:"label"`
	Hint  string `json:"hint,omitempty"`
	// Detail is what the user should know even when the item is OK (e.g. how rootless differs).
	Detail string `json:"detail,omitempty"`
}

// ImageInfo is implemented by backend/images.
type ImageInfo interface {
	SandboxImageStatus(ctx context.Context, conn context.Context) (ref string, present bool, err error)
	ClaudeVersion(ctx context.Context, conn context.Context) (string, error) // runs `claude --version` in the image
}

// Deps is what the checks look at.
type Deps struct {
	Workspace config.Workspace
	Config    config.Config
	ConfigErr error
	Engine    *engine.Engine
	Images    ImageInfo    // may be nil
	Keychain  func() error // may be nil; nil = probe go-keyring
	GOOS      string       // "" = runtime.GOOS
}

// Check IDs, in display order.
const (
	IDWorkspace    = "workspace"
	IDConfig       = "config"
	IDPodman       = "podman"
	IDEngine       = "engine"
	IDMachine      = "machine"
	IDPodmanMode   = "podman-mode"
	IDStorage      = "storage-driver"
	IDSandboxImage = "sandbox-image"
	IDClaude       = "claude"
	IDKeychain     = "keychain"
	IDGit          = "git"
)

// Timeouts: every check has its own; the whole run stays under ~8 s.
var (
	checkTimeout  = 4 * time.Second
	engineTimeout = 6 * time.Second // engine discovery may still be running at app start
	claudeTimeout = 7 * time.Second // engine wait + a throwaway container
)

// subjects name each check: runOne labels every result "<subject>: <what the check
// found>", so a check writes only what it found, and one that hangs or crashes is still
// labelled by its subject (the UI and `doctor --json` readers find rows by it).
var subjects = map[string]string{
	IDWorkspace: "workspace", IDConfig: "config", IDPodman: "podman (sandbox)", IDEngine: "podman engine",
	IDMachine: "podman machine", IDPodmanMode: "podman mode", IDStorage: "storage driver",
	IDSandboxImage: "sandbox image", IDClaude: "claude (in sandbox)", IDKeychain: "OS keychain", IDGit: "git",
}

func subjectOf(id string) string {
	if s, ok := subjects[id]; ok {
		return s
	}
	return id
}

type check struct {
	id      string
	timeout time.Duration
	run     func(ctx context.Context, d Deps) Result
}

// Run performs every applicable check concurrently and returns them in display order.
func Run(ctx context.Context, d Deps) []Result {
	if d.GOOS == "" {
		d.GOOS = runtime.GOOS
	}
	checks := []check{
		{IDWorkspace, checkTimeout, checkWorkspace},
		{IDConfig, checkTimeout, checkConfig},
		{IDPodman, checkTimeout, checkPodman},
		{IDEngine, engineTimeout, checkEngine},
	}
	if d.GOOS == "darwin" {
		checks = append(checks, check{IDMachine, engineTimeout, checkMachine})
	}
	checks = append(checks, check{IDPodmanMode, engineTimeout, checkPodmanMode}, check{IDStorage, engineTimeout, checkStorage})
	checks = append(checks,
		check{IDSandboxImage, engineTimeout, checkSandboxImage},
		check{IDClaude, claudeTimeout, checkClaude},
		check{IDKeychain, checkTimeout, checkKeychain},
		check{IDGit, checkTimeout, checkGit},
	)
	results := make([]Result, len(checks))
	var wg sync.WaitGroup
	for i, c := range checks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i] = runOne(ctx, c, d)
		}()
	}
	wg.Wait()
	return results
}

// runOne bounds a check by its timeout even if the check itself ignores ctx (a keychain
// prompt, a stuck exec): the goroutine is abandoned and the item reports the timeout.
func runOne(ctx context.Context, c check, d Deps) Result {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	ch := make(chan Result, 1)
	go func() {
		defer func() {
			if p := recover(); p != nil {
				ch <- Result{Label: "check crashed", Hint: fmt.Sprint(p)}
			}
		}()
		ch <- c.run(ctx, d)
	}()
	var r Result
	select {
	case r = <-ch:
	case <-ctx.Done():
		r = Result{Label: fmt.Sprintf("no answer within %s", c.timeout),
			Hint: "this check hung; run `loopat doctor` again, and see the log if it keeps hanging"}
	}
	r.ID, r.Label = c.id, subjectOf(c.id)+": "+r.Label
	return r
}

func checkWorkspace(_ context.Context, d Deps) Result {
	label := d.Workspace.Home
	if d.Workspace.Home == "" {
		return Result{Label: "no folder", Hint: "set LOOPAT_HOME to a folder you can write, or make ~/.loopat writable"}
	}
	f, err := os.CreateTemp(d.Workspace.Home, ".doctor-*")
	if err != nil {
		return Result{Label: label + " (not writable)", Hint: fmt.Sprintf("make %s writable (or set LOOPAT_HOME elsewhere): %v", d.Workspace.Home, err)}
	}
	f.Close()
	os.Remove(f.Name())
	return Result{OK: true, Label: label + " (" + d.Workspace.Name + ")"}
}

func checkConfig(_ context.Context, d Deps) Result {
	path := d.Workspace.ConfigPath()
	if d.ConfigErr == nil {
		return Result{OK: true, Label: path}
	}
	hint := "fix the file; until then the app runs on defaults"
	var le *config.LoadError
	if errors.As(d.ConfigErr, &le) && le.Line > 0 {
		hint = fmt.Sprintf("fix line %d of %s; until then the app runs on defaults", le.Line, le.File)
	}
	return Result{Label: d.ConfigErr.Error(), Hint: hint}
}

func podmanPath(d Deps) string {
	if d.Engine != nil {
		return d.Engine.Podman()
	}
	if d.Config.Engine.Podman != "" {
		return d.Config.Engine.Podman
	}
	return "podman"
}

func checkPodman(ctx context.Context, d Deps) Result {
	out, err := exec.CommandContext(ctx, podmanPath(d), "--version").Output()
	if err != nil {
		return Result{Label: "not found", Hint: engine.InstallHint(d.GOOS)}
	}
	version := strings.TrimSpace(string(out))
	r := Result{OK: true, Label: version}
	if tooOld(version) {
		r.OK = false
		r.Hint = "podman 4.3 or newer is needed: " + upgradeHint(d.GOOS)
	}
	return r
}

func tooOld(version string) bool {
	var major, minor int
	f := strings.Fields(version)
	if len(f) == 0 {
		return false
	}
	if _, err := fmt.Sscanf(f[len(f)-1], "%d.%d", &major, &minor); err != nil {
		return false
	}
	return major < 4 || (major == 4 && minor < 3)
}

func upgradeHint(goos string) string {
	if goos == "darwin" {
		return "brew upgrade podman"
	}
	return "upgrade podman with your package manager (Debian 12 ships 4.3)"
}

// engineState waits briefly for discovery right after app start.
func engineState(ctx context.Context, d Deps) engine.State {
	return d.Engine.Settled(ctx)
}

func checkEngine(ctx context.Context, d Deps) Result {
	if d.Engine == nil {
		return Result{Label: "not started", Hint: "restart the app"}
	}
	st := engineState(ctx, d)
	if st.Phase == engine.PhaseReady {
		return Result{OK: true, Label: fmt.Sprintf("ready (podman %s via %s)", st.Version, st.Source)}
	}
	hint := st.Hint
	switch {
	case hint != "":
	case st.Phase == engine.PhaseAbsent:
		hint = engine.InstallHint(d.GOOS)
	case st.Phase == engine.PhaseMachineStopped:
		hint = engine.MachineStoppedHint
	default:
		hint = "run `podman info` in a terminal to see what fails"
	}
	label := string(st.Phase)
	if st.Reason != "" {
		label += " (" + st.Reason + ")"
	}
	return Result{Label: label, Hint: hint}
}

func checkMachine(ctx context.Context, d Deps) Result {
	if d.Engine == nil {
		return Result{Label: "unknown", Hint: engine.MachineStoppedHint}
	}
	list, err := d.Engine.Machines().List(ctx)
	if err != nil {
		return Result{Label: "cannot list machines", Hint: engine.InstallHint(d.GOOS)}
	}
	m, ok := machine.Pick(list, d.Config.Machine.Name)
	switch {
	case !ok:
		return Result{Label: "none created", Hint: engine.NoMachineHint}
	case m.Running:
		return Result{OK: true, Label: fmt.Sprintf("%s running (%d CPUs, %d MiB)", m.Name, m.CPUs, m.MemoryMiB)}
	case m.Starting:
		return Result{Label: m.Name + " starting", Hint: "wait for it to finish starting"}
	default:
		return Result{Label: m.Name + " stopped", Hint: engine.MachineStoppedHint}
	}
}

// hostInfo is the connected server's `podman info` facts, waiting within ctx.
func hostInfo(ctx context.Context, d Deps) (engine.HostInfo, *Result) {
	if d.Engine == nil {
		return engine.HostInfo{}, &Result{Label: "needs the podman engine", Hint: "restart the app"}
	}
	if st := engineState(ctx, d); st.Phase != engine.PhaseReady {
		return engine.HostInfo{}, &Result{Label: "needs the podman engine (" + string(st.Phase) + ")", Hint: "fix the podman engine item first"}
	}
	h, err := d.Engine.HostInfo(ctx)
	if err != nil {
		if st := d.Engine.State(); st.Phase == engine.PhaseReady {
			return engine.HostInfo{}, &Result{OK: true, Label: "unknown (podman info did not answer yet)"}
		}
		return engine.HostInfo{}, &Result{Label: "needs the podman engine", Hint: "fix the podman engine item first"}
	}
	return h, nil
}

func checkPodmanMode(ctx context.Context, d Deps) Result {
	h, bad := hostInfo(ctx, d)
	if bad != nil {
		return *bad
	}
	return PodmanModeResult(h)
}

func checkStorage(ctx context.Context, d Deps) Result {
	h, bad := hostInfo(ctx, d)
	if bad != nil {
		return *bad
	}
	return StorageResult(h, d.GOOS)
}

// RootlessDifferences are what rootless podman does differently from rootful for loops
// and cannot be removed by loopat.
var RootlessDifferences = []string{
	"files the agent writes in the workdir are yours on the host (your user is mapped to the sandbox user); files made by other users inside the sandbox show up under sub-UIDs: remove those with `podman unshare rm -rf <path>`",
	"loop networking runs through user-mode networking (slirp4netns or pasta): slower than rootful bridges, same isolation between workspaces",
	"resource limits (memory, CPUs, pids) need cgroup v2 with delegation; on cgroup v1 hosts they are not applied",
	"images and containers live in your own storage (~/.local/share/containers), separate from root's: the sandbox image is built once per user",
}

// RootfulDifferences are the rootful counterparts.
var RootfulDifferences = []string{
	"podman runs as root: the app gives the loop's folders to the sandbox user (uid 2000), so files the agent writes are owned by uid 2000 on the host",
}

// PodmanModeResult describes the server's mode: rootless or rootful, and what differs.
func PodmanModeResult(h engine.HostInfo) Result {
	if !h.Known {
		return Result{OK: true, Label: "unknown (podman info did not answer)", Detail: h.Error,
			Hint: "run `podman info` in a terminal; loops assume rootful until it answers"}
	}
	mode, diffs := "rootful", RootfulDifferences
	if h.Rootless {
		mode, diffs = "rootless", RootlessDifferences
		if h.CgroupVersion == "v1" {
			mode += ", cgroup v1: no resource limits"
		}
		if h.RootlessNetwork != "" {
			mode += ", network via " + h.RootlessNetwork
		}
	}
	return Result{OK: true, Label: mode, Detail: strings.Join(diffs, "; ")}
}

// StorageResult flags a storage driver that makes image builds slow and huge (vfs copies
// every layer in full) and says how to switch.
func StorageResult(h engine.HostInfo, goos string) Result {
	if !h.Known || h.StorageDriver == "" {
		return Result{OK: true, Label: "unknown"}
	}
	if h.StorageDriver != "vfs" {
		return Result{OK: true, Label: h.StorageDriver}
	}
	conf := "/etc/containers/storage.conf"
	if h.Rootless {
		conf = "~/.config/containers/storage.conf"
	}
	var how string
	if kernelAtLeast(h.Kernel, 5, 13) {
		how = fmt.Sprintf("your kernel (%s) supports native overlay: put `[storage]` and `driver = \"overlay\"` in %s", h.Kernel, conf)
	} else {
		how = fmt.Sprintf("your kernel (%s) is older than 5.13: install fuse-overlayfs (sudo apt install fuse-overlayfs) and put `[storage]`, `driver = \"overlay\"`, `[storage.options.overlay]`, `mount_program = \"/usr/bin/fuse-overlayfs\"` in %s", h.Kernel, conf)
	}
	if goos == "darwin" || goos == "windows" {
		how = "inside the podman machine (`podman machine ssh`), " + how
	}
	return Result{
		Label: "vfs (image builds are slow and every layer is a full copy: many GB per sandbox image)",
		Hint: how + ". Then run `podman system reset` to switch: it DELETES all of this podman's images, containers and volumes " +
			"(loopat rebuilds its sandbox image; your loops' files stay in the loopat folder).",
	}
}

// kernelAtLeast compares a kernel release such as "6.8.0-45-generic" with major.minor.
func kernelAtLeast(release string, major, minor int) bool {
	var ma, mi int
	if n, _ := fmt.Sscanf(release, "%d.%d", &ma, &mi); n < 2 {
		return false
	}
	return ma > major || (ma == major && mi >= minor)
}

// readyConn is the engine connection, waiting for discovery within ctx.
func readyConn(ctx context.Context, d Deps) (context.Context, *Result) {
	if d.Engine == nil {
		return nil, &Result{Label: "needs the podman engine", Hint: "restart the app"}
	}
	st := engineState(ctx, d)
	conn, err := d.Engine.Conn(ctx)
	if err != nil {
		return nil, &Result{Label: "needs the podman engine (" + string(st.Phase) + ")", Hint: "fix the podman engine item first"}
	}
	return conn, nil
}

func checkSandboxImage(ctx context.Context, d Deps) Result {
	if d.Images == nil {
		return Result{Label: "not checked (image service unavailable)", Hint: "restart the app"}
	}
	conn, bad := readyConn(ctx, d)
	if bad != nil {
		return *bad
	}
	ref, present, err := d.Images.SandboxImageStatus(ctx, conn)
	switch {
	case err != nil:
		return Result{Label: err.Error(), Hint: "run `loopat image build` to see the build output"}
	case present:
		return Result{OK: true, Label: ref}
	default:
		// Buildable: the engine works, so the first loop (or `loopat image build`) builds it.
		return Result{OK: true, Label: ref + " (not built yet; built on first use, ~2 min)"}
	}
}

func checkClaude(ctx context.Context, d Deps) Result {
	if d.Images == nil {
		return Result{Label: "not checked (image service unavailable)", Hint: "restart the app"}
	}
	conn, bad := readyConn(ctx, d)
	if bad != nil {
		return *bad
	}
	ref, present, err := d.Images.SandboxImageStatus(ctx, conn)
	if err != nil {
		return Result{Label: err.Error(), Hint: "run `loopat image build`"}
	}
	if !present {
		return Result{Label: "sandbox image " + ref + " not built yet",
			Hint: "build it now with `loopat image build` (or start a loop: it is built then)"}
	}
	v, err := d.Images.ClaudeVersion(ctx, conn)
	if err != nil {
		return Result{Label: err.Error(), Hint: "rebuild the sandbox image: loopat image build"}
	}
	return Result{OK: true, Label: v}
}

// keychainProbe round-trips a throwaway secret through the OS keychain.
func keychainProbe() error {
	const service, user = "loopat-doctor", "probe"
	if err := keyring.Set(service, user, "ok"); err != nil {
		return fmt.Errorf("store: %w", err)
	}
	defer keyring.Delete(service, user)
	v, err := keyring.Get(service, user)
	if err != nil {
		return fmt.Errorf("read back: %w", err)
	}
	if v != "ok" {
		return errors.New("read back a different value")
	}
	return nil
}

func checkKeychain(_ context.Context, d Deps) Result {
	probe := d.Keychain
	if probe == nil {
		probe = keychainProbe
	}
	if err := probe(); err != nil {
		return Result{Label: err.Error(), Hint: keychainHint(d.GOOS)}
	}
	return Result{OK: true, Label: "usable"}
}

func keychainHint(goos string) string {
	switch goos {
	case "darwin":
		return "unlock the login keychain (Keychain Access) and allow loopat to use it"
	case "windows":
		return "Windows Credential Manager must be available for your user"
	default:
		return "run a Secret Service keyring in your desktop session and unlock it: sudo apt install gnome-keyring (or use KeePassXC's Secret Service)"
	}
}

func checkGit(ctx context.Context, d Deps) Result {
	out, err := exec.CommandContext(ctx, "git", "--version").Output()
	if err != nil {
		hint := "sudo apt install git"
		if d.GOOS == "darwin" {
			hint = "xcode-select --install (or brew install git)"
		}
		return Result{Label: "not found", Hint: hint}
	}
	return Result{OK: true, Label: strings.TrimSpace(string(out))}
}
