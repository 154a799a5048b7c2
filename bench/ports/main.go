//go:build bench

// Command ports measures a port forward of a real loop of the app (core.Open: its
// container, host link and relay exactly as the app makes them): bytes/s of a file a
// server in the loop serves, read through the forward on 127.0.0.1, against `podman
// exec <ctr> cat` of the same file and against a direct connection to the container's
// IP (rootful: rootless and the macOS VM have no route to it); and the p50 latency of a
// small HTTP request on a new connection, through the forward and direct:
//
//	go run -tags bench,remote,exclude_graphdriver_btrfs,containers_image_openpgp ./bench/ports [-mib 64] [-n 5] [-m 200]
//
// No goal: the rows are the comparison issue 18 asks for.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"time"

	"github.com/loopat/desktop/backend/loops"
	"github.com/loopat/desktop/backend/ports"
	"github.com/loopat/desktop/bench/ports/portsbench"
	"github.com/loopat/desktop/bench/report/benchkit"
)

const port = 8777

func main() {
	mib := flag.Int("mib", 64, "size of the file, MiB")
	n := flag.Int("n", 5, "transfers of the file per path")
	m := flag.Int("m", 200, "small requests per path")
	flag.Parse()
	slog.SetDefault(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})))
	if err := benchkit.InKeyring(); err != nil {
		fmt.Fprintln(os.Stderr, "bench ports: keyring:", err)
		os.Exit(1)
	}
	if err := run(*mib, *n, *m); err != nil {
		fmt.Fprintln(os.Stderr, "bench ports:", err)
		os.Exit(1)
	}
}

func run(mib, n, m int) error {
	app, err := benchkit.OpenApp("")
	if err != nil {
		return err
	}
	defer app.Close()
	c := app.Core
	meta, err := c.Loops.Create(loops.CreateRequest{Title: "ports bench"})
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	if err := c.Loops.EnsureContainer(ctx, meta.ID); err != nil {
		return fmt.Errorf("start the loop's container: %w", err)
	}
	name := c.Loops.Sandbox().ContainerName(meta.ID)

	// As the agent would: a file and python3's http.server over it, in the loop.
	script := fmt.Sprintf(`mkdir -p /tmp/pb && cd /tmp/pb && head -c %d /dev/urandom > blob && printf ok > small.txt &&
setsid python3 -m http.server %d --bind 0.0.0.0 </dev/null >/tmp/pb.log 2>&1 &
for i in $(seq 100); do grep -qi ':%04X [0-9A-F:]* 0A ' /proc/net/tcp && exit 0; sleep 0.05; done; cat /tmp/pb.log; exit 1`, mib<<20, port, port)
	if out, err := exec.Command("podman", "exec", "--user", loops.SandboxUser, name, "sh", "-c", script).CombinedOutput(); err != nil {
		return fmt.Errorf("server in the loop: %v\n%s", err, out)
	}
	base, err := waitForward(c.Ports.Ports, meta.ID, 30*time.Second)
	if err != nil {
		return err
	}
	size := int64(mib) << 20
	res := portsbench.Result{FileBytes: size}

	direct := ""
	if ip := containerIP(name); ip != "" {
		d := "http://" + net.JoinHostPort(ip, fmt.Sprint(port)) + "/"
		if _, err := get(d+"small.txt", 2*time.Second); err == nil {
			direct = d
		} else {
			res.DirectNote = "the container IP " + ip + " does not answer from the host (rootless or VM)"
		}
	} else {
		res.DirectNote = "the container has no IP the host reaches (rootless or VM)"
	}

	_, _ = get(base+"blob", time.Minute) // warm the page cache and the link
	for i := 0; i < n; i++ {
		bps, err := timedGet(base + "blob")
		if err != nil {
			return fmt.Errorf("through the forward: %w", err)
		}
		res.Forward = append(res.Forward, bps)
		bps, err = execCat(name, size)
		if err != nil {
			return err
		}
		res.ExecCat = append(res.ExecCat, bps)
		if direct != "" {
			if bps, err = timedGet(direct + "blob"); err != nil {
				return fmt.Errorf("direct: %w", err)
			}
			res.Direct = append(res.Direct, bps)
		}
	}
	for i := 0; i < m; i++ {
		s := time.Now()
		if _, err := get(base+"small.txt", 10*time.Second); err != nil {
			return fmt.Errorf("small request through the forward: %w", err)
		}
		res.ForwardLatency = append(res.ForwardLatency, time.Since(s))
		if direct != "" {
			s = time.Now()
			if _, err := get(direct+"small.txt", 10*time.Second); err != nil {
				return fmt.Errorf("small request direct: %w", err)
			}
			res.DirectLatency = append(res.DirectLatency, time.Since(s))
		}
	}
	if err := res.Check(); err != nil {
		return err
	}
	rows := portsbench.Rows(res)
	l := benchkit.Load()
	fmt.Printf("ports benchmark in a loop opened through core.Open: %d CPUs, load %.2f %.2f %.2f\n", benchkit.Describe().CPUs, l[0], l[1], l[2])
	benchkit.Print(rows)
	path, err := benchkit.Write(rows)
	if err != nil {
		return err
	}
	fmt.Println("rows written to", path)
	return nil
}

// waitForward waits for the loop's port to be detected and forwarded; its URL.
func waitForward(list func(string) ([]ports.Forward, error), id string, limit time.Duration) (string, error) {
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		fs, err := list(id)
		if err != nil {
			return "", err
		}
		for _, f := range fs {
			if f.ContainerPort == port && f.URL != "" {
				return f.URL, nil
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	return "", fmt.Errorf("port %d not forwarded after %s", port, limit)
}

func containerIP(name string) string {
	out, err := exec.Command("podman", "inspect", "-f", "{{range .NetworkSettings.Networks}}{{.IPAddress}} {{end}}", name).Output()
	if err != nil {
		return ""
	}
	f := strings.Fields(string(out))
	if len(f) == 0 {
		return ""
	}
	return f[0]
}

// newConn: every request on its own connection (what a first page load pays).
var client = &http.Client{Transport: &http.Transport{DisableKeepAlives: true, Proxy: nil}}

func get(url string, limit time.Duration) (int64, error) {
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	resp, err := client.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return io.Copy(io.Discard, resp.Body)
}

func timedGet(url string) (float64, error) {
	s := time.Now()
	nb, err := get(url, 2*time.Minute)
	if err != nil {
		return 0, err
	}
	return float64(nb) / time.Since(s).Seconds(), nil
}

func execCat(name string, want int64) (float64, error) {
	cmd := exec.Command("podman", "exec", "--user", loops.SandboxUser, name, "cat", "/tmp/pb/blob")
	out, err := cmd.StdoutPipe()
	if err != nil {
		return 0, err
	}
	s := time.Now()
	if err := cmd.Start(); err != nil {
		return 0, err
	}
	nb, _ := io.Copy(io.Discard, out)
	if err := cmd.Wait(); err != nil || nb != want {
		return 0, fmt.Errorf("podman exec cat: %d of %d bytes: %v", nb, want, err)
	}
	return float64(nb) / time.Since(s).Seconds(), nil
}
