package machine

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Diagnosis is the likely cause of a failed or hung machine start and what to do about it.
type Diagnosis struct {
	Code  string `json:"code"`
	Cause string `json:"cause"`
	Fix   string `json:"fix"`
}

// Diagnosis codes, one per common cause.
const (
	CauseNotInitialised = "not-initialised"
	CauseProvider       = "wrong-provider"
	CauseAnotherRunning = "another-running"
	CauseOutOfDisk      = "out-of-disk"
	CauseStaleSocket    = "stale-socket"
	CauseStaleGvproxy   = "stale-gvproxy"
	CausePodmanTooOld   = "podman-too-old"
	CauseTimeout        = "timeout"
	CauseUnknown        = "unknown"
)

// DiagnoseInput is what is known about a failed init/start.
type DiagnoseInput struct {
	Machine       string
	Action        string // init | start
	Output        string // podman's stdout+stderr
	TimedOut      bool
	Timeout       time.Duration
	Machines      []Info // `machine list` right after the failure
	MachinesKnown bool   // Machines was read successfully
	PodmanVersion string // `podman --version` output
}

type rule struct {
	code string
	re   *regexp.Regexp
	diag func(in DiagnoseInput, m []string) Diagnosis
}

// rules are checked in order against podman's output; the first match wins. More specific
// patterns come first (a socket path "address already in use" before a gvproxy port clash).
var rules = []rule{
	{CauseNotInitialised, regexp.MustCompile(`(?i)(vm does not exist|no such machine|machine .* does not exist|does not exist.*init)`),
		func(in DiagnoseInput, _ []string) Diagnosis { return notInitialised(in) }},
	{CauseProvider, regexp.MustCompile(`(?i)(provider[^\n]*(applehv|libkrun|qemu|hyperv|wsl)|(applehv|libkrun|qemu|hyperv|wsl)[^\n]*provider|krunkit[^\n]*(not found|no such file)|vfkit[^\n]*(not found|no such file))`),
		func(in DiagnoseInput, _ []string) Diagnosis {
			return Diagnosis{CauseProvider,
				"the machine was created with a different VM provider (applehv vs libkrun) than the one podman uses now, or that provider's helper is missing",
				"run `podman machine list --all-providers` to see the machine's VM type, then set CONTAINERS_MACHINE_PROVIDER (or `provider` under [machine] in ~/.config/containers/containers.conf) to it and start again; reinstalling podman restores missing helpers (vfkit/krunkit)"}
		}},
	{CauseAnotherRunning, regexp.MustCompile(`(?i)(only one vm can be active|already running or starting|vm already running|is currently running)`),
		func(in DiagnoseInput, _ []string) Diagnosis {
			other := otherActive(in)
			if m := otherNameRe.FindStringSubmatch(in.Output); other == "" && m != nil {
				other = m[1] + m[2]
			}
			return anotherRunning(in, other)
		}},
	{CauseOutOfDisk, regexp.MustCompile(`(?i)(no space left on device|not enough (free )?(disk )?space|disk (is )?full)`),
		func(in DiagnoseInput, _ []string) Diagnosis {
			return Diagnosis{CauseOutOfDisk, "the disk is full: the VM image and its disk need several GB free",
				"free disk space (Docker/podman images, downloads), or init the machine with a smaller --disk-size, then try again"}
		}},
	{CauseStaleSocket, regexp.MustCompile(`(?i)(\.sock[^\n]*(address already in use|connection refused|file exists|no such file)|(unix|dial)[^\n]*\.sock[^\n]*(refused|in use)|\.lock[^\n]*(locked|resource temporarily unavailable|busy)|lock[^\n]*held|ready\.sock)`),
		func(in DiagnoseInput, _ []string) Diagnosis {
			return Diagnosis{CauseStaleSocket, "sockets or lock files left over from a VM that crashed or was killed block the start",
				"run `" + machineCmd("stop", in.Machine) + "` (it clears the machine's runtime state), remove leftover *.sock and *.lock files for the machine under $TMPDIR/podman/ and ~/.local/share/containers/podman/machine/, then start again"}
		}},
	{CauseStaleGvproxy, regexp.MustCompile(`(?i)(gvproxy|address already in use|port [0-9]+ (is )?(already )?in use|bind: )`),
		func(in DiagnoseInput, _ []string) Diagnosis {
			return Diagnosis{CauseStaleGvproxy, "a stale gvproxy (the VM's network helper) from an earlier run still holds the machine's port",
				"quit the leftover gvproxy process (Activity Monitor, or `pkill -x gvproxy`), then start the machine again"}
		}},
	{CausePodmanTooOld, regexp.MustCompile(`(?i)(unknown flag|unknown command|unrecognized command|unknown shorthand flag)`),
		func(in DiagnoseInput, _ []string) Diagnosis { return tooOld(in) }},
}

