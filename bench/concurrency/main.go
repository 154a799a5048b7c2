//go:build bench

// Command concurrency measures many loops through `loopat serve` (the built binary, over
// HTTP and its event WebSocket, as the browser UI drives it):
//
//   - burst: 8 new loops started at once (a user's 8 clicks: Create then Send each) until
//     every one has streamed its first token, against one loop's start alone in the same
//     run. Goal: all 8 <= 2x one (enforced by bench/report under `make bench`).
//
//   - scale curves: serve's host-side RSS with 1 and 10 loops running, a later turn's first
//     token with 1 and 10 loops working at once (p50/p95), and LoopService.List with 10
//     loops and (LOOPAT_BENCH_SCALE=1, `make bench` only) 500.
//
//     go run -tags bench,remote,exclude_graphdriver_btrfs,containers_image_openpgp ./bench/concurrency [-burst 8]
//
// It needs a built binary (LOOPAT_BIN, default build/bin/loopat) and re-executes itself
// under scripts/test/with-keyring.sh; the model is the in-repo mock on the host's
// loopback, behind loopat's gateway.
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/coder/websocket"

	"github.com/loopat/desktop/backend/config"
	"github.com/loopat/desktop/backend/images/podmansvc"
	"github.com/loopat/desktop/bench/concurrency/concurrencybench"
	"github.com/loopat/desktop/bench/footprint/footprintbench"
	"github.com/loopat/desktop/bench/report/benchkit"
	"github.com/loopat/desktop/internal/testkit/appkit"
	"github.com/loopat/desktop/internal/testkit/mockapi"
)

func main() {
	burst := flag.Int("burst", 8, "loops started at once")
	flag.Parse()
	slog.SetDefault(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})))
	if err := benchkit.InKeyring(); err != nil {
		fmt.Fprintln(os.Stderr, "bench concurrency: keyring:", err)
		os.Exit(1)
	}
	if err := run(*burst, os.Getenv("LOOPAT_BENCH_SCALE") == "1"); err != nil {
		fmt.Fprintln(os.Stderr, "bench concurrency:", err)
		os.Exit(1)
	}
}

func progress(format string, a ...any) {
	fmt.Fprintf(os.Stderr, "[%s] %s\n", time.Now().Format("15:04:05"), fmt.Sprintf(format, a...))
}

