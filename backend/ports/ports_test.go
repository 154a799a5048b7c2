package ports

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/loopat/desktop/backend/config"
	"github.com/loopat/desktop/backend/link"
	"github.com/loopat/desktop/backend/ports/portwire"
)

func listenOn(t *testing.T, network, addr string) int {
	t.Helper()
	l, err := net.Listen(network, addr)
	if err != nil {
		t.Skipf("listen %s: %v", addr, err)
	}
	t.Cleanup(func() { l.Close() })
	return l.Addr().(*net.TCPAddr).Port
}

func TestHostPortFreeSeesLoopbackAndWildcardListeners(t *testing.T) {
	if p := listenOn(t, "tcp4", "127.0.0.1:0"); HostPortFree(p) {
		t.Errorf("port %d held on 127.0.0.1 reported free", p)
	}
	if p := listenOn(t, "tcp4", "0.0.0.0:0"); HostPortFree(p) {
		t.Errorf("port %d held on 0.0.0.0 only reported free", p)
	}
	l, _ := net.Listen("tcp4", "127.0.0.1:0")
	p := l.Addr().(*net.TCPAddr).Port
	l.Close()
	if !HostPortFree(p) {
		t.Errorf("closed port %d reported taken", p)
	}
	if HostPortFree(0) || HostPortFree(70000) {
		t.Error("out-of-range ports reported free")
	}
}

func TestPickSkipsTakenPortsDeterministically(t *testing.T) {
	const lo, hi = 31000, 31999
	loop := "loop-abc123"
	cp := listenOn(t, "tcp4", "127.0.0.1:0") // the container's own number is taken on the host
	start := lo + rangeStart(loop, cp, lo, hi)
	listenOn(t, "tcp4", fmt.Sprintf("0.0.0.0:%d", start)) // and the hash's first choice, on the wildcard only
	got, err := Pick(loop, cp, 0, lo, hi, HostPortFree)
	if err != nil {
		t.Fatal(err)
	}
	if got == cp || got == start || got < lo || got > hi {
		t.Fatalf("picked %d (container port %d, taken start %d)", got, cp, start)
	}
	again, _ := Pick(loop, cp, 0, lo, hi, HostPortFree)
	if again != got {
		t.Fatalf("pick not deterministic: %d then %d", got, again)
	}
	if other, _ := Pick("loop-other", cp, 0, lo, hi, func(int) bool { return true }); other != cp {
		t.Fatalf("a free container port keeps its number: got %d", other)
	}
	for _, priv := range []int{22, 80, 443} {
		if p, _ := Pick(loop, priv, priv, lo, hi, func(int) bool { return true }); p < lo || p > hi {
			t.Errorf("privileged container port %d mapped to host port %d, want one from the range", priv, p)
		}
	}
	if _, err := Pick(loop, cp, 0, lo, hi, func(int) bool { return false }); err == nil {
		t.Fatal("a full range must be an error")
	}
}

func TestMappingFileValidatedOnRead(t *testing.T) {
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "l1"), 0o700)
	if err := save(dir, "l1", map[int]mapping{5173: {Container: 5173, Host: 15173}}); err != nil {
		t.Fatal(err)
	}
	ms, err := load(dir, "l1")
	if err != nil || ms[5173].Host != 15173 {
		t.Fatalf("round trip: %v %v", ms, err)
	}
	os.WriteFile(filepath.Join(dir, "l1", FileName), []byte(`{"version":1,"ports":[{"container":0,"host":5},{"container":80,"host":70000},{"container":81,"host":8081}]}`), 0o600)
	ms, _ = load(dir, "l1")
	if len(ms) != 1 || ms[81].Host != 8081 {
		t.Fatalf("invalid entries kept: %v", ms)
	}
	os.Remove(filepath.Join(dir, "l1", FileName))
	os.Symlink("/etc/passwd", filepath.Join(dir, "l1", FileName))
	if ms, err := load(dir, "l1"); err == nil || len(ms) != 0 {
		t.Fatalf("a symlinked mapping file was read: %v %v", ms, err)
	}
}

// fakeRelay answers forward streams like cmd/loopat-host: it dials only target.
func fakeRelay(target string) func(string) (net.Conn, error) {
	return func(string) (net.Conn, error) {
		a, b := net.Pipe()
		go func() {
			p, err := portwire.ReadPort(b)
			if err != nil || strconv.Itoa(p) != target[len("127.0.0.1:"):] {
				b.Write([]byte{portwire.StatusNotListen})
				b.Close()
				return
			}
			c, err := net.Dial("tcp", target)
			if err != nil {
				b.Write([]byte{portwire.StatusDialFailed})
				b.Close()
				return
			}
			b.Write([]byte{portwire.StatusOK})
			link.Splice(b, c)
		}()
		return a, nil
	}
}

