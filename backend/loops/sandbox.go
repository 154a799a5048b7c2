package loops

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"sort"
	"strings"
	"sync"

	"github.com/containers/podman/v5/pkg/api/handlers"
	"github.com/containers/podman/v5/pkg/bindings"
	"github.com/containers/podman/v5/pkg/bindings/containers"
	"github.com/containers/podman/v5/pkg/bindings/images"
	"github.com/containers/podman/v5/pkg/bindings/network"
	"github.com/containers/podman/v5/pkg/bindings/system"
	"github.com/containers/podman/v5/pkg/specgen"
	dockerContainer "github.com/docker/docker/api/types/container"
	spec "github.com/opencontainers/runtime-spec/specs-go"
	nettypes "go.podman.io/common/libnetwork/types"

	"github.com/loopat/desktop/backend/agent"
	"github.com/loopat/desktop/backend/config"
	"github.com/loopat/desktop/backend/execstream"
	"github.com/loopat/desktop/backend/sandboxuser"
)

// Labels on loop containers besides config.LabelKey.
const (
	LabelLoopID     = "loopat.loop-id"
	LabelConfigHash = "loopat.config-hash"
)

// Paths inside the sandbox. The image user (uid 2000) has /home/loopat as passwd home,
// so ssh and other tools find the files of the mounted home.
const (
	SandboxUser = sandboxuser.Spec
	SandboxUID  = sandboxuser.UID
	SandboxHome = "/home/loopat"
	SandboxWork = "/home/loopat/work"
	// SecretsDir is a tmpfs (0700, the sandbox user's) holding the loop's file secrets:
	// the home is a host folder, so values live here and the home gets symlinks.
	SecretsDir = "/run/loopat-secrets"
)

// ConnProvider yields a podman bindings connection context (engine.Engine implements it).
type ConnProvider interface {
	Conn(ctx context.Context) (context.Context, error)
}

// Mount is a host folder bound into the sandbox.
type Mount struct {
	Source   string `json:"source"`
	Target   string `json:"target"`
	ReadOnly bool   `json:"readOnly"`
}

// ContainerSpec is everything that defines a loop container; its hash decides recreation.
type ContainerSpec struct {
	Image   string
	ImageID string
	Mounts  []Mount
}

// Hash is stable over mount order and changes with the image or any mount.
func (s ContainerSpec) Hash() string {
	ms := append([]Mount(nil), s.Mounts...)
	sort.Slice(ms, func(i, j int) bool { return ms[i].Target < ms[j].Target })
	h := sha256.New()
	fmt.Fprintf(h, "image=%s\nimage-id=%s\nuser=%s\ntmpfs=%s\n", s.Image, s.ImageID, SandboxUser, SecretsDir)
	for _, m := range ms {
		fmt.Fprintf(h, "mount=%s:%s:%t\n", m.Source, m.Target, m.ReadOnly)
	}
	return hex.EncodeToString(h.Sum(nil))[:16]
}

// Sandbox manages the podman containers of one workspace's loops.
type Sandbox struct {
	ws   config.Workspace
	conn ConnProvider

	mu       sync.Mutex
	rootless map[string]bool // server URI -> its `podman info` security.rootless
}

// NewSandbox returns a Sandbox for ws.
func NewSandbox(ws config.Workspace, conn ConnProvider) *Sandbox {
	return &Sandbox{ws: ws, conn: conn, rootless: map[string]bool{}}
}

// serverRootless asks the podman server behind c whether it runs rootless (cached per
// server URI: the engine may reconnect elsewhere, a server does not change its mode).
func (s *Sandbox) serverRootless(c context.Context) (bool, error) {
	key := ""
	if cl, err := bindings.GetClient(c); err == nil && cl.URI != nil {
		key = cl.URI.String()
	}
	s.mu.Lock()
	v, ok := s.rootless[key]
	s.mu.Unlock()
	if ok && key != "" {
		return v, nil
	}
	info, err := system.Info(c, nil)
	if err != nil {
		return false, fmt.Errorf("podman info (rootless or rootful?): %w", err)
	}
	v = info.Host != nil && info.Host.Security.Rootless
	s.mu.Lock()
	s.rootless[key] = v
	s.mu.Unlock()
	return v, nil
}

