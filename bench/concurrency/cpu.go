//go:build bench

package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/loopat/desktop/bench/concurrency/concurrencybench"
	"github.com/loopat/desktop/bench/footprint/footprintbench"
)

// ticksPerSecond is USER_HZ: /proc/<pid>/stat and /proc/stat count in it (100 on Linux).
const ticksPerSecond = 100

// cpuSnap is a point-in-time reading of the CPU counters a loop start moves: the whole
// machine, serve itself, its podman service (with the children it reaped: runc create,
// the CNI plugins and their iptables calls), podman's conmon cgroup (each container's and
// exec's conmon, with the runc it runs) and this workspace's containers (the agent, the
// relay, every exec'd process). cgroup v1 cpuacct (podman 4.3, cgroupfs manager) is read
// when present; without it those two parts stay zero and land in "other".
type cpuSnap struct {
	machine, serve, service, conmon float64 // CPU seconds
	containers                      map[string]float64
}

// readCPU reads the counters; servePid is `loopat serve`, prefix the workspace's container
// name prefix (loopat-<workspace id>).
func readCPU(servePid int, prefix string) cpuSnap {
	s := cpuSnap{machine: machineCPU(), containers: map[string]float64{}}
	if t, err := footprintbench.CPUTicks(servePid); err == nil {
		s.serve = float64(t) / ticksPerSecond
	}
	kids, _ := footprintbench.Children(servePid)
	for pid, name := range kids {
		if name == "podman" {
			s.service += procCPUWithChildren(pid)
		}
	}
	s.conmon = cgroupCPU("/sys/fs/cgroup/cpuacct/libpod_parent/conmon")
	for id := range ourContainers(prefix) {
		s.containers[id] = cgroupCPU("/sys/fs/cgroup/cpuacct/libpod_parent/libpod-" + id)
	}
	return s
}

// since is the CPU spent between before and s: a container that did not exist before
// counts whole.
func (s cpuSnap) since(before cpuSnap) concurrencybench.CPU {
	c := concurrencybench.CPU{
		Machine: s.machine - before.machine, Serve: s.serve - before.serve,
		Service: s.service - before.service, Conmon: s.conmon - before.conmon,
	}
	for id, v := range s.containers {
		c.Containers += v - before.containers[id]
	}
	return c
}

// machineCPU is the busy time of all CPUs (everything but idle and iowait), seconds.
func machineCPU() float64 {
	data, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0
	}
	line, _, _ := strings.Cut(string(data), "\n")
	f := strings.Fields(line)
	var busy int64
	for i, v := range f[1:] {
		n, _ := strconv.ParseInt(v, 10, 64)
		if i != 3 && i != 4 && i < 8 { // idle, iowait; guest time is inside user already
			busy += n
		}
	}
	return float64(busy) / ticksPerSecond
}

// procCPUWithChildren is utime+stime+cutime+cstime of pid (its reaped children included).
func procCPUWithChildren(pid int) float64 {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	i := bytes.LastIndexByte(data, ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(string(data[i+1:]))
	if len(f) < 15 {
		return 0
	}
	var t int64
	for _, k := range []int{11, 12, 13, 14} {
		n, _ := strconv.ParseInt(f[k], 10, 64)
		t += n
	}
	return float64(t) / ticksPerSecond
}

// cgroupCPU is a cgroup v1 cpuacct.usage in seconds (0 when absent).
func cgroupCPU(dir string) float64 {
	data, err := os.ReadFile(filepath.Join(dir, "cpuacct.usage"))
	if err != nil {
		return 0
	}
	n, _ := strconv.ParseInt(strings.TrimSpace(string(data)), 10, 64)
	return float64(n) / 1e9
}

// ourContainers are the ids of the running containers named prefix-*, found from their
// conmon's command line (-c <id> -n <name>) without asking podman (which costs CPU itself).
func ourContainers(prefix string) map[string]bool {
	out := map[string]bool{}
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		if _, err := strconv.Atoi(e.Name()); err != nil {
			continue
		}
		data, err := os.ReadFile("/proc/" + e.Name() + "/cmdline")
		if err != nil || !bytes.Contains(data, []byte("conmon")) {
			continue
		}
		args := strings.Split(string(data), "\x00")
		var id, name string
		for i := 0; i+1 < len(args); i++ {
			switch args[i] {
			case "-c":
				id = args[i+1]
			case "-n":
				name = args[i+1]
			}
		}
		if id != "" && strings.HasPrefix(name, prefix+"-") {
			out[id] = true
		}
	}
	return out
}
