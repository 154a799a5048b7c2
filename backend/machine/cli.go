package machine

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/loopat/desktop/backend/config"
	"github.com/loopat/desktop/backend/procgroup"
)

// CLI is the Provider backed by the podman executable.
type CLI struct {
	Podman       string        // executable path
	StartTimeout time.Duration // Start gives up after this
	Env          []string      // extra environment (e.g. CONTAINERS_MACHINE_PROVIDER); nil = inherit only
	Log          *slog.Logger
}

// NewCLI uses podman with the configured start timeout.
func NewCLI(podman string, m config.Machine, log *slog.Logger) *CLI {
	if log == nil {
		log = slog.Default()
	}
	timeout := time.Duration(m.StartTimeout) * time.Second
	if timeout <= 0 {
		timeout = 180 * time.Second
	}
	return &CLI{Podman: podman, StartTimeout: timeout, Log: log}
}

var _ Provider = (*CLI)(nil)

// listEntry mirrors podman's entities.ListReporter (sizes are byte counts as strings).
type listEntry struct {
	Name     string
	Default  bool
	Running  bool
	Starting bool
	LastUp   string
	VMType   string
	CPUs     uint64
	Memory   string
	DiskSize string
}

// List runs `podman machine list --format json`.
func (c *CLI) List(ctx context.Context) ([]Info, error) {
	out, err := c.run(ctx, nil, "machine", "list", "--format", "json")
	if err != nil {
		return nil, fmt.Errorf("list podman machines: %w", err)
	}
	return ParseList([]byte(out.stdout))
}

// ParseList decodes `podman machine list --format json` output.
func ParseList(data []byte) ([]Info, error) {
	var raw []listEntry
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, nil
	}
	if err := json.Unmarshal(data, &raw); err != nil {
		return nil, fmt.Errorf("parse podman machine list: %w", err)
	}
	list := make([]Info, 0, len(raw))
	for _, r := range raw {
		list = append(list, Info{
			Name: strings.TrimSuffix(r.Name, "*"), Default: r.Default, Running: r.Running, Starting: r.Starting,
			VMType: r.VMType, CPUs: r.CPUs, LastUp: r.LastUp,
			MemoryMiB: bytesTo(r.Memory, 1<<20), DiskGiB: bytesTo(r.DiskSize, 1<<30),
		})
	}
	return list, nil
}

func bytesTo(s string, unit uint64) uint64 {
	n, err := strconv.ParseUint(strings.TrimSpace(s), 10, 64)
	if err != nil {
		return 0
	}
	return n / unit
}

// inspectEntry mirrors the fields of podman's machine.InspectInfo we read.
type inspectEntry struct {
	Name           string
	State          string
	Rootful        bool
	ConnectionInfo struct {
		PodmanSocket *struct{ Path string }
	}
	Resources struct {
		CPUs     uint64
		DiskSize uint64 // GiB
		Memory   uint64 // MiB
	}
}

// Inspect runs `podman machine inspect [name]`.
func (c *CLI) Inspect(ctx context.Context, name string) (Inspect, error) {
	args := []string{"machine", "inspect"}
	if name != "" {
		args = append(args, name)
	}
	out, err := c.run(ctx, nil, args...)
	if err != nil {
		return Inspect{}, fmt.Errorf("inspect podman machine %s: %w", displayName(name), err)
	}
	return ParseInspect([]byte(out.stdout))
}

// ParseInspect decodes the first machine of `podman machine inspect` output.
func ParseInspect(data []byte) (Inspect, error) {
	var raw []inspectEntry
	if err := json.Unmarshal(data, &raw); err != nil {
		return Inspect{}, fmt.Errorf("parse podman machine inspect: %w", err)
	}
	if len(raw) == 0 {
		return Inspect{}, errors.New("podman machine inspect returned no machine")
	}
	r := raw[0]
	in := Inspect{Name: r.Name, State: r.State, Rootful: r.Rootful, CPUs: r.Resources.CPUs,
		MemoryMiB: r.Resources.Memory, DiskGiB: r.Resources.DiskSize}
	if r.ConnectionInfo.PodmanSocket != nil {
		in.Socket = r.ConnectionInfo.PodmanSocket.Path
	}
	return in, nil
}

// Init runs `podman machine init` with explicit sizes. It can take minutes (image download).
func (c *CLI) Init(ctx context.Context, o InitOptions, progress Progress) error {
	args := []string{"machine", "init",
		"--cpus", strconv.Itoa(o.CPUs), "--memory", strconv.Itoa(o.MemoryMiB), "--disk-size", strconv.Itoa(o.DiskGiB)}
	if o.Name != "" {
		args = append(args, o.Name)
	}
	c.Log.Info("podman machine init", "machine", displayName(o.Name), "cpus", o.CPUs, "memoryMiB", o.MemoryMiB, "diskGiB", o.DiskGiB)
	out, err := c.run(ctx, progress, args...)
	if err != nil {
		d := Diagnose(DiagnoseInput{Machine: o.Name, Output: out.combined(), Action: "init"})
		return &StartError{Machine: o.Name, Action: "init", Err: err, Output: out.combined(), Diagnosis: d}
	}
	return nil
}