func run(burst int, scale bool) error {
	root, err := benchkit.RepoRoot()
	if err != nil {
		return err
	}
	bin := os.Getenv("LOOPAT_BIN")
	if bin == "" {
		bin = filepath.Join(root, "build", "bin", "loopat")
	}
	if _, err := os.Stat(bin); err != nil {
		return fmt.Errorf("no loopat binary at %s (make build, or set LOOPAT_BIN): %w", bin, err)
	}
	base, err := os.MkdirTemp("", "loopat-bench-conc-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(base)
	mock := mockapi.New(mockapi.Options{})
	if err := mock.Listen("127.0.0.1:0"); err != nil {
		return err
	}
	defer mock.Close()

	var res concurrencybench.Result
	// The goal's baseline first, alone on the machine: one cold loop start on a second
	// serve with warm loops off (the path every loop took when the issue measured it).
	{
		s, rec, err := openServe(bin, base, "cold", mock.URL(), "\n[loops]\nwarm = false\n")
		if err != nil {
			return err
		}
		progress("cold serve (warm loops off): warm-up loop (network, image ensure, caches)")
		if _, err := s.startLoops(rec, 1, "warm-up"); err != nil {
			s.close()
			return err
		}
		// Three in a row (median): one start is a few seconds, easily hit by a neighbour's load.
		progress("cold serve: one cold loop start alone, %d times", coldRuns)
		before := readCPU(s.cmd.Process.Pid, s.prefix)
		for i := range coldRuns {
			one, err := s.startLoops(rec, 1, fmt.Sprintf("cold %d", i))
			if err != nil {
				s.close()
				return err
			}
			res.Cold = append(res.Cold, one...)
		}
		res.CPUCold = readCPU(s.cmd.Process.Pid, s.prefix).since(before)
		res.CPUCold.Loops = coldRuns
		s.close()
	}

	s, rec, err := openServe(bin, base, "conc", mock.URL(), "")
	if err != nil {
		return err
	}
	defer s.close()
	progress("default serve (warm loop on): warm-up loop (network, image ensure, caches)")
	if _, err := s.startLoops(rec, 1, "warm-up"); err != nil {
		return err
	}
	s.waitWarm()
	progress("one loop alone (handed the warm loop)")
	one, err := s.startLoops(rec, 1, "alone")
	if err != nil {
		return err
	}
	res.Single = one
	mem1, err := treeRSS(s.cmd.Process.Pid)
	if err != nil {
		return err
	}
	// The burst meets the app as a user's clicks would: its warm loop ready.
	s.waitWarm()
	progress("%d loops at once", burst)
	before := readCPU(s.cmd.Process.Pid, s.prefix)
	t0 := time.Now()
	res.Burst, err = s.startLoops(rec, burst, "burst")
	if err != nil {
		return err
	}
	res.BurstAll = time.Since(t0)
	res.BurstAt, res.BurstLoad = time.Now(), benchkit.Load()[0]
	res.CPUBurst = readCPU(s.cmd.Process.Pid, s.prefix).since(before)
	res.CPUBurst.Loops = burst
	for _, b := range res.Burst {
		res.BurstAll = max(res.BurstAll, b.FirstToken)
	}
	// Running now: the warm-up, the one alone and the burst.
	running := 2 + burst
	time.Sleep(2 * time.Second) // let the turns settle (agents idle, transcripts written)
	memN, err := treeRSS(s.cmd.Process.Pid)
	if err != nil {
		return err
	}
	res.Memory = []concurrencybench.Curve{{N: 2, KiB: mem1}, {N: running, KiB: memN}}

	ids := rec.ids()
	progress("later turns with 1 and %d loops working at once", len(ids))
	var solo []time.Duration
	for i := 0; i < 5; i++ {
		d, err := s.turns(rec, ids[:1])
		if err != nil {
			return err
		}
		solo = append(solo, d...)
	}
	var many []time.Duration
	for i := 0; i < 2; i++ {
		d, err := s.turns(rec, ids)
		if err != nil {
			return err
		}
		many = append(many, d...)
	}
	res.Turns = []concurrencybench.Curve{{N: 1, Samples: solo}, {N: len(ids), Samples: many}}

	list := func(n int) (concurrencybench.Curve, error) {
		c := concurrencybench.Curve{N: n}
		for i := 0; i < 20; i++ {
			t := time.Now()
			var metas []json.RawMessage
			if err := s.rpc("LoopService", "List", &metas); err != nil {
				return c, err
			}
			if len(metas) != n {
				return c, fmt.Errorf("list: %d loops, want %d", len(metas), n)
			}
			c.Samples = append(c.Samples, time.Since(t))
		}
		return c, nil
	}
	lc, err := list(len(ids))
	if err != nil {
		return err
	}
	res.List = []concurrencybench.Curve{lc}
	if scale {
		// Memory with 50 loops running: more loops started 8 at a time (each a container
		// and an agent; the containers' memory is podman's, the RSS here is the host side).
		const many = 50
		if avail := memAvailableMiB(); avail < (many-running)*claudeMiB {
			progress("50 loops: skipped, %d MiB available for %d agents", avail, many-running)
		} else {
			progress("%d loops running", many)
			for running < many {
				n := min(8, many-running)
				if _, err := s.startLoops(rec, n, "scale"); err != nil {
					return err
				}
				running += n
			}
			time.Sleep(2 * time.Second)
			mem50, err := treeRSS(s.cmd.Process.Pid)
			if err != nil {
				return err
			}
			res.Memory = append(res.Memory, concurrencybench.Curve{N: running, KiB: mem50})
		}
		progress("500 loops in the list")
		for i := running; i < 500; i++ {
			var meta struct{ ID string }
			if err := s.rpc("LoopService", "Create", &meta, map[string]string{"title": fmt.Sprintf("list %d", i)}); err != nil {
				return err
			}
		}
		if lc, err = list(500); err != nil {
			return err
		}
		res.List = append(res.List, lc)
	}

	if err := res.Check(); err != nil {
		return err
	}
	rows := concurrencybench.Rows(res)
	l := benchkit.Load()
	fmt.Printf("concurrency through loopat serve (%s): %d CPUs, load %.2f %.2f %.2f\n", bin, benchkit.Describe().CPUs, l[0], l[1], l[2])
	benchkit.Print(rows)
	fmt.Printf("CPU of one cold start: %.2f CPU-s (%s)\n", res.CPUCold.Machine, res.CPUCold.Split())
	fmt.Printf("CPU of %d at once: %.2f CPU-s (%s)\n", burst, res.CPUBurst.Machine, res.CPUBurst.Split())
	fmt.Println("each loop of the burst, from the clicks (create returned / status starting / status working / first token):")
	for i, b := range res.Burst {
		fmt.Printf("  %d: %8s %8s %8s %8s\n", i, b.Create.Round(time.Millisecond), b.Starting.Round(time.Millisecond), b.Working.Round(time.Millisecond), b.FirstToken.Round(time.Millisecond))
	}
	path, err := benchkit.Write(rows)
	if err != nil {
		return err
	}
	fmt.Println("rows written to", path)
	return nil
}

// treeRSS is serve's RSS with its children's (KiB): the host side of the running loops.
func treeRSS(pid int) (int64, error) {
	m, err := footprintbench.ReadMemory(pid)
	if err != nil {
		return 0, err
	}
	total := m.RSS
	kids, _ := footprintbench.Children(pid)
	for k := range kids {
		if km, err := footprintbench.ReadMemory(k); err == nil {
			total += km.RSS
		}
	}
	return total, nil
}

type serve struct {
	cmd    *exec.Cmd
	origin string
	token  string
	client *http.Client

	home, prefix string // LOOPAT_HOME and its containers' name prefix
	cancel       context.CancelFunc

	mu                  sync.Mutex
	warmReady, warmGone int           // "warm loop ready" / "handed out" or "discarded" lines of serve's log
	warmChanged         chan struct{} // closed and replaced on each
}

// coldRuns is how many cold single starts the baseline's median takes.
const coldRuns = 3

// claudeMiB is about what one idle agent (the claude CLI in its container) holds.
const claudeMiB = 300

// openServe makes a workspace under base (the mock as its provider, extra appended to
// config.toml, the key in its vault), starts `loopat serve` on it and follows its events.
func openServe(bin, base, name, mockURL, extra string) (*serve, *recorder, error) {
	home := filepath.Join(base, fmt.Sprintf("%s%d", name, os.Getpid()))
	if err := os.MkdirAll(home, 0o700); err != nil {
		return nil, nil, err
	}
	if err := os.WriteFile(filepath.Join(home, "config.toml"), []byte(appkit.MockConfig(mockURL, extra)), 0o600); err != nil {
		return nil, nil, err
	}
	env := append(os.Environ(), "LOOPAT_HOME="+home)
	set := exec.Command(bin, "vault", "set", appkit.MockKeyRef)
	set.Env, set.Stdin = env, strings.NewReader("sk-bench-not-a-real-key\n")
	if out, err := set.CombinedOutput(); err != nil {
		return nil, nil, fmt.Errorf("loopat vault set: %v\n%s", err, out)
	}
	s, err := startServe(bin, env)
	if err != nil {
		return nil, nil, err
	}
	s.home = home
	ws, err := config.NewWorkspace(home)
	if err != nil {
		s.close()
		return nil, nil, err
	}
	s.prefix = ws.ResourcePrefix()
	ctx, cancel := context.WithCancel(context.Background())
	s.cancel = cancel
	rec, err := s.watch(ctx)
	if err != nil {
		s.close()
		return nil, nil, err
	}
	return s, rec, nil
}

// close stops serve and removes the workspace's containers and network (the image stays cached).
func (s *serve) close() {
	if s.cancel != nil {
		s.cancel()
	}
	s.stop()
	if svc, err := podmansvc.Connect(context.Background()); err == nil {
		appkit.RemoveWorkspace(svc.Conn, s.home)
		svc.Stop()
	}
}

// followLog copies serve's log to ours and counts the warm loop's lines.
func (s *serve) followLog(r io.Reader) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		fmt.Fprintln(os.Stderr, line)
		ready := strings.Contains(line, `msg="warm loop ready"`)
		gone := strings.Contains(line, `msg="warm loop handed out"`) || strings.Contains(line, `msg="warm loop discarded"`)
		if ready || gone {
			s.mu.Lock()
			if ready {
				s.warmReady++
			} else {
				s.warmGone++
			}
			close(s.warmChanged)
			s.warmChanged = make(chan struct{})
			s.mu.Unlock()
		}
	}
}