func TestForwardFollowsReportsAndSurvivesRestart(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "hello from the loop") }))
	defer srv.Close()
	target := srv.Listener.Addr().String()
	cp, _ := strconv.Atoi(target[len("127.0.0.1:"):])
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "loop1"), 0o700)

	var mu sync.Mutex
	var events [][]Forward
	newManager := func() *Manager {
		return New(Options{LoopsDir: dir, Open: fakeRelay(target),
			Config: func() config.Ports { return config.Ports{Range: "32000-32999", AutoForward: true} },
			Free:   func(p int) bool { return p != cp && HostPortFree(p) }, // the container's number is "taken"
			Changed: func(_ string, f []Forward) { mu.Lock(); events = append(events, f); mu.Unlock() }})
	}
	m := newManager()
	relayEnd, hostEnd := net.Pipe()
	done := make(chan struct{})
	go func() { m.ServeConn("loop1", hostEnd); close(done) }()
	portwire.WriteUpdate(relayEnd, portwire.Update{Ports: []portwire.Port{{Port: cp, Process: "node"}}})

	var fw Forward
	deadline := time.Now().Add(2 * time.Second)
	for time.Now().Before(deadline) {
		if l, _ := m.Ports("loop1"); len(l) == 1 && l[0].HostPort != 0 {
			fw = l[0]
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if fw.HostPort < 32000 || fw.HostPort > 32999 || fw.Process != "node" || !fw.Detected {
		t.Fatalf("forward %+v", fw)
	}
	resp, err := http.Get(fw.URL)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(body) != "hello from the loop" {
		t.Fatalf("through the forward: %q", body)
	}

	// The server closes: the forward goes.
	time.Sleep(minApply)
	portwire.WriteUpdate(relayEnd, portwire.Update{Ports: []portwire.Port{}})
	for deadline = time.Now().Add(2 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if l, _ := m.Ports("loop1"); len(l) == 0 {
			break
		}
	}
	if l, _ := m.Ports("loop1"); len(l) != 0 {
		t.Fatalf("forward kept after close: %+v", l)
	}
	if c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", fw.HostPort)); err == nil {
		c.Close()
		t.Fatal("host port still listening after the container port closed")
	}
	relayEnd.Close()
	<-done
	m.Close()
	mu.Lock()
	if len(events) < 2 {
		t.Errorf("events: %v", events)
	}
	mu.Unlock()

	// App restart: the same loop and port get the same host port.
	m2 := newManager()
	defer m2.Close()
	relayEnd, hostEnd = net.Pipe()
	defer relayEnd.Close()
	go m2.ServeConn("loop1", hostEnd)
	portwire.WriteUpdate(relayEnd, portwire.Update{Ports: []portwire.Port{{Port: cp}}})
	for deadline = time.Now().Add(2 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if l, _ := m2.Ports("loop1"); len(l) == 1 && l[0].HostPort != 0 {
			if l[0].HostPort != fw.HostPort {
				t.Fatalf("after restart host port %d, before %d", l[0].HostPort, fw.HostPort)
			}
			return
		}
	}
	t.Fatal("not forwarded after restart")
}

func TestStopAndForwardByHand(t *testing.T) {
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "loop2"), 0o700)
	m := New(Options{LoopsDir: dir, Open: fakeRelay("127.0.0.1:1"),
		Config: func() config.Ports { return config.Ports{Range: "33000-33999", AutoForward: true} }})
	defer m.Close()
	if _, err := m.Forward("../x", 80); err == nil {
		t.Error("a bad loop id was accepted")
	}
	if _, err := m.Forward("loop2", 0); err == nil {
		t.Error("port 0 was accepted")
	}
	l, err := m.Forward("loop2", 33500)
	if err != nil || len(l) != 1 || l[0].HostPort == 0 {
		t.Fatalf("forward by hand: %+v %v", l, err)
	}
	l, _ = m.Stop("loop2", 33500)
	if len(l) != 0 {
		t.Fatalf("stopped forward still listed: %+v", l)
	}
}

func TestParsePortRange(t *testing.T) {
	if lo, hi, err := config.ParsePortRange(" 10000 - 20000 "); err != nil || lo != 10000 || hi != 20000 {
		t.Fatalf("%d %d %v", lo, hi, err)
	}
	for _, bad := range []string{"", "10000", "0-10", "20000-10000", "1-70000", "a-b", "-5-10"} {
		if _, _, err := config.ParsePortRange(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}