// ContainerName is loopat-<workspace id>-<loop id>.
func (s *Sandbox) ContainerName(loopID string) string { return s.ws.ResourcePrefix() + "-" + loopID }

// NetworkName is the per-workspace network loopat-<workspace id>.
func (s *Sandbox) NetworkName() string { return s.ws.ResourcePrefix() }

// removeLegacyContainer removes the container a workspace made for this loop before
// workspace ids (named and labelled by the workspace name). Only a container whose labels
// name both our legacy label and this loop id is touched: another home with the same name
// has other loop ids.
func (s *Sandbox) removeLegacyContainer(c context.Context, loopID string) error {
	if s.ws.LegacyLabel == "" {
		return nil
	}
	name := "loopat-" + s.ws.LegacyLabel + "-" + loopID
	if name == s.ContainerName(loopID) {
		return nil
	}
	info, err := containers.Inspect(c, name, nil)
	if err != nil {
		if isNoSuchContainer(err) {
			return nil
		}
		return fmt.Errorf("inspect old container %s: %w", name, err)
	}
	if info.Config == nil || info.Config.Labels[config.LabelKey] != s.ws.LegacyLabel || info.Config.Labels[LabelLoopID] != loopID {
		return nil
	}
	if _, err := containers.Remove(c, name, new(containers.RemoveOptions).WithForce(true).WithIgnore(true).WithTimeout(0)); err != nil && !isNoSuchContainer(err) {
		return fmt.Errorf("remove old container %s: %w", name, err)
	}
	return nil
}

// EnsureNetwork creates the workspace network if missing.
func (s *Sandbox) EnsureNetwork(ctx context.Context) error {
	c, err := s.conn.Conn(ctx)
	if err != nil {
		return fmt.Errorf("engine: %w", err)
	}
	ok, err := network.Exists(c, s.NetworkName(), nil)
	if err != nil {
		return fmt.Errorf("check network %s: %w", s.NetworkName(), err)
	}
	if ok {
		return nil
	}
	_, err = network.Create(c, &nettypes.Network{
		Name: s.NetworkName(), Driver: "bridge",
		Labels: map[string]string{config.LabelKey: s.ws.Label()},
	})
	if err != nil && !strings.Contains(err.Error(), "already exists") {
		return fmt.Errorf("create network %s: %w", s.NetworkName(), err)
	}
	return nil
}

// ImageID resolves a reference to the local image id (part of the config hash).
func (s *Sandbox) ImageID(ctx context.Context, ref string) (string, error) {
	c, err := s.conn.Conn(ctx)
	if err != nil {
		return "", fmt.Errorf("engine: %w", err)
	}
	c, done := callCtx(c, ctx)
	defer done()
	rep, err := images.GetImage(c, ref, nil)
	if err != nil {
		return "", fmt.Errorf("inspect image %s: %w", ref, err)
	}
	return rep.ID, nil
}

// callCtx is conn (the engine connection's context: the bindings read the connection
// from it) also cancelled when ctx ends, so a cancelled start (Delete, Archive, Close)
// stops waiting on the engine instead of running on under the connection's lifetime.
func callCtx(conn, ctx context.Context) (context.Context, context.CancelFunc) {
	c, cancel := context.WithCancel(conn)
	stop := context.AfterFunc(ctx, cancel)
	return c, func() { stop(); cancel() }
}