// waitWarm waits (bounded) until serve has a warm loop ready that is not handed out.
func (s *serve) waitWarm() {
	deadline := time.After(2 * time.Minute)
	for {
		s.mu.Lock()
		ok, ch := s.warmReady > s.warmGone, s.warmChanged
		s.mu.Unlock()
		if ok {
			return
		}
		select {
		case <-ch:
		case <-deadline:
			progress("no warm loop ready in 2 minutes; going on without")
			return
		}
	}
}

// memAvailableMiB is /proc/meminfo's MemAvailable.
func memAvailableMiB() int {
	data, _ := os.ReadFile("/proc/meminfo")
	for _, l := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(l, "MemAvailable:"); ok {
			kb, _ := strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")))
			return kb / 1024
		}
	}
	return 0
}

var urlRE = regexp.MustCompile(`(http://127\.0\.0\.1:\d+)/\?token=([0-9a-fA-F]+)`)

func startServe(bin string, env []string) (*serve, error) {
	cmd := exec.Command(bin, "serve", "--addr", "127.0.0.1:0")
	cmd.Env = env
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	logs, err := cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	s := &serve{cmd: cmd, client: &http.Client{Timeout: 5 * time.Minute}, warmChanged: make(chan struct{})}
	go s.followLog(logs)
	found := make(chan []string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if m := urlRE.FindStringSubmatch(sc.Text()); m != nil {
				found <- m
			}
		}
	}()
	select {
	case m := <-found:
		s.origin, s.token = m[1], m[2]
		return s, nil
	case <-time.After(time.Minute):
		s.stop()
		return nil, errors.New("loopat serve printed no URL in a minute")
	}
}

