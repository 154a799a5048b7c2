//go:build bench

// Command hostexec measures host exec from inside a real loop of the app: a loop opened
// through core.Open (its container, host link and policy exactly as the app makes them),
// where `loopat-host true` runs through the image's shim, against `podman exec <ctr> true`:
//
//	go run -tags bench,remote,exclude_graphdriver_btrfs,containers_image_openpgp ./bench/hostexec [-n 200] [-m 20]
//
// The loopat-host calls are timed inside the container by one bash loop (podman's own exec
// overhead is not counted on that side). Goal: ratio <= 0.1x and p50 <= 10 ms, printed
// (MISSED when not met) and written to artifacts/bench.json; bench/report enforces it
// beyond its noise margin under `make bench`.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"time"

	"github.com/loopat/desktop/backend/loops"
	"github.com/loopat/desktop/bench/hostexec/hostexecbench"
	"github.com/loopat/desktop/bench/report/benchkit"
)

func main() {
	n := flag.Int("n", 200, "loopat-host calls")
	m := flag.Int("m", 20, "podman exec calls")
	flag.Parse()
	slog.SetDefault(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})))
	if err := benchkit.InKeyring(); err != nil {
		fmt.Fprintln(os.Stderr, "bench hostexec: keyring:", err)
		os.Exit(1)
	}
	if err := run(*n, *m); err != nil {
		fmt.Fprintln(os.Stderr, "bench hostexec:", err)
		os.Exit(1)
	}
}

func run(n, m int) error {
	// Any CLI may run on the host for this workspace's loops: a loop's own mise.toml
	// [host].clis would make it build a child image, which is not what is measured here.
	app, err := benchkit.OpenApp("\n[host_exec]\nallow_any_cli = true\n")
	if err != nil {
		return err
	}
	defer app.Close()
	c := app.Core
	meta, err := c.Loops.Create(loops.CreateRequest{Title: "host exec bench"})
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	t0 := time.Now()
	// What opening a loop's terminal does: image, container, host link.
	if err := c.Loops.EnsureContainer(ctx, meta.ID); err != nil {
		return fmt.Errorf("start the loop's container: %w", err)
	}
	ready := time.Since(t0)
	name := c.Loops.Sandbox().ContainerName(meta.ID)

	// As the agent: the sandbox user, in the loop's work folder. The first calls also wait
	// for the relay the link attach started.
	script := fmt.Sprintf(`for i in $(seq 50); do loopat-host true && break; sleep 0.1; done
for i in $(seq 5); do loopat-host true || exit 1; done
for i in $(seq %d); do s=${EPOCHREALTIME/./}; loopat-host true || exit 1; e=${EPOCHREALTIME/./}; echo $((e-s)); done`, n)
	out, err := exec.Command("podman", "exec", "--user", loops.SandboxUser, "-w", loops.SandboxWork, name, "bash", "-c", script).CombinedOutput()
	if err != nil {
		return fmt.Errorf("loopat-host loop in %s: %v\n%s", name, err, out)
	}
	inLoop, err := hostexecbench.ParseMicros(string(out), n)
	if err != nil {
		return err
	}

	_ = exec.Command("podman", "exec", name, "true").Run() // warm up
	var podmanExec []time.Duration
	for i := 0; i < m; i++ {
		s := time.Now()
		if out, err := exec.Command("podman", "exec", name, "true").CombinedOutput(); err != nil {
			return fmt.Errorf("podman exec true: %v\n%s", err, out)
		}
		podmanExec = append(podmanExec, time.Since(s))
	}

	res := hostexecbench.Result{InLoop: inLoop, PodmanExec: podmanExec, Ready: ready}
	if err := res.Check(); err != nil {
		return err
	}
	rows := hostexecbench.Rows(res)
	l := benchkit.Load()
	fmt.Printf("hostexec benchmark in a loop opened through core.Open: %d CPUs, load %.2f %.2f %.2f\n", benchkit.Describe().CPUs, l[0], l[1], l[2])
	benchkit.Print(rows)
	fmt.Println("  " + rows[0].Note)
	path, err := benchkit.Write(rows)
	if err != nil {
		return err
	}
	fmt.Println("rows written to", path)
	return nil
}