// Ensure makes the loop's container exist with spec and run. A container whose config
// hash differs (image or mounts changed) is removed and created again.
func (s *Sandbox) Ensure(ctx context.Context, loopID string, cs ContainerSpec) (recreated bool, err error) {
	c, err := s.conn.Conn(ctx)
	if err != nil {
		return false, fmt.Errorf("engine: %w", err)
	}
	c, done := callCtx(c, ctx)
	defer done()
	name := s.ContainerName(loopID)
	hash := cs.Hash()
	exists, err := containers.Exists(c, name, nil)
	if err != nil {
		return false, fmt.Errorf("check container %s: %w", name, err)
	}
	if exists {
		info, err := containers.Inspect(c, name, nil)
		if err != nil {
			return false, fmt.Errorf("inspect container %s: %w", name, err)
		}
		if info.Config != nil && info.Config.Labels[LabelConfigHash] == hash {
			if info.State != nil && info.State.Running {
				return false, nil
			}
			if err := containers.Start(c, name, nil); err != nil {
				return false, fmt.Errorf("start container %s: %w", name, err)
			}
			return false, nil
		}
		if _, err := containers.Remove(c, name, new(containers.RemoveOptions).WithForce(true).WithTimeout(0)); err != nil {
			return false, fmt.Errorf("remove drifted container %s: %w", name, err)
		}
		recreated = true
	} else if err := s.removeLegacyContainer(c, loopID); err != nil {
		return false, err
	}
	if err := s.EnsureNetwork(ctx); err != nil {
		return recreated, err
	}
	g := specgen.NewSpecGenerator(cs.Image, false)
	g.Name = name
	g.Labels = map[string]string{config.LabelKey: s.ws.Label(), LabelLoopID: loopID, LabelConfigHash: hash}
	g.Entrypoint = []string{"sleep"}
	g.Command = []string{"infinity"}
	yes := true
	g.Init = &yes
	g.User = SandboxUser
	g.WorkDir = SandboxWork
	// Only non-secret environment here: secrets go to each exec.
	g.Env = map[string]string{"HOME": SandboxHome}
	// A named network needs bridge mode said explicitly: rootless podman defaults to
	// slirp4netns/pasta and refuses networks otherwise.
	g.NetNS = specgen.Namespace{NSMode: specgen.Bridge}
	g.Networks = map[string]nettypes.PerNetworkOptions{s.NetworkName(): {}}
	rootless, err := s.serverRootless(c)
	if err != nil {
		return recreated, err
	}
	if rootless {
		// The server's user (us, on the host) becomes the image user inside, so files the
		// agent writes in the mounts are the user's on the host. Decided by the server,
		// not by our euid: the app may talk to a machine's or another user's podman.
		g.UserNS = specgen.Namespace{NSMode: specgen.KeepID, Value: fmt.Sprintf("uid=%d,gid=%d", SandboxUID, SandboxUID)}
	}
	for _, m := range cs.Mounts {
		opt := "rw"
		if m.ReadOnly {
			opt = "ro"
		}
		g.Mounts = append(g.Mounts, spec.Mount{Type: "bind", Source: m.Source, Destination: m.Target, Options: []string{"rbind", opt}})
	}
	// File secrets are streamed in after each start (deliverFiles): memory only.
	g.Mounts = append(g.Mounts, spec.Mount{Type: "tmpfs", Source: "tmpfs", Destination: SecretsDir,
		// "U" chowns it to the container user (podman 4.3 rejects uid=/gid=).
		Options: []string{"rw", "nosuid", "nodev", "noexec", "size=16m", "mode=0700", "U"}})
	if _, err := containers.CreateWithSpec(c, g, nil); err != nil {
		return recreated, fmt.Errorf("create container %s: %w", name, err)
	}
	if err := containers.Start(c, name, nil); err != nil {
		return recreated, fmt.Errorf("start container %s: %w", name, err)
	}
	return recreated, nil
}

// Stop stops the loop's container if it runs.
func (s *Sandbox) Stop(ctx context.Context, loopID string) error {
	c, err := s.conn.Conn(ctx)
	if err != nil {
		return fmt.Errorf("engine: %w", err)
	}
	err = containers.Stop(c, s.ContainerName(loopID), new(containers.StopOptions).WithTimeout(2).WithIgnore(true))
	if err != nil && !isNoSuchContainer(err) {
		return fmt.Errorf("stop container: %w", err)
	}
	return nil
}

