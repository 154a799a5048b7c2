//go:build integration

package core_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/loopat/desktop/backend/link"
	"github.com/loopat/desktop/backend/loops"
	"github.com/loopat/desktop/backend/ports"
	"github.com/loopat/desktop/backend/ports/portwire"
	"github.com/loopat/desktop/backend/ports/procnet"
)

// TestHostilePortReports attacks port forwarding from inside a real loop container.
// First the real relay is asked (as the host would) to forward a port nothing listens
// on: it refuses without dialing. Then the agent, root in its container, replaces
// loopat-host with a forged relay and kills the running one; the app re-attaches and
// runs the forgery, which sends a 10,000-port report, more report streams than the cap,
// and a report of invalid entries (port 0, 70000, -1, a string, an escape sequence in a
// name) plus 200 valid ports. The host must stay bounded (at most 64 forwards), keep
// only valid ports, and listen for them on 127.0.0.1 only.
func TestHostilePortReports(t *testing.T) {
	f := newCoreFixture(t)
	c := f.open()
	if err := c.Vault.SetEnv("default", "MOCK_KEY", f.realKey); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Vault.DeleteEnv("default", "MOCK_KEY") })
	a, err := c.Loops.Create(loops.CreateRequest{Title: "hostile ports"})
	if err != nil {
		t.Fatal(err)
	}
	turn(t, c, a.ID, "hello")
	name := c.Loops.Sandbox().ContainerName(a.ID)

	// The real relay dials only a port it sees listening.
	sess := c.HostExec.Link(a.ID)
	if sess == nil {
		t.Fatal("loop has no link")
	}
	st, err := sess.Open(link.TagForward)
	if err != nil {
		t.Fatal(err)
	}
	if err := portwire.WritePort(st, 45678); err != nil {
		t.Fatal(err)
	}
	st.SetReadDeadline(time.Now().Add(10 * time.Second))
	var status [1]byte
	if _, err := st.Read(status[:]); err != nil || status[0] != portwire.StatusNotListen {
		t.Fatalf("relay answered %v %v for a port nothing listens on, want refusal %d", status, err, portwire.StatusNotListen)
	}
	st.Close()

	// The forged relay.
	bin := filepath.Join(t.TempDir(), "portattack")
	build := exec.Command("go", "build", "-o", bin, "./testdata/portattack")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build portattack: %v\n%s", err, out)
	}
	if out, err := exec.Command("podman", "cp", bin, name+":/tmp/portattack").CombinedOutput(); err != nil {
		t.Fatalf("podman cp: %v\n%s", err, out)
	}
	sandboxSh(t, name, `set -e; target=$(command -v loopat-host); cp /tmp/portattack "$target.new"; chmod 755 "$target.new"; mv "$target.new" "$target"
for p in /run/loopat/host.pid /tmp/loopat/host.pid; do [ -f $p ] && kill $(cat $p) || true; done`)

	// Wait for the forged reports to settle.
	var list []ports.Forward
	deadline := time.Now().Add(30 * time.Second)
	for {
		list, err = c.LoopService.Ports(a.ID)
		if err != nil {
			t.Fatal(err)
		}
		if len(list) > 0 && list[len(list)-1].ContainerPort >= 20001 || time.Now().After(deadline) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	time.Sleep(time.Second) // let any late report land
	list, _ = c.LoopService.Ports(a.ID)
	t.Logf("%d ports after the forged reports (first %+v)", len(list), list[:min(len(list), 2)])
	if len(list) == 0 || len(list) > portwire.MaxPorts {
		t.Fatalf("%d ports kept, want 1..%d", len(list), portwire.MaxPorts)
	}
	hostPorts := map[int]bool{}
	for _, p := range list {
		// The last report wins: its valid ports only (a loop may name any port of its
		// own; that only opens a loopback listener leading back into its sandbox).
		if p.ContainerPort != 22 && (p.ContainerPort < 20001 || p.ContainerPort > 20200) {
			t.Errorf("forged port kept: %+v", p)
		}
		if p.ContainerPort < 1024 && p.HostPort == p.ContainerPort {
			t.Errorf("a loop took privileged host port %d", p.HostPort)
		}
		if strings.ContainsAny(p.Process, "\x1b\x00\n") {
			t.Errorf("control characters in a process name reached the UI: %q", p.Process)
		}
		if p.HostPort != 0 {
			hostPorts[p.HostPort] = true
		}
	}
	if len(hostPorts) == 0 || len(hostPorts) > portwire.MaxPorts {
		t.Fatalf("%d host listeners", len(hostPorts))
	}
	// Every forward listens on the host's loopback only.
	ls, err := procnet.Read("/proc")
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range ls {
		if hostPorts[int(l.Port)] && l.Addr.String() != "127.0.0.1" {
			t.Errorf("forward on host port %d listens on %s", l.Port, l.Addr)
		}
	}
	// Another loop's ports are untouched by this loop's reports.
	b, err := c.Loops.Create(loops.CreateRequest{Title: "bystander"})
	if err != nil {
		t.Fatal(err)
	}
	if other, err := c.LoopService.Ports(b.ID); err != nil || len(other) != 0 {
		t.Fatalf("bystander loop has ports %v %v", other, err)
	}
}
