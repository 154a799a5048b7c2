package images

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/containers/podman/v5/pkg/bindings/containers"
	pimages "github.com/containers/podman/v5/pkg/bindings/images"
	"github.com/containers/podman/v5/pkg/specgen"
	"github.com/google/uuid"

	"github.com/loopat/desktop/backend/config"
)

// SandboxImageStatus reports the base image ref for the current configuration and whether
// it exists (doctor.ImageInfo).
func (b *Builder) SandboxImageStatus(ctx context.Context, conn context.Context) (ref string, present bool, err error) {
	ref, err = b.BaseRef()
	if err != nil {
		return "", false, err
	}
	call, stop := joinContexts(conn, ctx)
	defer stop()
	present, err = pimages.Exists(call, ref, nil)
	if err != nil {
		return ref, false, fmt.Errorf("look up image %s: %w", ref, err)
	}
	return ref, present, nil
}

// ClaudeVersion runs `claude --version` as the loop user in a throwaway container of the
// base image (doctor.ImageInfo). Results are cached per image ID.
func (b *Builder) ClaudeVersion(ctx context.Context, conn context.Context) (string, error) {
	ref, present, err := b.SandboxImageStatus(ctx, conn)
	if err != nil {
		return "", err
	}
	if !present {
		return "", fmt.Errorf("sandbox image %s is not built yet", ref)
	}
	call, stop := joinContexts(conn, ctx)
	defer stop()
	info, err := pimages.GetImage(call, ref, nil)
	if err == nil && (info == nil || info.ImageData == nil) {
		err = fmt.Errorf("empty inspect report")
	}
	if err != nil {
		return "", fmt.Errorf("inspect image %s: %w", ref, err)
	}
	b.mu.Lock()
	v, ok := b.claude[info.ID]
	b.mu.Unlock()
	if ok {
		return v, nil
	}
	out, code, err := runOnce(call, ref, b.ws.Label(), []string{"claude", "--version"})
	if err != nil {
		return "", err
	}
	if code != 0 {
		return "", fmt.Errorf("claude --version in %s exited %d: %s", ref, code, strings.TrimSpace(out))
	}
	v = strings.TrimSpace(out)
	b.mu.Lock()
	b.claude[info.ID] = v
	b.mu.Unlock()
	return v, nil
}

// probeLabel marks runOnce's throwaway containers, so a later run can remove one its
// process did not live to remove (loopat doctor exits at its timeout and abandons a
// hung check; the deferred Remove never runs).
const probeLabel = "loopat.probe"

// Probe containers run at most probeRunLimit (podman kills them then); one created more
// than probeStaleAfter ago belongs to a process that is gone or gave up.
const (
	probeRunLimit   = 60 // seconds
	probeStaleAfter = 2 * time.Minute
)

// runOnce runs cmd in a new network-less container of image, returns its combined output
// and exit code, and removes the container.
func runOnce(call context.Context, image, workspace string, cmd []string) (string, int, error) {
	removeStaleProbes(call, workspace, probeStaleAfter)
	s := specgen.NewSpecGenerator(image, false)
	s.Name = "loopat-" + sanitizeName(workspace) + "-probe-" + uuid.NewString()[:8]
	s.Command = cmd
	s.Labels = map[string]string{config.LabelKey: workspace, probeLabel: "1"}
	s.NetNS = specgen.Namespace{NSMode: specgen.NoNetwork}
	s.Timeout = probeRunLimit
	created, err := containers.CreateWithSpec(call, s, nil)
	if err != nil {
		return "", 0, fmt.Errorf("create probe container from %s: %w", image, err)
	}
	defer func() {
		// Not the caller's context: the container must go even when the caller gave up.
		rmCtx := context.WithoutCancel(call)
		_, _ = containers.Remove(rmCtx, created.ID, new(containers.RemoveOptions).WithForce(true).WithVolumes(true))
	}()
	if err := containers.Start(call, created.ID, nil); err != nil {
		return "", 0, fmt.Errorf("start probe container: %w", err)
	}
	code, err := containers.Wait(call, created.ID, nil)
	if err != nil {
		return "", 0, fmt.Errorf("wait for probe container: %w", err)
	}
	stdout, stderr := make(chan string, 64), make(chan string, 64)
	var lines []string
	var mu sync.Mutex
	var wg sync.WaitGroup
	collect := func(ch chan string) {
		defer wg.Done()
		for l := range ch {
			mu.Lock()
			lines = append(lines, strings.TrimSuffix(l, "\n"))
			mu.Unlock()
		}
	}
	wg.Add(2)
	go collect(stdout)
	go collect(stderr)
	err = containers.Logs(call, created.ID, new(containers.LogOptions).WithStdout(true).WithStderr(true), stdout, stderr)
	close(stdout)
	close(stderr)
	wg.Wait()
	if err != nil {
		return "", 0, fmt.Errorf("read probe container output: %w", err)
	}
	return strings.Join(lines, "\n"), int(code), nil
}

func sanitizeName(s string) string {
	var b strings.Builder
	for _, r := range s {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-' || r == '.' {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
	}
	return b.String()
}

// removeStaleProbes removes this workspace's probe containers created more than olderThan
// ago (a younger one may be another process's probe still running). Best effort: a
// failure leaves them for the next run or for uninstall (they carry the workspace label).
func removeStaleProbes(call context.Context, workspace string, olderThan time.Duration) {
	filters := map[string][]string{"label": {config.LabelKey + "=" + workspace, probeLabel + "=1"}}
	list, err := containers.List(call, new(containers.ListOptions).WithAll(true).WithFilters(filters))
	if err != nil {
		slog.Debug("list stale probe containers", "err", err)
		return
	}
	for _, c := range list {
		if time.Since(c.Created) < olderThan {
			continue
		}
		if _, err := containers.Remove(call, c.ID, new(containers.RemoveOptions).WithForce(true).WithVolumes(true)); err != nil {
			slog.Debug("remove stale probe container", "id", c.ID, "err", err)
		}
	}
}