// Remove deletes the loop's container (no error when absent).
func (s *Sandbox) Remove(ctx context.Context, loopID string) error {
	c, err := s.conn.Conn(ctx)
	if err != nil {
		return fmt.Errorf("engine: %w", err)
	}
	_, err = containers.Remove(c, s.ContainerName(loopID), new(containers.RemoveOptions).WithForce(true).WithIgnore(true).WithTimeout(0))
	if err != nil && !isNoSuchContainer(err) {
		return fmt.Errorf("remove container: %w", err)
	}
	return nil
}

// Running reports whether the loop's container exists and runs.
func (s *Sandbox) Running(ctx context.Context, loopID string) (bool, error) {
	c, err := s.conn.Conn(ctx)
	if err != nil {
		return false, fmt.Errorf("engine: %w", err)
	}
	info, err := containers.Inspect(c, s.ContainerName(loopID), nil)
	if err != nil {
		if isNoSuchContainer(err) {
			return false, nil
		}
		return false, fmt.Errorf("inspect container: %w", err)
	}
	return info.State != nil && info.State.Running, nil
}

// ContainerInfo is a loop container found by label.
type ContainerInfo struct {
	ID     string `json:"id"`
	Name   string `json:"name"`
	LoopID string `json:"loopId"`
	State  string `json:"state"`
}

// List returns this workspace's loop containers.
func (s *Sandbox) List(ctx context.Context) ([]ContainerInfo, error) {
	c, err := s.conn.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("engine: %w", err)
	}
	list, err := containers.List(c, new(containers.ListOptions).WithAll(true).
		WithFilters(map[string][]string{"label": {config.LabelKey + "=" + s.ws.Label(), LabelLoopID}}))
	if err != nil {
		return nil, fmt.Errorf("list loop containers: %w", err)
	}
	out := make([]ContainerInfo, 0, len(list))
	for _, lc := range list {
		name := ""
		if len(lc.Names) > 0 {
			name = lc.Names[0]
		}
		out = append(out, ContainerInfo{ID: lc.ID, Name: name, LoopID: lc.Labels[LabelLoopID], State: lc.State})
	}
	return out, nil
}

func isNoSuchContainer(err error) bool {
	return err != nil && (strings.Contains(err.Error(), "no such container") || strings.Contains(err.Error(), "no container with"))
}

// ExecProcess is a process exec'd in a loop container; it implements agent.Process.
// Like os/exec pipes, Stdout and Stderr must be read or the process blocks on output.
type ExecProcess struct {
	sb        *Sandbox
	conn      context.Context
	container string
	execID    string
	pidFile   string
	tty       bool

	stdinW  *io.PipeWriter
	stdoutR *io.PipeReader
	stderrR *io.PipeReader

	done     chan struct{}
	code     int
	err      error
	killOnce sync.Once
}