func (s *serve) stop() {
	_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGTERM)
	done := make(chan struct{})
	go func() { _ = s.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
		<-done
	}
}

// rpc is the browser client's call: POST /api/rpc/<Service>/<Method> with the arguments
// as a JSON array (a non-browser client: the token as a Bearer header).
func (s *serve) rpc(service, method string, out any, args ...any) error {
	if args == nil {
		args = []any{}
	}
	body, _ := json.Marshal(args)
	req, _ := http.NewRequest(http.MethodPost, s.origin+"/api/rpc/"+service+"/"+method, bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+s.token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := s.client.Do(req)
	if err != nil {
		return fmt.Errorf("%s.%s: %w", service, method, err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s.%s: %s: %s", service, method, resp.Status, data)
	}
	if out == nil {
		return nil
	}
	var wrap struct {
		Result json.RawMessage `json:"result"`
	}
	if err := json.Unmarshal(data, &wrap); err != nil {
		return fmt.Errorf("%s.%s: %w", service, method, err)
	}
	return json.Unmarshal(wrap.Result, out)
}

// recorder follows the event WebSocket: per loop, when it went starting, working, idle
// and streamed its first token since the mark its waiter set.
type recorder struct {
	mu    sync.Mutex
	loops map[string]*track
	order []string
	err   error
}

type track struct {
	since                  time.Time
	starting, working, tok time.Time
	status                 string
	changed                chan struct{} // closed and replaced on every event of the loop
}

func (s *serve) watch(ctx context.Context) (*recorder, error) {
	wsURL := "ws" + strings.TrimPrefix(s.origin, "http") + "/api/events"
	c, _, err := websocket.Dial(ctx, wsURL, &websocket.DialOptions{HTTPHeader: http.Header{"Authorization": {"Bearer " + s.token}}})
	if err != nil {
		return nil, fmt.Errorf("events websocket: %w", err)
	}
	c.SetReadLimit(64 << 20)
	r := &recorder{loops: map[string]*track{}}
	go func() {
		defer c.CloseNow()
		for {
			_, data, err := c.Read(ctx)
			if err != nil {
				r.fail(fmt.Errorf("events websocket: %w", err))
				return
			}
			at := time.Now()
			var ev struct {
				Topic string          `json:"topic"`
				Data  json.RawMessage `json:"data"`
			}
			if json.Unmarshal(data, &ev) != nil {
				continue
			}
			parts := strings.SplitN(ev.Topic, ":", 3)
			if len(parts) != 3 || parts[0] != "loop" {
				continue
			}
			r.event(parts[1], parts[2], ev.Data, at)
		}
	}()
	return r, nil
}

func (r *recorder) fail(err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.err == nil {
		r.err = err
	}
	for _, t := range r.loops {
		close(t.changed)
		t.changed = make(chan struct{})
	}
}

func (r *recorder) event(id, what string, data json.RawMessage, at time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	t := r.loops[id]
	if t == nil {
		return // a loop this bench is not waiting on (yet)
	}
	switch what {
	case "status":
		var st struct{ Status, Detail string }
		_ = json.Unmarshal(data, &st)
		t.status = st.Status
		if st.Status == "starting" && t.starting.IsZero() {
			t.starting = at
		}
		if st.Status == "working" && t.working.IsZero() {
			t.working = at
		}
		if st.Status == "error" && r.err == nil {
			r.err = fmt.Errorf("loop %s: %s", id, st.Detail)
		}
	case "delta":
		if t.tok.IsZero() {
			t.tok = at
		}
	case "message":
		if t.tok.IsZero() && bytes.Contains(data, []byte(`"type":"assistant"`)) {
			t.tok = at
		}
	default:
		return
	}
	close(t.changed)
	t.changed = make(chan struct{})
}

// arm starts following id's events from now (a new turn).
func (r *recorder) arm(id string, since time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	t := r.loops[id]
	if t == nil {
		t = &track{changed: make(chan struct{})}
		r.loops[id] = t
		r.order = append(r.order, id)
	}
	t.since, t.starting, t.working, t.tok = since, time.Time{}, time.Time{}, time.Time{}
}

func (r *recorder) ids() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.order...)
}

