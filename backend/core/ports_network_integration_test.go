//go:build integration

package core_test

import (
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/loopat/desktop/backend/loops"
	"github.com/loopat/desktop/backend/ports"
)

// lanIP is a non-loopback IPv4 address of this host: what another machine of the network
// would connect to. The test skips without one.
func lanIP(t *testing.T) string {
	t.Helper()
	addrs, _ := net.InterfaceAddrs()
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && n.IP.To4() != nil && !n.IP.IsLoopback() && !n.IP.IsLinkLocalUnicast() {
			return n.IP.String()
		}
	}
	t.Skip("no non-loopback IPv4 address on this host")
	return ""
}

func reachable(addr string) bool {
	c, err := net.DialTimeout("tcp4", addr, time.Second)
	if err == nil {
		c.Close()
	}
	return err == nil
}

// TestHostileNetworkShare: "share on my network" is the user's per-port choice. A server
// the agent starts is forwarded on loopback only (not reachable on the host's LAN
// address); SharePortOnNetwork makes that one port reachable there, and off (or the
// server closing) puts it back on loopback only. The agent, from inside its container,
// hides secrets in the folder it wants shared (a .Env file under a sub-folder, a .git
// folder and a link to the host's /etc): the network static share of such a folder is
// refused and nothing listens; a clean build folder is shared on the network, read-only.
func TestHostileNetworkShare(t *testing.T) {
	ip := lanIP(t)
	f := newCoreFixture(t)
	c := f.open()
	if err := c.Vault.SetEnv("default", "MOCK_KEY", f.realKey); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Vault.DeleteEnv("default", "MOCK_KEY") })
	a, err := c.Loops.Create(loops.CreateRequest{Title: "network share"})
	if err != nil {
		t.Fatal(err)
	}
	turn(t, c, a.ID, "hello")
	name := c.Loops.Sandbox().ContainerName(a.ID)

	cp := freeHostPort(t)
	startServer(t, name, cp, "0.0.0.0")
	fw := waitPort(t, c, a.ID, cp, 5*time.Second, func(f *ports.Forward) bool { return f != nil && f.HostPort != 0 })
	lan := net.JoinHostPort(ip, strconv.Itoa(fw.HostPort))
	if fw.Network || reachable(lan) {
		t.Fatalf("a detected port is reachable on the network by default: %+v", *fw)
	}
	l, err := c.LoopService.SharePortOnNetwork(a.ID, cp, true)
	if err != nil {
		t.Fatal(err)
	}
	if got := get(t, "http://"+lan+"/"); !strings.Contains(got, "served from the loop") {
		t.Fatalf("over the network address: %q (%+v)", got, l)
	}
	if _, err := c.LoopService.SharePortOnNetwork(a.ID, cp, false); err != nil {
		t.Fatal(err)
	}
	if reachable(lan) {
		t.Fatal("still on the network after 'this computer only'")
	}
	if got := get(t, fw.URL); !strings.Contains(got, "served from the loop") {
		t.Fatalf("loopback after unsharing: %q", got)
	}
	// Shared again, then the server closes: the choice ends with the forward.
	if _, err := c.LoopService.SharePortOnNetwork(a.ID, cp, true); err != nil {
		t.Fatal(err)
	}
	stopServer(t, name, cp)
	waitPort(t, c, a.ID, cp, 5*time.Second, func(f *ports.Forward) bool { return f == nil })
	startServer(t, name, cp, "0.0.0.0")
	fw = waitPort(t, c, a.ID, cp, 5*time.Second, func(f *ports.Forward) bool { return f != nil && f.HostPort != 0 })
	if fw.Network || reachable(net.JoinHostPort(ip, strconv.Itoa(fw.HostPort))) {
		t.Fatalf("a new server on a once-shared port is on the network: %+v", *fw)
	}

	// The agent plants secrets in the folders it would like shared on the network.
	sandboxSh(t, name, `cd `+loops.SandboxWork+` && mkdir -p site/a/b dist secretlink &&
printf '<h1>site</h1>' > site/index.html && printf 'API_KEY=agent-planted' > site/a/b/.Env.production &&
mkdir -p gitted/.git && printf x > gitted/.git/config &&
ln -s /etc secretlink/etc && printf '<h1>built</h1>' > dist/index.html`, "2000")
	before, _ := c.LoopService.WorkdirShare(a.ID)
	for _, sub := range []string{"", "site", "gitted"} {
		if sh, err := c.LoopService.ShareWorkdir(a.ID, sub, true); err == nil {
			t.Fatalf("network share of %q (holds secrets) accepted: %+v", sub, sh)
		}
	}
	if now, _ := c.LoopService.WorkdirShare(a.ID); now != before {
		t.Fatalf("a refused share changed the running one: %+v -> %+v", before, now)
	}
	// The link is not followed: the folder holds no hidden name, and the link is never served.
	sh, err := c.LoopService.ShareWorkdir(a.ID, "secretlink", true)
	if err != nil {
		t.Fatalf("network share of a folder holding only a link: %v", err)
	}
	port := sh.URL[strings.LastIndex(sh.URL[:len(sh.URL)-1], ":")+1 : len(sh.URL)-1]
	resp, err := http.Get("http://" + net.JoinHostPort(ip, port) + "/etc/passwd")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Fatalf("a link out of the workdir served over the network: %s", resp.Status)
	}
	sh, err = c.LoopService.ShareWorkdir(a.ID, "dist", true)
	if err != nil || !sh.Network {
		t.Fatalf("network share of dist: %+v %v", sh, err)
	}
	port = sh.URL[strings.LastIndex(sh.URL[:len(sh.URL)-1], ":")+1 : len(sh.URL)-1]
	if got := get(t, "http://"+net.JoinHostPort(ip, port)+"/"); got != "<h1>built</h1>" {
		t.Fatalf("dist over the network: %q", got)
	}
	req, _ := http.NewRequest(http.MethodPut, "http://"+net.JoinHostPort(ip, port)+"/index.html", strings.NewReader("x"))
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != http.StatusMethodNotAllowed {
		t.Fatalf("a write over the network share: %v %v", resp, err)
	}
}