// Exec starts cmd in the loop's container. With tty the process gets a terminal and
// stderr is merged into stdout. The process's pid is recorded so Kill can end its tree.
func (s *Sandbox) Exec(ctx context.Context, loopID string, cmd agent.Command, tty bool, cols, rows int) (*ExecProcess, error) {
	// The process outlives the request that starts it: its connection (used later to
	// read the exit code and to kill it) must not end with ctx.
	c, err := s.conn.Conn(context.WithoutCancel(ctx))
	if err != nil {
		return nil, fmt.Errorf("engine: %w", err)
	}
	if len(cmd.Args) == 0 {
		return nil, errors.New("exec: empty command")
	}
	token := make([]byte, 6)
	_, _ = rand.Read(token)
	pidFile := "/tmp/.loopat-exec-" + hex.EncodeToString(token) + ".pid"
	// sh records its pid, then becomes the command (same pid).
	args := append([]string{"sh", "-c", `echo $$ > "$0"; exec "$@"`, pidFile}, cmd.Args...)
	opts := dockerContainer.ExecOptions{
		User: cmd.User, Tty: tty, AttachStdin: !cmd.NoStdin, AttachStdout: true, AttachStderr: !tty,
		Env: cmd.Env, WorkingDir: cmd.WorkDir, Cmd: args,
	}
	if tty && cols > 0 && rows > 0 {
		opts.ConsoleSize = &[2]uint{uint(rows), uint(cols)}
	}
	name := s.ContainerName(loopID)
	execID, err := containers.ExecCreate(c, name, &handlers.ExecCreateConfig{ExecOptions: opts})
	if err != nil {
		return nil, fmt.Errorf("exec in %s: %w", name, err)
	}
	p := &ExecProcess{sb: s, conn: c, container: name, execID: execID, pidFile: pidFile, tty: tty, done: make(chan struct{})}
	// The connection context, not the caller's: the process outlives the request.
	rw, err := execstream.Start(c, execID, tty)
	if err != nil {
		return nil, fmt.Errorf("start exec in %s: %w", name, err)
	}
	stdinR, stdinW := io.Pipe()
	stdoutR, stdoutW := io.Pipe()
	stderrR, stderrW := io.Pipe()
	p.stdinW, p.stdoutR, p.stderrR = stdinW, stdoutR, stderrR
	if cmd.NoStdin {
		stdinW.Close()
	} else {
		go func() {
			_, _ = io.Copy(rw, stdinR)
		}()
	}
	go func() {
		var err error
		if tty {
			_, err = io.Copy(stdoutW, rw)
		} else {
			err = execstream.Demux(rw, stdoutW, stderrW)
		}
		if err != nil && (errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed)) {
			err = nil
		}
		rw.Close()
		p.code = -1
		if insp, ierr := containers.ExecInspect(c, execID, nil); ierr == nil {
			p.code = insp.ExitCode
		} else if err == nil {
			err = ierr
		}
		p.err = err
		stdoutW.Close()
		stderrW.Close()
		stdinW.Close()
		stdinR.Close()
		close(p.done)
	}()
	return p, nil
}

func (p *ExecProcess) ID() string            { return p.execID }
func (p *ExecProcess) Stdin() io.WriteCloser { return p.stdinW }
func (p *ExecProcess) Stdout() io.Reader     { return p.stdoutR }
func (p *ExecProcess) Stderr() io.Reader     { return p.stderrR }
func (p *ExecProcess) Done() <-chan struct{} { return p.done }

// Wait blocks until the process ended and returns its exit code.
func (p *ExecProcess) Wait() (int, error) {
	<-p.done
	return p.code, p.err
}

// Resize sets the terminal size of a tty process.
func (p *ExecProcess) Resize(ctx context.Context, cols, rows int) error {
	if !p.tty {
		return errors.New("resize: process has no terminal")
	}
	if err := containers.ResizeExecTTY(p.conn, p.execID, new(containers.ResizeExecTTYOptions).WithWidth(cols).WithHeight(rows)); err != nil {
		return fmt.Errorf("resize terminal: %w", err)
	}
	return nil
}

// killTree stops a pid and all its descendants (found through /proc children lists),
// since signals sent through exec do not reach the process tree.
const killTree = `kt() { kill -STOP "$1" 2>/dev/null; for c in $(cat /proc/"$1"/task/*/children 2>/dev/null); do kt "$c"; done; kill -KILL "$1" 2>/dev/null; }; [ -f "$0" ] && kt "$(cat "$0")"; rm -f "$0"`

// Kill ends the process and its children.
func (p *ExecProcess) Kill(ctx context.Context) error {
	select {
	case <-p.done:
		return nil
	default:
	}
	var err error
	p.killOnce.Do(func() {
		var kid string
		kid, err = containers.ExecCreate(p.conn, p.container, &handlers.ExecCreateConfig{ExecOptions: dockerContainer.ExecOptions{
			User: "0", Cmd: []string{"sh", "-c", killTree, p.pidFile}, AttachStdout: true, AttachStderr: true,
		}})
		if err != nil {
			err = fmt.Errorf("kill process: %w", err)
			return
		}
		var rw io.ReadWriteCloser
		if rw, err = execstream.Start(p.conn, kid, false); err != nil {
			err = fmt.Errorf("kill process: %w", err)
			return
		}
		_ = execstream.Demux(rw, io.Discard, io.Discard)
		rw.Close()
	})
	select {
	case <-p.done:
	case <-ctx.Done():
		return fmt.Errorf("kill process: %w", ctx.Err())
	}
	return err
}
