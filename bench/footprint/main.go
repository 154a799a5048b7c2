//go:build bench

// Command footprint measures what loopat costs at rest, as a user runs it:
//
//		go run -tags bench,remote,exclude_graphdriver_btrfs,containers_image_openpgp ./bench/footprint
//
//	  - the size of the binary `make build` makes (build/bin/loopat, or LOOPAT_BIN), beside
//	    the same binary stripped;
//	  - `loopat serve` idle on an empty workspace: RSS split into executable pages, shared
//	    libraries and heap/stacks (smaps), and CPU over 10 s, beside `loopat version` (the
//	    process start and package init alone);
//	  - the desktop window under Xvfb (when xvfb-run is there): time to a visible window and
//	    the RSS of the Go process and of its WebKit processes, reported separately.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"time"

	"github.com/loopat/desktop/bench/footprint/footprintbench"
	"github.com/loopat/desktop/bench/report/benchkit"
)

const desktopPrefix = "DESKTOP_JSON "

func main() {
	inner := flag.Bool("desktop-inner", false, "internal: measure the window (run under xvfb-run)")
	flag.Parse()
	var err error
	if *inner {
		err = desktopInner(flag.Arg(0))
	} else {
		err = run()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench footprint:", err)
		os.Exit(1)
	}
}

func run() error {
	root, err := benchkit.RepoRoot()
	if err != nil {
		return err
	}
	bin := os.Getenv("LOOPAT_BIN")
	if bin == "" {
		bin = filepath.Join(root, "build", "bin", "loopat")
	}
	st, err := os.Stat(bin)
	if err != nil {
		return fmt.Errorf("no loopat binary at %s (run make build, or set LOOPAT_BIN): %w", bin, err)
	}
	tmp, err := os.MkdirTemp("", "loopat-bench-footprint-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)

	r := footprintbench.Result{BinaryBytes: st.Size()}
	stripped := filepath.Join(tmp, "loopat-stripped")
	if out, err := exec.Command("strip", "-o", stripped, bin).CombinedOutput(); err != nil {
		return fmt.Errorf("strip: %v: %s", err, out)
	}
	if st, err := os.Stat(stripped); err == nil {
		r.StrippedBytes = st.Size()
	}

	// Init only: `loopat version` never opens the workspace or the engine.
	ver := exec.Command(bin, "version")
	ver.Env = append(os.Environ(), "LOOPAT_HOME="+filepath.Join(tmp, "ws-version"))
	if out, err := ver.CombinedOutput(); err != nil {
		return fmt.Errorf("loopat version: %v: %s", err, out)
	}
	if ru, ok := ver.ProcessState.SysUsage().(*syscall.Rusage); ok {
		r.VersionMaxRSSKiB = ru.Maxrss
	}

	if err := measureServe(bin, filepath.Join(tmp, "ws-serve"), &r); err != nil {
		return err
	}

	// LOOPAT_NOCGO_BIN: the same app built CGO_ENABLED=0, to show what linking WebKit
	// costs a serve process that never opens a window.
	if nocgo := os.Getenv("LOOPAT_NOCGO_BIN"); nocgo != "" {
		var other footprintbench.Result
		if err := measureServe(nocgo, filepath.Join(tmp, "ws-serve-nocgo"), &other); err != nil {
			return fmt.Errorf("serve without cgo: %w", err)
		}
		r.NoCgoServeKiB = other.Serve.RSS
	}

	if _, err := exec.LookPath("xvfb-run"); err == nil {
		self, _ := os.Executable()
		cmd := exec.Command("xvfb-run", "-a", "-s", "-screen 0 1280x900x24", "dbus-run-session", "--", self, "-desktop-inner", bin)
		cmd.Env = append(os.Environ(), "LOOPAT_HOME="+filepath.Join(tmp, "ws-desktop"))
		cmd.Stderr = os.Stderr
		out, err := cmd.Output()
		if err != nil {
			return fmt.Errorf("desktop window: %w", err)
		}
		for _, line := range strings.Split(string(out), "\n") {
			if rest, ok := strings.CutPrefix(line, desktopPrefix); ok {
				if err := json.Unmarshal([]byte(rest), &r); err != nil {
					return fmt.Errorf("desktop result: %w", err)
				}
			}
		}
	} else {
		fmt.Println("no xvfb-run: desktop window not measured")
	}

	if err := r.Check(); err != nil {
		return err
	}
	rows := footprintbench.Rows(r)
	benchkit.Print(rows)
	path, err := benchkit.Write(rows)
	if err != nil {
		return err
	}
	fmt.Println("wrote", path)
	return nil
}

// measureServe starts `loopat serve` on an empty workspace, lets it settle, then reads its
// memory and its CPU over a 10 s window.
func measureServe(bin, home string, r *footprintbench.Result) error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "serve", "--addr", "127.0.0.1:0")
	cmd.Env = append(os.Environ(), "LOOPAT_HOME="+home)
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = 10 * time.Second
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		return err
	}
	defer func() { cancel(); _ = cmd.Wait() }()
	ready := regexp.MustCompile(`http://127\.0\.0\.1:\d+/\?token=`)
	sc := bufio.NewScanner(stdout)
	found := false
	for sc.Scan() {
		if ready.MatchString(sc.Text()) {
			found = true
			break
		}
	}
	if !found {
		return errors.New("loopat serve never printed its address")
	}
	go func() {
		for sc.Scan() {
		}
	}()
	time.Sleep(5 * time.Second) // start-up work (engine discovery, first state) done
	pid := cmd.Process.Pid
	t0, err := footprintbench.CPUTicks(pid)
	if err != nil {
		return err
	}
	const window = 10 * time.Second
	time.Sleep(window)
	t1, err := footprintbench.CPUTicks(pid)
	if err != nil {
		return err
	}
	if r.Serve, err = footprintbench.ReadMemory(pid); err != nil {
		return err
	}
	r.ServeCPUSeconds = window.Seconds()
	r.ServeCPUPercent = float64(t1-t0) / 100 / window.Seconds() * 100
	return nil
}

