// Package footprintbench is the testable half of bench/footprint: reading a process's
// memory (by mapping kind) and CPU from /proc, and turning the figures into rows.
package footprintbench

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// Memory is a process's resident set split by what backs it, in KiB.
type Memory struct {
	RSS int64 `json:"rss_kib"`
	// Binary: pages of the executable itself; Libs: shared libraries; Anon: heap,
	// stacks and other anonymous memory (what init code allocates).
	Binary int64 `json:"binary_kib"`
	Libs   int64 `json:"libs_kib"`
	Anon   int64 `json:"anon_kib"`
}

// ReadMemory sums /proc/<pid>/smaps by mapping.
func ReadMemory(pid int) (Memory, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/smaps", pid))
	if err != nil {
		return Memory{}, err
	}
	exe, _ := os.Readlink(fmt.Sprintf("/proc/%d/exe", pid))
	return parseSmaps(data, exe), nil
}

func parseSmaps(data []byte, exe string) Memory {
	var m Memory
	name := ""
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		if strings.Contains(f[0], "-") && !strings.HasSuffix(f[0], ":") {
			name = ""
			if len(f) >= 6 {
				name = strings.Join(f[5:], " ")
			}
			continue
		}
		if f[0] != "Rss:" || len(f) < 2 {
			continue
		}
		kb, _ := strconv.ParseInt(f[1], 10, 64)
		m.RSS += kb
		switch {
		case exe != "" && name == exe:
			m.Binary += kb
		case strings.HasPrefix(name, "/"):
			m.Libs += kb
		default:
			m.Anon += kb
		}
	}
	return m
}

// CPUTicks is utime+stime of a process, in clock ticks (USER_HZ, 100 on Linux).
func CPUTicks(pid int) (int64, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The command name may hold spaces; the fields after its closing paren are fixed.
	i := bytes.LastIndexByte(data, ')')
	if i < 0 {
		return 0, fmt.Errorf("stat of %d: no command", pid)
	}
	f := strings.Fields(string(data[i+1:]))
	if len(f) < 13 {
		return 0, fmt.Errorf("stat of %d: %d fields", pid, len(f))
	}
	u, err1 := strconv.ParseInt(f[11], 10, 64)
	s, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("stat of %d: bad times", pid)
	}
	return u + s, nil
}

// Children lists the processes whose parent is pid, with their command names.
func Children(pid int) (map[int]string, error) {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return nil, err
	}
	out := map[int]string{}
	for _, e := range ents {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", p))
		if err != nil {
			continue
		}
		i, j := bytes.IndexByte(data, '('), bytes.LastIndexByte(data, ')')
		if i < 0 || j < i {
			continue
		}
		f := strings.Fields(string(data[j+1:]))
		if len(f) > 1 && f[1] == strconv.Itoa(pid) {
			out[p] = string(data[i+1 : j])
		}
	}
	return out, nil
}