// Diagnose names the most likely cause of a failed or hung init/start.
func Diagnose(in DiagnoseInput) Diagnosis {
	for _, r := range rules {
		if m := r.re.FindStringSubmatch(in.Output); m != nil {
			return r.diag(in, m)
		}
	}
	// Nothing in the output: look at the surroundings.
	if in.MachinesKnown && in.Action == "start" {
		if _, ok := Pick(in.Machines, in.Machine); !ok {
			return notInitialised(in)
		}
		if other := otherActive(in); other != "" {
			return anotherRunning(in, other)
		}
	}
	if major, ok := podmanMajor(in.PodmanVersion); ok && major < 4 {
		return tooOld(in)
	}
	if in.TimedOut {
		return Diagnosis{CauseTimeout,
			fmt.Sprintf("podman machine %s gave no result within %s: the VM is stuck booting", orDefault(in.Action, "start"), in.Timeout),
			"run `" + machineCmd("stop", in.Machine) + "` and start it again; if it hangs again, quit leftover gvproxy/vfkit processes or restart the Mac, and check `podman machine inspect`"}
	}
	cause := lastLine(in.Output)
	if cause == "" {
		cause = "podman gave no explanation"
	}
	return Diagnosis{CauseUnknown, cause,
		"run `podman machine " + orDefault(in.Action, "start") + " --log-level=debug` in a terminal to see the details"}
}

func notInitialised(in DiagnoseInput) Diagnosis {
	return Diagnosis{CauseNotInitialised, "there is no podman machine " + displayName(in.Machine) + " yet",
		"create it first: podman machine init (or use Set up machine), then start it"}
}

func anotherRunning(in DiagnoseInput, other string) Diagnosis {
	cause := "another podman machine is already running, and podman runs only one at a time"
	fix := "stop the other machine first (podman machine stop <name>), then start this one"
	if other != "" {
		cause = fmt.Sprintf("podman machine %q is already running, and podman runs only one at a time", other)
		fix = fmt.Sprintf("stop it first: podman machine stop %s, then start this one (or set [machine] name = %q in config.toml to use it)", other, other)
	}
	return Diagnosis{CauseAnotherRunning, cause, fix}
}

func tooOld(in DiagnoseInput) Diagnosis {
	v := in.PodmanVersion
	if v == "" {
		v = "this podman"
	}
	return Diagnosis{CausePodmanTooOld, v + " is too old for this machine command",
		"upgrade podman (macOS: brew upgrade podman; Linux: your distribution's podman 4.3 or newer)"}
}

// otherActive names a running or starting machine other than the one we want.
func otherActive(in DiagnoseInput) string {
	want, _ := Pick(in.Machines, in.Machine)
	for _, m := range in.Machines {
		if (m.Running || m.Starting) && m.Name != want.Name {
			return m.Name
		}
	}
	return ""
}

// otherNameRe finds the running machine in podman 5 ("machine NAME: VM already running")
// and podman 4 ("VM NAME is currently running") messages.
var otherNameRe = regexp.MustCompile(`machine "?([^\s":]+)"?: VM already running|VM (\S+) is currently running`)

var versionRe = regexp.MustCompile(`(\d+)\.(\d+)`)

func podmanMajor(version string) (int, bool) {
	m := versionRe.FindStringSubmatch(version)
	if m == nil {
		return 0, false
	}
	n, err := strconv.Atoi(m[1])
	return n, err == nil
}

func orDefault(s, d string) string {
	if strings.TrimSpace(s) == "" {
		return d
	}
	return s
}

// machineCmd is the podman machine command line for the user to run.
func machineCmd(action, name string) string {
	if name == "" {
		return "podman machine " + action
	}
	return "podman machine " + action + " " + name
}