// desktopInner runs inside Xvfb and a private D-Bus session: it starts the app, times the
// first visible window, lets the UI render, and prints the memory of the Go process and
// of its WebKit children.
func desktopInner(bin string) error {
	start := time.Now()
	cmd := exec.Command(bin)
	if err := cmd.Start(); err != nil {
		return err
	}
	defer func() { _ = cmd.Process.Signal(syscall.SIGTERM); _ = cmd.Wait() }()
	var r footprintbench.Result
	for time.Since(start) < 90*time.Second {
		out, _ := exec.Command("xdotool", "search", "--onlyvisible", "--name", "loopat").Output()
		if len(strings.TrimSpace(string(out))) > 0 {
			r.WindowMs = float64(time.Since(start).Microseconds()) / 1000
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if r.WindowMs == 0 {
		return errors.New("no visible window within 90 s")
	}
	time.Sleep(5 * time.Second) // the first screen renders
	m, err := footprintbench.ReadMemory(cmd.Process.Pid)
	if err != nil {
		return err
	}
	r.DesktopGoKiB = m.RSS
	kids, err := footprintbench.Children(cmd.Process.Pid)
	if err != nil {
		return err
	}
	for pid, name := range kids {
		if !strings.HasPrefix(name, "WebKit") {
			continue
		}
		if km, err := footprintbench.ReadMemory(pid); err == nil {
			r.DesktopWebKiB += km.RSS
			r.WebProcesses++
		}
	}
	out, _ := json.Marshal(map[string]any{"window_ms": r.WindowMs, "desktop_go_rss_kib": r.DesktopGoKiB,
		"desktop_webkit_rss_kib": r.DesktopWebKiB, "webkit_processes": r.WebProcesses})
	fmt.Println(desktopPrefix + string(out))
	return nil
}
