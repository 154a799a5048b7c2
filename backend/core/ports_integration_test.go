//go:build integration

package core_test

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/loopat/desktop/backend/core"
	"github.com/loopat/desktop/backend/loops"
	"github.com/loopat/desktop/backend/ports"
)

// startServer starts a node HTTP server on port inside the loop, as the agent, and
// returns once the kernel lists it as listening (so detection time is measured from
// the moment the port exists).
func startServer(t *testing.T, container string, port int, bind string) {
	t.Helper()
	js := fmt.Sprintf(`require("http").createServer((q,s)=>s.end("served from the loop on %d")).listen(%d,%q)`, port, port, bind)
	sandboxSh(t, container, fmt.Sprintf(`setsid node -e '%s' </dev/null >/tmp/srv-%d.log 2>&1 & echo $! >/tmp/srv-%d.pid
for i in $(seq 100); do grep -qi ':%04X [0-9A-F:]* 0A ' /proc/net/tcp /proc/net/tcp6 && exit 0; sleep 0.05; done
echo "server on %d never listened"; cat /tmp/srv-%d.log; exit 1`, js, port, port, port, port, port), "2000")
}

func stopServer(t *testing.T, container string, port int) {
	sandboxSh(t, container, fmt.Sprintf("kill $(cat /tmp/srv-%d.pid)", port), "2000")
}

// waitPort polls LoopService.Ports until cond holds for containerPort's entry (nil: gone).
func waitPort(t *testing.T, c *core.Core, id string, port int, limit time.Duration, cond func(*ports.Forward) bool) *ports.Forward {
	t.Helper()
	deadline := time.Now().Add(limit)
	for {
		list, err := c.LoopService.Ports(id)
		if err != nil {
			t.Fatal(err)
		}
		var f *ports.Forward
		for i := range list {
			if list[i].ContainerPort == port {
				f = &list[i]
			}
		}
		if cond(f) {
			return f
		}
		if time.Now().After(deadline) {
			t.Fatalf("port %d not as expected after %s: %+v", port, limit, list)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func get(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

func freeHostPort(t *testing.T) int {
	for i := 0; i < 50; i++ {
		l, err := net.Listen("tcp4", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		p := l.Addr().(*net.TCPAddr).Port
		l.Close()
		if p > 20000 && ports.HostPortFree(p) { // outside [ports] range
			return p
		}
	}
	t.Fatal("no free host port")
	return 0
}

// TestPortsDetectForwardRestart: a server the agent starts in its real loop container is
// detected within 2 s and forwarded on the same port number when the host has it free,
// reachable from the host over 127.0.0.1; a port the host already uses (by a socket bound
// to 0.0.0.0 only) gets a pick from [ports] range; closing the server removes the forward;
// after an app restart the same container port gets the same host port.
func TestPortsDetectForwardRestart(t *testing.T) {
	f := newCoreFixture(t)
	c := f.open()
	if err := c.Vault.SetEnv("default", "MOCK_KEY", f.realKey); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Vault.DeleteEnv("default", "MOCK_KEY") })
	a, err := c.Loops.Create(loops.CreateRequest{Title: "ports"})
	if err != nil {
		t.Fatal(err)
	}
	turn(t, c, a.ID, "hello") // starts the container and its link
	name := c.Loops.Sandbox().ContainerName(a.ID)

	// 1. Same number when free on the host (a server bound to the container's wildcard).
	same := freeHostPort(t)
	startServer(t, name, same, "0.0.0.0")
	start := time.Now()
	fw := waitPort(t, c, a.ID, same, 2*time.Second, func(f *ports.Forward) bool { return f != nil && f.HostPort != 0 })
	t.Logf("detected and forwarded in %s: %+v", time.Since(start).Round(time.Millisecond), *fw)
	if fw.HostPort != same || fw.URL != "http://127.0.0.1:"+strconv.Itoa(same)+"/" || fw.Process != "node" {
		t.Fatalf("forward %+v, want host port %d and process node", *fw, same)
	}
	if body := get(t, fw.URL); body != fmt.Sprintf("served from the loop on %d", same) {
		t.Fatalf("through the forward: %q", body)
	}

	// 2. Taken on the host by a socket on 0.0.0.0 only: a pick from the range, on loopback.
	taken := freeHostPort(t)
	hold, err := net.Listen("tcp4", "0.0.0.0:"+strconv.Itoa(taken))
	if err != nil {
		t.Fatal(err)
	}
	defer hold.Close()
	startServer(t, name, taken, "127.0.0.1")
	fw2 := waitPort(t, c, a.ID, taken, 2*time.Second, func(f *ports.Forward) bool { return f != nil && f.HostPort != 0 })
	if fw2.HostPort == taken || fw2.HostPort < 10000 || fw2.HostPort > 20000 {
		t.Fatalf("taken host port not skipped: %+v", *fw2)
	}
	if body := get(t, fw2.URL); !strings.Contains(body, strconv.Itoa(taken)) {
		t.Fatalf("through the picked forward: %q", body)
	}

	// 3. Closing the server removes its forward and its host listener.
	stopServer(t, name, same)
	waitPort(t, c, a.ID, same, 2*time.Second, func(f *ports.Forward) bool { return f == nil })
	if conn, err := net.DialTimeout("tcp", "127.0.0.1:"+strconv.Itoa(same), time.Second); err == nil {
		conn.Close()
		t.Fatalf("host port %d still listens after the server closed", same)
	}

	// 4. App restart: the relay comes back and the same port gets the same host port.
	c.Close()
	c2 := f.open()
	fw3 := waitPort(t, c2, a.ID, taken, 30*time.Second, func(f *ports.Forward) bool { return f != nil && f.HostPort != 0 })
	if fw3.HostPort != fw2.HostPort {
		t.Fatalf("after a restart host port %d, before %d", fw3.HostPort, fw2.HostPort)
	}
	if body := get(t, fw3.URL); !strings.Contains(body, strconv.Itoa(taken)) {
		t.Fatalf("through the forward after restart: %q", body)
	}
}
