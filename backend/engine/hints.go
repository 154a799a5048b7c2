package engine

// Hints use loopat's wording so users of the original tool recognise them.

// InstallHint tells how to install podman on goos.
func InstallHint(goos string) string {
	if goos == "darwin" {
		return "brew install podman, then: podman machine init && podman machine start"
	}
	if goos == "windows" {
		return "install Podman for Windows (podman.io), then: podman machine init && podman machine start"
	}
	return "sudo apt install podman uidmap fuse-overlayfs (Linux)"
}

// MachineStoppedHint tells how to start the podman machine.
const MachineStoppedHint = "podman machine isn't running - start it: podman machine start (run `podman machine init` first if you never have)"

// NoMachineHint tells how to create the first machine.
const NoMachineHint = "create and start the podman machine: podman machine init && podman machine start"

// usesMachine reports whether podman on goos always runs inside a VM.
func usesMachine(goos string) bool { return goos != "linux" }
