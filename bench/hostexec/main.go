//go:build bench

// Command hostexec measures the host-exec round trip inside a real loop container
// against plain `podman exec`, side by side:
//
//	go run -tags bench,remote,exclude_graphdriver_btrfs,containers_image_openpgp ./bench/hostexec
//
// It starts a private podman service, a debian:bookworm-slim container with a
// freshly built loopat-host bind-mounted in, attaches the host link and times
// `loopat-host true` N times from a bash loop inside the container (one exec, so
// podman's own overhead is not counted), then `podman exec <ctr> true` M times.
// Goal: ratio <= 0.1 and p50 <= 10 ms.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/containers/podman/v5/pkg/bindings"

	"github.com/loopat/desktop/backend/config"
	"github.com/loopat/desktop/backend/hostexec"
)

func main() {
	n := flag.Int("n", 200, "loopat-host calls")
	m := flag.Int("m", 20, "podman exec calls")
	image := flag.String("image", "docker.io/library/debian:bookworm-slim", "image with bash")
	flag.Parse()
	if err := run(*n, *m, *image); err != nil {
		fmt.Fprintln(os.Stderr, "bench hostexec:", err)
		os.Exit(1)
	}
}

func run(n, m int, image string) error {
	dir, err := os.MkdirTemp("", "lhbench")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	os.Chmod(dir, 0o755)

	bin := filepath.Join(dir, "loopat-host")
	build := exec.Command("go", "build", "-trimpath", "-ldflags=-s -w", "-o", bin, "github.com/loopat/desktop/cmd/loopat-host")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		return fmt.Errorf("build loopat-host: %v\n%s", err, out)
	}

	sock := filepath.Join(dir, "podman.sock")
	svc := exec.Command("podman", "system", "service", "--time=0", "unix://"+sock)
	if err := svc.Start(); err != nil {
		return fmt.Errorf("start podman service: %w", err)
	}
	defer func() { svc.Process.Kill(); svc.Wait() }()
	for i := 0; ; i++ {
		if _, err := os.Stat(sock); err == nil {
			break
		}
		if i > 600 {
			return fmt.Errorf("podman service socket never appeared")
		}
		time.Sleep(50 * time.Millisecond)
	}
	conn, err := bindings.NewConnection(context.Background(), "unix://"+sock)
	if err != nil {
		return fmt.Errorf("connect podman: %w", err)
	}

	name := fmt.Sprintf("lh-bench-%d", os.Getpid())
	out, err := exec.Command("podman", "run", "-d", "--init", "--name", name, "--user", "2000:2000",
		"--label", config.LabelKey+"=hostexec-bench",
		"-v", bin+":/usr/local/bin/loopat-host:ro", image, "sleep", "infinity").CombinedOutput()
	if err != nil {
		return fmt.Errorf("podman run: %v\n%s", err, out)
	}
	defer exec.Command("podman", "rm", "-f", "-t", "0", name).Run()

	ws, err := config.NewWorkspace(filepath.Join(dir, "home"))
	if err != nil {
		return err
	}
	srv := hostexec.NewServer(ws, nil)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	t0 := time.Now()
	sess, err := srv.Attach(ctx, conn, "bench", name, hostexec.Policy{Enabled: true, CLIs: []string{"true"}, Timeout: time.Minute})
	if err != nil {
		return err
	}
	defer sess.Close()
	attach := time.Since(t0)

	script := fmt.Sprintf(`for i in $(seq 5); do loopat-host true || exit 1; done
for i in $(seq %d); do s=${EPOCHREALTIME/./}; loopat-host true || exit 1; e=${EPOCHREALTIME/./}; echo $((e-s)); done`, n)
	out, err = exec.Command("podman", "exec", name, "bash", "-c", script).CombinedOutput()
	if err != nil {
		return fmt.Errorf("loopat-host loop: %v\n%s", err, out)
	}
	var inLoop []time.Duration
	for _, f := range strings.Fields(string(out)) {
		us, err := strconv.Atoi(f)
		if err != nil {
			return fmt.Errorf("parse timing %q: %w", f, err)
		}
		inLoop = append(inLoop, time.Duration(us)*time.Microsecond)
	}

	exec.Command("podman", "exec", name, "true").Run() // warm up
	var podmanExec []time.Duration
	for i := 0; i < m; i++ {
		s := time.Now()
		if out, err := exec.Command("podman", "exec", name, "true").CombinedOutput(); err != nil {
			return fmt.Errorf("podman exec true: %v\n%s", err, out)
		}
		podmanExec = append(podmanExec, time.Since(s))
	}

	lp, lm := stats(inLoop)
	pp, pm := stats(podmanExec)
	fmt.Printf("host-exec link attach: %s\n", attach.Round(time.Millisecond))
	fmt.Printf("%-34s %6s %10s %10s\n", "", "n", "p50", "mean")
	fmt.Printf("%-34s %6d %10s %10s\n", "loopat-host true (inside loop)", len(inLoop), ms(lp), ms(lm))
	fmt.Printf("%-34s %6d %10s %10s\n", "podman exec <ctr> true (CLI)", len(podmanExec), ms(pp), ms(pm))
	ratioP50, ratioMean := float64(lp)/float64(pp), float64(lm)/float64(pm)
	fmt.Printf("ratio loopat-host / podman exec: p50 %.3fx, mean %.3fx\n", ratioP50, ratioMean)
	ok := ratioP50 <= 0.1 && lp <= 10*time.Millisecond
	fmt.Printf("goal (ratio <= 0.1x and p50 <= 10 ms): %s\n", map[bool]string{true: "MET", false: "MISSED"}[ok])
	return nil
}

func stats(d []time.Duration) (p50, mean time.Duration) {
	s := slices.Clone(d)
	slices.Sort(s)
	var sum time.Duration
	for _, v := range s {
		sum += v
	}
	return s[len(s)/2], sum / time.Duration(len(s))
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2f ms", float64(d.Microseconds())/1000) }
