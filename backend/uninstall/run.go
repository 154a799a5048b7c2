package uninstall

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/containers/podman/v5/pkg/bindings/containers"
	pimages "github.com/containers/podman/v5/pkg/bindings/images"
	"github.com/containers/podman/v5/pkg/bindings/network"
)

// Step names, in the order Run takes them.
const (
	StepStopLoops  = "stop-loops"
	StepContainers = "containers"
	StepImages     = "images"
	StepNetworks   = "networks"
	StepKeychain   = "keychain"
	StepService    = "podman-service"
	StepData       = "data"
)

// Steps is the fixed order of Run.
var Steps = []string{StepStopLoops, StepContainers, StepImages, StepNetworks, StepKeychain, StepService, StepData}

// Step statuses.
const (
	StatusRunning = "running"
	StatusDone    = "done"
	StatusFailed  = "failed"
	StatusSkipped = "skipped"
)

// Step is one progress update.
type Step struct {
	Step   string `json:"step"`
	Status string `json:"status"`
	Detail string `json:"detail,omitempty"`
}

// Leftover is something Run could not remove (or could not check).
type Leftover struct {
	What   string `json:"what"`
	Reason string `json:"reason"`
}

// Result is the outcome of Run.
type Result struct {
	Workspace string     `json:"workspace"`
	KeepData  bool       `json:"keepData"`
	DryRun    bool       `json:"dryRun"`
	Steps     []Step     `json:"steps"`     // final status of every step
	Removed   []string   `json:"removed"`   // what went
	Remaining []Leftover `json:"remaining"` // what could not be removed or checked
	Kept      []string   `json:"kept,omitempty"`
}

// Complete reports whether nothing was left behind.
func (r Result) Complete() bool { return len(r.Remaining) == 0 && !r.DryRun }

// stopTimeout is how long a loop container gets to stop before podman kills it.
const stopTimeout = 5

type runner struct {
	d        Deps
	o        Options
	res      *Result
	progress func(Step)
	conn     context.Context
	connErr  error
	// unchecked: podman could not be reached, so its resources may still be there and
	// the files a later run needs to find them (identity, engine settings) stay.
	unchecked bool
	failed    map[string]bool
}

// Run removes the workspace's resources step by step. Every step reports running and
// then done, failed or skipped through progress (may be nil); a failed step does not stop
// the rest. Everything is re-listed by label, so running again after an interruption
// finishes the job ("already gone" is success). With DryRun nothing changes.
func Run(ctx context.Context, d Deps, o Options, progress func(Step)) Result {
	res := Result{Workspace: d.Workspace.Name, KeepData: o.KeepData, DryRun: o.DryRun, Removed: []string{}, Remaining: []Leftover{}}
	r := &runner{d: d, o: o, res: &res, progress: progress, failed: map[string]bool{}}
	if d.Workspace.Name == "" || d.Workspace.Home == "" {
		res.Remaining = append(res.Remaining, Leftover{What: "workspace", Reason: "no workspace given"})
		return res
	}
	steps := []struct {
		name string
		fn   func(context.Context) (string, error)
	}{
		{StepStopLoops, r.stopLoops},
		{StepContainers, r.removeContainers},
		{StepImages, r.removeImages},
		{StepNetworks, r.removeNetworks},
		{StepKeychain, r.purgeKeychain},
		{StepService, r.stopService},
		{StepData, r.removeData},
	}
	for _, s := range steps {
		if o.DryRun {
			r.report(Step{Step: s.name, Status: StatusSkipped, Detail: "dry run"})
			continue
		}
		if err := ctx.Err(); err != nil {
			r.fail(s.name, fmt.Errorf("interrupted: %w", err))
			res.Remaining = append(res.Remaining, Leftover{What: "step " + s.name, Reason: "not run: interrupted"})
			continue
		}
		r.report(Step{Step: s.name, Status: StatusRunning})
		left := len(res.Remaining)
		detail, err := s.fn(ctx)
		if err != nil && !errors.Is(err, errSkip) && len(res.Remaining) == left {
			// Every failure is listed, even one that named no single leftover.
			res.Remaining = append(res.Remaining, Leftover{What: "step " + s.name, Reason: err.Error()})
		}
		switch {
		case errors.Is(err, errSkip):
			r.report(Step{Step: s.name, Status: StatusSkipped, Detail: detail})
		case err != nil:
			r.fail(s.name, err)
		default:
			r.report(Step{Step: s.name, Status: StatusDone, Detail: detail})
		}
	}
	return res
}

// errSkip marks a step that had nothing it could do (e.g. podman unreachable).
var errSkip = errors.New("skipped")

func (r *runner) report(s Step) {
	if s.Status != StatusRunning {
		r.res.Steps = append(r.res.Steps, s)
	}
	if r.progress != nil {
		r.progress(s)
	}
}

