package uninstall

// This file is the only place that spells out the commands uninstall never runs itself;
// they are printed for the user. forbidden_test.go checks that no other file of the
// package contains them and that the package cannot start processes at all.

// stays lists what uninstall leaves alone and how to remove it by hand.
func stays(goos, baseImage string, otherWorkspaces []string) []Stay {
	var out []Stay
	switch goos {
	case "darwin", "windows":
		out = append(out, Stay{
			What: "the podman machine (VM) and everything in it that is not this workspace's",
			Why:  "shared with other workspaces and other tools using podman",
			Commands: []string{
				"podman machine stop && podman machine rm",
			},
		})
	default:
		out = append(out, Stay{
			What:     "podman itself and its storage",
			Why:      "a system package other tools may use",
			Commands: []string{"sudo apt remove podman   # or your distribution's package manager"},
		})
	}
	base := baseImage
	if base == "" {
		base = "docker.io/library/debian:bookworm-slim"
	}
	out = append(out, Stay{
		What:     "the base image " + base + " and dangling build layers",
		Why:      "pulled or cached by podman; other images and workspaces may use them",
		Commands: []string{"podman rmi " + base, "podman image prune   # removes every dangling image, not only loopat's"},
	})
	if len(otherWorkspaces) > 0 {
		cmds := make([]string, 0, len(otherWorkspaces))
		for _, w := range otherWorkspaces {
			cmds = append(cmds, "LOOPAT_HOME=<folder of workspace "+w+"> loopat uninstall")
		}
		out = append(out, Stay{
			What:     "other workspaces' containers, images, networks and secrets",
			Why:      "they belong to another LOOPAT_HOME",
			Commands: cmds,
		})
	}
	out = append(out, Stay{
		What:     "package caches used while building sandbox images and by the app's installer",
		Why:      "shared with other software",
		Commands: []string{"rm -rf ~/.npm/_npx", "rm -rf ~/.bun/install/cache"},
	})
	app := "remove the loopat package or binary you installed"
	switch goos {
	case "darwin":
		app = "rm -rf /Applications/Loopat.app"
	case "windows":
		app = "uninstall Loopat in Settings > Apps"
	}
	out = append(out, Stay{What: "the loopat app itself", Why: "uninstall removes its data, not the program", Commands: []string{app}})
	return out
}