// Start runs `podman machine start [name]` under StartTimeout and diagnoses failures.
func (c *CLI) Start(ctx context.Context, name string, progress Progress) error {
	tctx, cancel := context.WithTimeout(ctx, c.StartTimeout)
	defer cancel()
	args := []string{"machine", "start"}
	if name != "" {
		args = append(args, name)
	}
	c.Log.Info("podman machine start", "machine", displayName(name), "timeout", c.StartTimeout)
	started := time.Now()
	out, err := c.run(tctx, progress, args...)
	if err == nil {
		c.Log.Info("podman machine started", "machine", displayName(name), "took", time.Since(started).Round(time.Millisecond))
		return nil
	}
	timedOut := errors.Is(tctx.Err(), context.DeadlineExceeded) && ctx.Err() == nil
	if ctx.Err() != nil {
		return fmt.Errorf("start podman machine %s: %w", displayName(name), ctx.Err())
	}
	in := DiagnoseInput{Machine: name, Output: out.combined(), TimedOut: timedOut, Timeout: c.StartTimeout, Action: "start"}
	// Look around for the usual suspects: another machine up, or no such machine.
	lctx, lcancel := context.WithTimeout(ctx, 10*time.Second)
	defer lcancel()
	if list, lerr := c.List(lctx); lerr == nil {
		in.Machines, in.MachinesKnown = list, true
	}
	if v, verr := c.run(lctx, nil, "--version"); verr == nil {
		in.PodmanVersion = strings.TrimSpace(v.stdout)
	}
	d := Diagnose(in)
	c.Log.Warn("podman machine start failed", "machine", displayName(name), "timedOut", timedOut, "cause", d.Cause, "err", err)
	if timedOut {
		err = fmt.Errorf("no result after %s: %w", c.StartTimeout, context.DeadlineExceeded)
	}
	return &StartError{Machine: name, Action: "start", Err: err, Output: out.combined(), TimedOut: timedOut, Diagnosis: d}
}

// Stop runs `podman machine stop [name]`.
func (c *CLI) Stop(ctx context.Context, name string) error {
	args := []string{"machine", "stop"}
	if name != "" {
		args = append(args, name)
	}
	c.Log.Info("podman machine stop", "machine", displayName(name))
	if out, err := c.run(ctx, nil, args...); err != nil {
		return fmt.Errorf("stop podman machine %s: %w: %s", displayName(name), err, lastLine(out.combined()))
	}
	return nil
}

// StartError is a failed or hung init/start with its diagnosis.
type StartError struct {
	Machine   string    `json:"machine"`
	Action    string    `json:"action"`
	Err       error     `json:"-"`
	Output    string    `json:"output"`
	TimedOut  bool      `json:"timedOut"`
	Diagnosis Diagnosis `json:"diagnosis"`
}

func (e *StartError) Error() string {
	return fmt.Sprintf("podman machine %s %s failed: %v; likely cause: %s; fix: %s",
		e.Action, displayName(e.Machine), e.Err, e.Diagnosis.Cause, e.Diagnosis.Fix)
}

func (e *StartError) Unwrap() error { return e.Err }

type output struct{ stdout, stderr string }

func (o output) combined() string {
	if o.stdout == "" {
		return o.stderr
	}
	if o.stderr == "" {
		return o.stdout
	}
	return o.stdout + "\n" + o.stderr
}

// run executes podman with args, streaming every output line to progress.
func (c *CLI) run(ctx context.Context, progress Progress, args ...string) (output, error) {
	cmd := exec.CommandContext(ctx, c.Podman, args...)
	if c.Env != nil {
		cmd.Env = append(cmd.Environ(), c.Env...)
	}
	// Kill the whole group on cancel: a hung start leaves helpers (gvproxy, sleep) behind,
	// and WaitDelay stops us waiting on pipes such helpers may still hold.
	procgroup.Own(cmd)
	cmd.Cancel = func() error { _ = procgroup.Stop(cmd); return nil }
	cmd.WaitDelay = 3 * time.Second
	var mu sync.Mutex
	stdout := &lineWriter{mu: &mu, progress: progress}
	stderr := &lineWriter{mu: &mu, progress: progress}
	cmd.Stdout, cmd.Stderr = stdout, stderr
	err := cmd.Run()
	stdout.flush()
	stderr.flush()
	out := output{stdout: stdout.buf.String(), stderr: stderr.buf.String()}
	if ctx.Err() != nil {
		return out, ctx.Err()
	}
	var execErr *exec.Error
	if errors.As(err, &execErr) {
		return out, fmt.Errorf("run %s: %w", c.Podman, err)
	}
	if err != nil {
		if msg := lastLine(out.stderr); msg != "" {
			return out, fmt.Errorf("%w: %s", err, msg)
		}
		return out, err
	}
	return out, nil
}

// lineWriter keeps everything written and hands complete lines to progress.
type lineWriter struct {
	mu       *sync.Mutex
	progress Progress
	buf      bytes.Buffer
	pending  []byte
}

func (w *lineWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf.Write(p)
	w.pending = append(w.pending, p...)
	for {
		i := bytes.IndexAny(w.pending, "\r\n")
		if i < 0 {
			break
		}
		w.emit(string(w.pending[:i]))
		w.pending = w.pending[i+1:]
	}
	return len(p), nil
}

func (w *lineWriter) flush() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.emit(string(w.pending))
	w.pending = nil
}

func (w *lineWriter) emit(line string) {
	if w.progress != nil && strings.TrimSpace(line) != "" {
		w.progress(strings.TrimRight(line, " "))
	}
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return strings.TrimSpace(lines[len(lines)-1])
}

func displayName(name string) string {
	if name == "" {
		return "(default)"
	}
	return strconv.Quote(name)
}