// wait blocks until done(track) holds, the stream fails or the limit passes.
func (r *recorder) wait(id string, limit time.Duration, done func(*track) bool) (track, error) {
	deadline := time.After(limit)
	for {
		r.mu.Lock()
		t := r.loops[id]
		snap, ch, err := *t, t.changed, r.err
		r.mu.Unlock()
		if err != nil {
			return snap, err
		}
		if done(&snap) {
			return snap, nil
		}
		select {
		case <-ch:
		case <-deadline:
			return snap, fmt.Errorf("loop %s: not done in %s (status %q)", id, limit, snap.status)
		}
	}
}

// startLoops is n users clicking New loop and sending a first message at the same moment;
// each Start is timed from the shared click.
func (s *serve) startLoops(r *recorder, n int, title string) ([]concurrencybench.Start, error) {
	out := make([]concurrencybench.Start, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	t0 := time.Now()
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var meta struct {
				ID string `json:"id"`
			}
			if err := s.rpc("LoopService", "Create", &meta, map[string]string{"title": fmt.Sprintf("%s %d", title, i)}); err != nil {
				errs[i] = err
				return
			}
			if meta.ID == "" {
				errs[i] = errors.New("LoopService.Create answered no loop id")
				return
			}
			created := time.Since(t0)
			r.arm(meta.ID, t0)
			if err := s.rpc("LoopService", "Send", nil, meta.ID, "hello"); err != nil {
				errs[i] = err
				return
			}
			t, err := r.wait(meta.ID, 5*time.Minute, func(t *track) bool { return !t.tok.IsZero() })
			if err != nil {
				errs[i] = err
				return
			}
			since := func(at time.Time) time.Duration { // zero: not seen (a warm loop is already started)
				if at.IsZero() {
					return 0
				}
				return at.Sub(t0)
			}
			out[i] = concurrencybench.Start{Create: created, Starting: since(t.starting), Working: since(t.working), FirstToken: since(t.tok)}
			// The reply ends (status idle) before the loop counts as ready for a later turn.
			_, errs[i] = r.wait(meta.ID, 5*time.Minute, func(t *track) bool { return t.status == "idle" })
		}()
	}
	wg.Wait()
	return out, errors.Join(errs...)
}

// turns sends a later message to every loop in ids at once and returns each one's time
// from its Send to its first token.
func (s *serve) turns(r *recorder, ids []string) ([]time.Duration, error) {
	out := make([]time.Duration, len(ids))
	errs := make([]error, len(ids))
	var wg sync.WaitGroup
	for i, id := range ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			t0 := time.Now()
			r.arm(id, t0)
			if err := s.rpc("LoopService", "Send", nil, id, "again"); err != nil {
				errs[i] = err
				return
			}
			t, err := r.wait(id, 3*time.Minute, func(t *track) bool { return !t.tok.IsZero() })
			if err != nil {
				errs[i] = err
				return
			}
			out[i] = t.tok.Sub(t0)
			_, errs[i] = r.wait(id, 3*time.Minute, func(t *track) bool { return t.status == "idle" && !t.working.IsZero() })
		}()
	}
	wg.Wait()
	return out, errors.Join(errs...)
}