func (r *runner) fail(step string, err error) {
	r.failed[step] = true
	r.report(Step{Step: step, Status: StatusFailed, Detail: err.Error()})
}

func (r *runner) leftover(what string, err error) error {
	r.res.Remaining = append(r.res.Remaining, Leftover{What: what, Reason: err.Error()})
	return fmt.Errorf("%s: %w", what, err)
}

// podman connects once; an unreachable podman skips the podman steps and is listed as
// unchecked, so the user knows to run uninstall again when podman runs.
func (r *runner) podman(ctx context.Context) (context.Context, error) {
	if r.conn == nil && r.connErr == nil {
		r.conn, r.connErr = connect(ctx, r.d)
		if r.connErr != nil {
			r.unchecked = true
			r.res.Remaining = append(r.res.Remaining, Leftover{
				What:   "containers, images and networks labelled loopat.workspace=" + r.d.Workspace.Label(),
				Reason: "not checked: " + r.connErr.Error() + "; start podman, then run `loopat uninstall` again to finish",
			})
		}
	}
	if r.connErr != nil {
		return nil, fmt.Errorf("%w: %v", errSkip, r.connErr)
	}
	return r.conn, nil
}

func skipDetail(err error) string { return strings.TrimPrefix(err.Error(), errSkip.Error()+": ") }

func (r *runner) stopLoops(ctx context.Context) (string, error) {
	var errs []error
	if r.d.StopLoops != nil {
		if err := r.d.StopLoops(ctx); err != nil {
			errs = append(errs, r.leftover("agent processes", err))
		}
	}
	conn, err := r.podman(ctx)
	if err != nil {
		if len(errs) > 0 {
			return "", errors.Join(errs...)
		}
		return skipDetail(err), errSkip
	}
	list, err := listContainers(conn, ownerOf(r.d.Workspace))
	if err != nil {
		return "", r.leftover("loop containers", err)
	}
	stopped := 0
	for _, c := range list {
		if !c.Running {
			continue
		}
		if err := containers.Stop(conn, c.ID, new(containers.StopOptions).WithTimeout(stopTimeout)); err != nil && !notFound(err) {
			errs = append(errs, r.leftover("running container "+c.Name, err))
			continue
		}
		stopped++
	}
	return fmt.Sprintf("%d container(s) stopped", stopped), errors.Join(errs...)
}

func (r *runner) removeContainers(ctx context.Context) (string, error) {
	conn, err := r.podman(ctx)
	if err != nil {
		return skipDetail(err), errSkip
	}
	list, err := listContainers(conn, ownerOf(r.d.Workspace))
	if err != nil {
		return "", r.leftover("containers", err)
	}
	var errs []error
	n := 0
	for _, c := range list {
		_, err := containers.Remove(conn, c.ID, new(containers.RemoveOptions).WithForce(true).WithVolumes(true).WithTimeout(stopTimeout))
		if err != nil && !notFound(err) {
			errs = append(errs, r.leftover("container "+c.Name, err))
			continue
		}
		r.res.Removed = append(r.res.Removed, "container "+c.Name)
		n++
	}
	return fmt.Sprintf("%d container(s) removed", n), errors.Join(errs...)
}

func (r *runner) removeImages(ctx context.Context) (string, error) {
	conn, err := r.podman(ctx)
	if err != nil {
		return skipDetail(err), errSkip
	}
	all, err := containers.List(conn, new(containers.ListOptions).WithAll(true))
	if err != nil {
		return "", r.leftover("images", fmt.Errorf("list containers: %w", err))
	}
	list, err := planImages(conn, ownerOf(r.d.Workspace), all)
	if err != nil {
		return "", r.leftover("images", err)
	}
	var errs []error
	removed, untagged := 0, 0
	for _, im := range list {
		if im.Action == ImageUntag {
			for _, ref := range im.UntagRefs {
				repo, tag := splitRef(ref)
				if err := pimages.Untag(conn, im.ID, tag, repo, nil); err != nil && !notFound(err) {
					errs = append(errs, r.leftover("image tag "+ref, err))
					continue
				}
				r.res.Removed = append(r.res.Removed, "image tag "+ref)
			}
			r.res.Kept = append(r.res.Kept, fmt.Sprintf("image %s (used by %s)", im.Ref, strings.Join(im.StaysFor, ", ")))
			untagged++
			continue
		}
		if err := removeImage(conn, im); err != nil {
			errs = append(errs, r.leftover("image "+im.Ref, err))
			continue
		}
		r.res.Removed = append(r.res.Removed, "image "+im.Ref)
		removed++
	}
	return fmt.Sprintf("%d image(s) removed, %d kept for other workspaces", removed, untagged), errors.Join(errs...)
}

