package uninstall

import (
	"fmt"
	"io"
	"strings"
)

// HumanSize formats bytes as B/KB/MB/GB (powers of 1000, as podman prints sizes).
func HumanSize(n int64) string {
	const unit = 1000
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %cB", float64(n)/float64(div), "KMGTPE"[exp])
}

func shortID(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}

// Render writes the plan as the CLI prints it.
func (p Plan) Render(w io.Writer) {
	mode := "everything, including LOOPAT_HOME"
	if p.KeepData {
		mode = "everything except your data (--keep-data)"
	}
	fmt.Fprintf(w, "Uninstall workspace %q (%s): %s\n", p.Workspace, p.Home, mode)
	if p.DryRun {
		fmt.Fprintln(w, "Dry run: nothing will be changed.")
	}

	fmt.Fprintf(w, "\nContainers (%d):\n", len(p.Containers))
	for _, c := range p.Containers {
		state := "stopped"
		if c.Running {
			state = "running: stopped first"
		}
		fmt.Fprintf(w, "  - %s  %s  (%s)\n", c.Name, shortID(c.ID), state)
	}

	fmt.Fprintf(w, "\nImages (%d):\n", len(p.Images))
	for _, im := range p.Images {
		if im.Action == ImageUntag {
			fmt.Fprintf(w, "  = %s  %s  %s  stays: used by %s (only this workspace's tag goes)\n",
				im.Ref, shortID(im.ID), HumanSize(im.Size), strings.Join(im.StaysFor, ", "))
			continue
		}
		fmt.Fprintf(w, "  - %s  %s  %s\n", im.Ref, shortID(im.ID), HumanSize(im.Size))
	}

	fmt.Fprintf(w, "\nNetworks (%d):\n", len(p.Networks))
	for _, n := range p.Networks {
		fmt.Fprintf(w, "  - %s\n", n.Name)
	}

	fmt.Fprintf(w, "\nKeychain items (%d; names only):\n", len(p.Keychain))
	for _, k := range p.Keychain {
		extra := ""
		if k.Chunks > 0 {
			extra = fmt.Sprintf(" (+%d chunk items)", k.Chunks)
		}
		fmt.Fprintf(w, "  - %s  %s%s\n", k.Service, k.Account, extra)
	}

	fmt.Fprintln(w, "\nFolders:")
	if len(p.Folders) == 0 {
		fmt.Fprintf(w, "  (%s is absent)\n", p.Home)
	}
	for _, f := range p.Folders {
		if f.Action == FolderKeep {
			fmt.Fprintf(w, "  = %s  %s  stays: %s\n", f.Path, HumanSize(f.Size), f.Why)
		} else {
			fmt.Fprintf(w, "  - %s  %s\n", f.Path, HumanSize(f.Size))
		}
	}

	fmt.Fprintln(w, "\nApp's podman service:")
	if p.Service.Managed {
		fmt.Fprintln(w, "  - stopped if the app started it")
	}
	for _, s := range p.Service.Sockets {
		fmt.Fprintf(w, "  - socket %s\n", s)
	}

	fmt.Fprintf(w, "\nTotal to free: %s\n", HumanSize(p.RemoveBytes()))

	if len(p.Unchecked) > 0 {
		fmt.Fprintln(w, "\nCould not check (run uninstall again once this is fixed):")
		for _, u := range p.Unchecked {
			fmt.Fprintf(w, "  ! %s\n", u)
		}
	}

	fmt.Fprintln(w, "\nStays (never removed by loopat; commands to do it yourself):")
	for _, s := range p.Stays {
		fmt.Fprintf(w, "  = %s (%s)\n", s.What, s.Why)
		for _, c := range s.Commands {
			fmt.Fprintf(w, "      $ %s\n", c)
		}
	}
}

// Render writes the result as the CLI prints it.
func (r Result) Render(w io.Writer) {
	for _, s := range r.Steps {
		line := fmt.Sprintf("  [%s] %s", s.Status, s.Step)
		if s.Detail != "" {
			line += ": " + s.Detail
		}
		fmt.Fprintln(w, line)
	}
	if r.DryRun {
		fmt.Fprintln(w, "Dry run: nothing was changed.")
		return
	}
	if len(r.Kept) > 0 {
		fmt.Fprintln(w, "Kept:")
		for _, k := range r.Kept {
			fmt.Fprintf(w, "  = %s\n", k)
		}
	}
	if len(r.Remaining) == 0 {
		fmt.Fprintf(w, "Workspace %q uninstalled: %d item(s) removed.\n", r.Workspace, len(r.Removed))
		return
	}
	fmt.Fprintln(w, "Could not remove (run `loopat uninstall` again to finish):")
	for _, l := range r.Remaining {
		fmt.Fprintf(w, "  ! %s: %s\n", l.What, l.Reason)
	}
}