// removeImage deletes an image without force (force would also remove containers of
// other workspaces): each name is removed in turn, the last one deletes the image.
func removeImage(conn context.Context, im Image) error {
	for _, ref := range im.Tags {
		if _, errs := pimages.Remove(conn, []string{ref}, nil); len(errs) > 0 {
			if err := errors.Join(errs...); !notFound(err) {
				return err
			}
		}
	}
	if ok, err := pimages.Exists(conn, im.ID, nil); err != nil {
		return err
	} else if ok {
		if _, errs := pimages.Remove(conn, []string{im.ID}, nil); len(errs) > 0 {
			if err := errors.Join(errs...); !notFound(err) {
				return err
			}
		}
	}
	return nil
}

func (r *runner) removeNetworks(ctx context.Context) (string, error) {
	conn, err := r.podman(ctx)
	if err != nil {
		return skipDetail(err), errSkip
	}
	list, err := listNetworks(conn, ownerOf(r.d.Workspace))
	if err != nil {
		return "", r.leftover("networks", err)
	}
	var errs []error
	n := 0
	for _, nw := range list {
		// No force: force would disconnect and remove other workspaces' containers.
		reports, err := network.Remove(conn, nw.Name, nil)
		for _, rep := range reports {
			if rep.Err != nil && err == nil {
				err = rep.Err
			}
		}
		if err != nil && !notFound(err) {
			errs = append(errs, r.leftover("network "+nw.Name, err))
			continue
		}
		r.res.Removed = append(r.res.Removed, "network "+nw.Name)
		n++
	}
	return fmt.Sprintf("%d network(s) removed", n), errors.Join(errs...)
}

func (r *runner) purgeKeychain(context.Context) (string, error) {
	if r.d.Keychain == nil {
		return "no keychain configured", errSkip
	}
	items, _ := r.d.Keychain.List("*")
	if err := r.d.Keychain.Purge(); err != nil {
		return "", r.leftover("keychain items of workspace "+r.d.Workspace.Name, err)
	}
	for _, it := range items {
		r.res.Removed = append(r.res.Removed, "keychain item "+it.Vault+"/"+it.Kind+"/"+it.Name)
	}
	return fmt.Sprintf("%d secret(s) removed", len(items)), nil
}

func (r *runner) stopService(context.Context) (string, error) {
	// Keep the service when a podman step failed: a retry from the app still needs it.
	for _, s := range []string{StepStopLoops, StepContainers, StepImages, StepNetworks} {
		if r.failed[s] {
			return "kept: a podman step failed and a retry needs the connection", errSkip
		}
	}
	var errs []error
	if r.d.StopService != nil {
		if err := r.d.StopService(); err != nil {
			errs = append(errs, r.leftover("app's podman service", err))
		}
	}
	r.conn, r.connErr = nil, errors.New("podman service stopped")
	n := 0
	for _, s := range socketPaths(r.d.Workspace) {
		if err := os.Remove(s); err == nil {
			n++
		} else if !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, r.leftover("socket "+s, err))
		}
	}
	// The temp socket folders are the app's own; remove them when empty.
	for _, d := range shortSocketDirs(r.d.Workspace) {
		if err := os.Remove(d); err == nil {
			r.res.Removed = append(r.res.Removed, "folder "+d)
		}
	}
	return fmt.Sprintf("service stopped, %d socket(s) removed", n), errors.Join(errs...)
}

func (r *runner) removeData(context.Context) (string, error) {
	keepIndex := r.failed[StepKeychain]
	remove, keep, err := dataTargets(r.d.Workspace, r.o.KeepData, keepIndex, r.unchecked)
	if err != nil {
		return "", r.leftover(r.d.Workspace.Home, err)
	}
	if len(remove) == 0 && len(keep) == 0 {
		return r.d.Workspace.Home + " already gone", nil
	}
	removed, failed := removePaths(remove)
	for _, p := range removed {
		r.res.Removed = append(r.res.Removed, "folder "+p)
	}
	for _, k := range keep {
		if (k.Path == filepath.Join(r.d.Workspace.Home, vaultIndex) && keepIndex) || k.retry {
			r.res.Remaining = append(r.res.Remaining, Leftover{What: k.Path, Reason: k.Why})
			continue
		}
		r.res.Kept = append(r.res.Kept, k.Path)
	}
	var errs []error
	for _, f := range failed {
		reason := f.Reason
		if strings.Contains(reason, "permission denied") {
			// Rootless podman maps sandbox users to sub-UIDs the host user cannot delete.
			reason += " (files written by the sandbox: remove them with `podman unshare rm -rf " + f.What + "`)"
		}
		r.res.Remaining = append(r.res.Remaining, Leftover{What: f.What, Reason: reason})
		errs = append(errs, fmt.Errorf("%s: %s", f.What, reason))
	}
	detail := fmt.Sprintf("%d path(s) removed", len(removed))
	if r.o.KeepData {
		detail += fmt.Sprintf(", %d kept", len(keep))
	}
	return detail, errors.Join(errs...)
}
