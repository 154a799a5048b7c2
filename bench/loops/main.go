//go:build bench

// Command loops measures a loop of the running app, opened through core.Open (gateway,
// host link, context clones, image ensure, events, the vault on a real Secret Service),
// against what a user could do by hand with the same image and the same mock model:
//
//	go run -tags bench,remote,exclude_graphdriver_btrfs,containers_image_openpgp ./bench/loops [-n 3] [-turns 5]
//
// It re-executes itself under scripts/test/with-keyring.sh (a throwaway keyring), runs a
// private podman service, and writes its rows into artifacts/bench.json.
//
//   - loop start: New loop + first message → first streamed token, against `podman run -d`
//     then `podman exec claude -p` (by hand) and the same bindings calls without loopat (floor).
//   - later turn: first token of a later message in a started loop, against a one-shot
//     `claude -p` and against the CLI's own stream-json loop without loopat (floor).
//
// The model is the in-repo mock. The app reaches it on the host's loopback through its
// gateway; the by-hand and floor containers reach a second mock listening on the gateway
// address of the bench workspace's own podman network. Nothing leaves the machine.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"strings"
	"sync"
	"time"

	"github.com/containers/podman/v5/pkg/api/handlers"
	"github.com/containers/podman/v5/pkg/bindings/containers"
	"github.com/containers/podman/v5/pkg/bindings/network"
	"github.com/containers/podman/v5/pkg/specgen"
	dockerContainer "github.com/docker/docker/api/types/container"
	nettypes "go.podman.io/common/libnetwork/types"

	"github.com/loopat/desktop/backend/events"
	"github.com/loopat/desktop/backend/execstream"
	"github.com/loopat/desktop/backend/loops"
	"github.com/loopat/desktop/bench/loops/loopsbench"
	"github.com/loopat/desktop/bench/report/benchkit"
	"github.com/loopat/desktop/internal/testkit/mockapi"
)

const model = "claude-sonnet-4-5"

func main() {
	n := flag.Int("n", 3, "loop starts per side (median reported; one more warm-up run is dropped)")
	turns := flag.Int("turns", 5, "later turns per side")
	flag.Parse()
	slog.SetDefault(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})))
	if err := benchkit.InKeyring(); err != nil {
		fmt.Fprintln(os.Stderr, "bench loops: keyring:", err)
		os.Exit(1)
	}
	if err := run(*n, *turns); err != nil {
		fmt.Fprintln(os.Stderr, "bench loops:", err)
		os.Exit(1)
	}
}

type bench struct {
	app     *benchkit.App
	ctx     context.Context
	ref     string // the sandbox image the app's loops run
	netName string
	direct  *mockapi.Server // the mock on the bench network's gateway, for by-hand and floor
	evs     <-chan events.Event
}

func run(n, turns int) error {
	app, err := benchkit.OpenApp("")
	if err != nil {
		return err
	}
	defer app.Close()
	b := &bench{app: app, ctx: context.Background(), netName: app.Core.Loops.Sandbox().NetworkName()}
	evs, unsub := app.Core.Bus.Subscribe(8192, func(t string) bool { return strings.HasPrefix(t, "loop:") })
	defer unsub()
	b.evs = evs

	// Image ensure on a cache hit, as every loop start does it.
	var ensure []time.Duration
	for i := 0; i < 5; i++ {
		t0 := time.Now()
		ref, _, err := app.Core.Images.EnsureLoopImage(b.ctx, app.Conn, nil, nil)
		if err != nil {
			return fmt.Errorf("image ensure: %w", err)
		}
		ensure = append(ensure, time.Since(t0))
		b.ref = ref
	}

	// The steps a start takes before its container exists, timed on their own: the vault
	// read (Secret Service over D-Bus) and the context clones of a new loop.
	var vaultRead, clones []time.Duration
	for i := 0; i < 3; i++ {
		t0 := time.Now()
		if _, err := app.Core.Vault.Envs("default"); err != nil {
			return fmt.Errorf("vault read: %w", err)
		}
		if _, err := app.Core.Vault.Files("default"); err != nil {
			return fmt.Errorf("vault read: %w", err)
		}
		vaultRead = append(vaultRead, time.Since(t0))
		meta, err := app.Core.Loops.Create(loops.CreateRequest{Title: fmt.Sprintf("clones %d", i)})
		if err != nil {
			return err
		}
		t0 = time.Now()
		if _, _, err := app.Core.Context.PrepareLoopWarnings(b.ctx, meta.ID, false); err != nil {
			return fmt.Errorf("context clones: %w", err)
		}
		clones = append(clones, time.Since(t0))
		if err := app.Core.Loops.Delete(meta.ID); err != nil {
			return err
		}
	}

	progress("warm-up loop")
	// Warm-up loop (dropped): creates the workspace network, warms caches.
	if _, _, err := b.loopatStart("warm-up", false); err != nil {
		return err
	}
	if err := b.listenDirect(); err != nil {
		return err
	}
	defer b.direct.Close()
	if _, err := b.byHandStart("warm"); err != nil {
		return err
	}

	var ours, cold, hand, floor []time.Duration
	var phases []loopsbench.Phase
	var keep string
	for i := 0; i < n; i++ {
		progress("loop start %d of %d: loopat (warm loop on, the default), by hand, floor", i+1, n)
		last := i == n-1
		// A user who clicks "New loop" a few seconds after the last one finds the next
		// one prepared; the preparation is waited for before and after so it never runs
		// beside a measured start (ours, by hand or floor).
		warm, err := b.waitWarm("")
		if err != nil {
			return err
		}
		d, ph, err := b.loopatStart(fmt.Sprintf("start %d", i), last)
		if err != nil {
			return err
		}
		if last && ph[0].LoopID != warm {
			return fmt.Errorf("the measured start did not get the warm loop %s", warm)
		}
		ours, phases = append(ours, d), ph
		if last {
			keep = ph[0].LoopID
		}
		if _, err := b.waitWarm(warm); err != nil {
			return err
		}
		if d, err = b.byHandStart(fmt.Sprint(i)); err != nil {
			return err
		}
		hand = append(hand, d)
		if d, err = b.floorStart(fmt.Sprint(i)); err != nil {
			return err
		}
		floor = append(floor, d)
	}
	// Cold starts: [loops] warm = false, as a loop with a repo or after a settings change starts.
	b.setWarm(false)
	for i := 0; i < n; i++ {
		progress("cold loop start %d of %d (warm loop off)", i+1, n)
		d, _, err := b.loopatStart(fmt.Sprintf("cold %d", i), false)
		if err != nil {
			return err
		}
		cold = append(cold, d)
	}
	b.setWarm(true)

	progress("later turns x%d", turns)
	// Later turns: in the kept loop, a one-shot claude -p, and the CLI's own loop.
	later, oneshot, cliLoop, err := b.laterTurns(keep, turns)
	if err != nil {
		return err
	}

	res := loopsbench.Result{Starts: ours, ColdStarts: cold, ByHand: hand, Floor: floor, Later: later, OneShot: oneshot, CLILoop: cliLoop,
		Ensure: ensure, VaultRead: vaultRead, Clones: clones, Phases: phases}
	if err := res.Check(); err != nil {
		return err
	}
	rows := loopsbench.Rows(res)

	l := benchkit.Load()
	fmt.Printf("loops benchmark through core.Open: median of %d starts / %d turns, %d CPUs, load %.2f %.2f %.2f\n",
		n, turns, benchkit.Describe().CPUs, l[0], l[1], l[2])
	benchkit.Print(rows[:len(rows)-1])
	fmt.Println("where the time of the last loop start went (app events + podman events of its container):")
	for _, p := range phases {
		fmt.Printf("  %8s  +%-8s %s\n", benchkit.Fmt(benchkit.Ms(p.At), "ms"), benchkit.Fmt(benchkit.Ms(p.Took), "ms"), p.What)
	}
	path, err := benchkit.Write(rows)
	if err != nil {
		return err
	}
	fmt.Println("rows written to", path)
	return nil
}

// setWarm switches [loops] warm in the app's live config (as a saved Settings change does).
func (b *bench) setWarm(on bool) {
	cfg := b.app.Core.Live.Get()
	cfg.Loops.Warm = on
	b.app.Core.Live.Set(cfg)
	if !on {
		b.app.Core.Loops.DiscardWarm("bench: cold starts")
	}
}

// waitWarm waits until a warm loop other than not is prepared and returns its id.
func (b *bench) waitWarm(not string) (string, error) {
	deadline := time.Now().Add(3 * time.Minute)
	for {
		if id := b.app.Core.Loops.WarmLoopID(); id != "" && id != not {
			return id, nil
		}
		if time.Now().After(deadline) {
			return "", fmt.Errorf("no warm loop prepared in 3 minutes")
		}
		b.app.Core.Loops.KickWarm()
		time.Sleep(50 * time.Millisecond)
	}
}

// loopatStart is the user's action: New loop, type a message, see the first token.
func (b *bench) loopatStart(title string, keep bool) (time.Duration, []loopsbench.Phase, error) {
	c := b.app.Core
	t0 := time.Now()
	meta, err := c.Loops.Create(loops.CreateRequest{Title: title})
	if err != nil {
		return 0, nil, err
	}
	created := time.Since(t0)
	if _, err := c.Loops.Send(meta.ID, "hello"); err != nil {
		return 0, nil, err
	}
	marks, err := b.firstToken(meta.ID, t0, 3*time.Minute)
	if err != nil {
		return 0, nil, err
	}
	first := marks["first token"].Sub(t0)
	wctx, cancel := context.WithTimeout(b.ctx, 3*time.Minute)
	defer cancel()
	if err := c.Loops.Wait(wctx, meta.ID); err != nil {
		return 0, nil, err
	}
	if got, _ := c.Loops.Get(meta.ID); got.Status != loops.StatusIdle {
		return 0, nil, fmt.Errorf("loop start ended in status %s", got.Status)
	}
	var ph []loopsbench.Phase
	if keep {
		ph = []loopsbench.Phase{{LoopID: meta.ID, What: "create the loop (folder, meta)", At: created}}
		add := func(what string, at time.Time) {
			ph = append(ph, loopsbench.Phase{LoopID: meta.ID, What: what, At: at.Sub(t0)})
		}
		if s, ok := marks["status starting"]; ok {
			add("send -> status starting", s)
		}
		for _, e := range podmanEvents(c.Loops.Sandbox().ContainerName(meta.ID), t0, time.Now()) {
			add(e.what, e.at)
		}
		if s, ok := marks["status working"]; ok {
			add("agent started, message written (status working)", s)
		}
		add("first token of the reply", marks["first token"])
		sortPhases(ph)
		for i := range ph {
			prev := time.Duration(0)
			if i > 0 {
				prev = ph[i-1].At
			}
			ph[i].Took = ph[i].At - prev
		}
		return first, ph, nil
	}
	if err := c.Loops.Delete(meta.ID); err != nil {
		return 0, nil, fmt.Errorf("delete loop: %w", err)
	}
	return first, nil, nil
}

func sortPhases(ph []loopsbench.Phase) {
	for i := 1; i < len(ph); i++ {
		for j := i; j > 0 && ph[j].At < ph[j-1].At; j-- {
			ph[j], ph[j-1] = ph[j-1], ph[j]
		}
	}
}

// firstToken reads the bus until the loop streams its first text delta (or, failing
// partial messages, its first assistant message), noting status changes on the way.
func (b *bench) firstToken(id string, since time.Time, limit time.Duration) (map[string]time.Time, error) {
	marks := map[string]time.Time{}
	prefix := "loop:" + id + ":"
	timeout := time.After(limit)
	for {
		select {
		case ev := <-b.evs:
			what, ok := strings.CutPrefix(ev.Topic, prefix)
			if !ok || ev.Time.Before(since) { // another loop's, or the rest of an earlier turn
				continue
			}
			switch what {
			case "status":
				if m, ok := ev.Data.(map[string]string); ok {
					if _, seen := marks["status "+m["status"]]; !seen {
						marks["status "+m["status"]] = ev.Time
					}
					if m["status"] == loops.StatusError {
						return nil, fmt.Errorf("loop %s failed: %s", id, m["detail"])
					}
				}
			case "delta":
				marks["first token"] = ev.Time
				return marks, nil
			case "message":
				if raw, ok := ev.Data.(json.RawMessage); ok && strings.Contains(string(raw), `"type":"assistant"`) {
					marks["first token"] = ev.Time
					return marks, nil
				}
			}
		case <-timeout:
			return nil, fmt.Errorf("no first token from loop %s in %s", id, limit)
		}
	}
}

type podmanEvent struct {
	what string
	at   time.Time
}

// podmanEvents are the container's lifecycle and exec events in [since, until]: create,
// start, and one exec each for the link relay, the secret delivery and the agent.
func podmanEvents(name string, since, until time.Time) []podmanEvent {
	// A relative --since: podman 4.3 returns nothing for some absolute --since/--until pairs.
	back := fmt.Sprintf("%ds", int(time.Since(since).Seconds())+2)
	out, err := exec.Command("podman", "events", "--stream=false", "--since", back, "--format", "{{json .}}").Output()
	if err != nil {
		slog.Warn("podman events", "err", err)
		return nil
	}
	var evs []podmanEvent
	execs := 0
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		var e struct {
			Name   string    `json:"Name"`
			Status string    `json:"Status"`
			Time   time.Time `json:"Time"`
		}
		if json.Unmarshal([]byte(line), &e) != nil || e.Time.IsZero() || e.Name != name {
			continue
		}
		at := e.Time
		if at.Before(since) || at.After(until) {
			continue
		}
		what := "container " + e.Status
		if e.Status == "exec" {
			execs++
			what = fmt.Sprintf("exec #%d started (%s)", execs, execLabel(execs))
		}
		if e.Status == "exec_died" {
			continue
		}
		evs = append(evs, podmanEvent{what: what, at: at})
	}
	return evs
}

// execLabel names the execs of a loop start in the order loops.Manager makes them.
func execLabel(i int) string {
	switch i {
	case 1:
		return "host link relay attach"
	case 2:
		return "secret delivery"
	case 3:
		return "agent claude process"
	}
	// Later execs (agent restarts, kills) are not part of a first start.
	return "exec"
}

// listenDirect starts the by-hand mock on the gateway address of the bench's network.
func (b *bench) listenDirect() error {
	rep, err := network.Inspect(b.app.Conn, b.netName, nil)
	if err != nil {
		return fmt.Errorf("inspect %s: %w", b.netName, err)
	}
	gw := ""
	for _, s := range rep.Subnets {
		if s.Gateway != nil && s.Gateway.To4() != nil {
			gw = s.Gateway.String()
		}
	}
	if gw == "" {
		return fmt.Errorf("network %s has no IPv4 gateway", b.netName)
	}
	b.direct = mockapi.New(mockapi.Options{})
	return b.direct.Listen(net.JoinHostPort(gw, "0"))
}

// claudeEnv is what the by-hand user gives claude: the mock, a key, a writable HOME.
func (b *bench) claudeEnv() []string {
	return []string{"HOME=/tmp/byhand", "ANTHROPIC_BASE_URL=" + b.direct.URL(), "ANTHROPIC_API_KEY=sk-bench-direct",
		"CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1"}
}

func oneShotArgs(prompt string) []string {
	return []string{"claude", "-p", "--output-format", "stream-json", "--include-partial-messages", "--verbose", "--model", model, prompt}
}

func (b *bench) containerName(kind, i string) string {
	return b.app.Core.Workspace.ResourcePrefix() + "-" + kind + "-" + i
}

// byHandStart is `podman run -d` + `podman exec claude -p`, timed to the first token.
func (b *bench) byHandStart(i string) (time.Duration, error) {
	name := b.containerName("byhand", i)
	defer exec.Command("podman", "rm", "-f", "-t", "0", name).Run()
	t0 := time.Now()
	if out, err := exec.Command("podman", "run", "-d", "--init", "--name", name, "--network", b.netName,
		"--user", loops.SandboxUser, b.ref, "sleep", "infinity").CombinedOutput(); err != nil {
		return 0, fmt.Errorf("podman run: %v %s", err, out)
	}
	args := []string{"exec", "-w", "/tmp"}
	for _, e := range b.claudeEnv() {
		args = append(args, "-e", e)
	}
	cmd := exec.Command("podman", append(append(args, name), oneShotArgs("hello")...)...)
	return firstTokenOf(cmd, t0)
}

// firstTokenOf runs cmd and returns the time from t0 to its first text delta on stdout;
// it waits for cmd to end.
func firstTokenOf(cmd *exec.Cmd, t0 time.Time) (time.Duration, error) {
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return 0, err
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		return 0, err
	}
	d, seen := watchTokens(stdout, t0)
	if err := cmd.Wait(); err != nil {
		return 0, fmt.Errorf("%s: %v %s", strings.Join(cmd.Args[:3], " "), err, stderr.String())
	}
	if !seen {
		return 0, fmt.Errorf("%s: no text delta", strings.Join(cmd.Args[:3], " "))
	}
	return d, nil
}

// watchTokens reads stream-json lines to the end and times the first text delta.
func watchTokens(r io.Reader, t0 time.Time) (time.Duration, bool) {
	var d time.Duration
	seen := false
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		if !seen && strings.Contains(sc.Text(), `"text_delta"`) {
			d, seen = time.Since(t0), true
		}
	}
	return d, seen
}

// floorStart is the same engine work with bindings and no loopat layer: create, start,
// exec claude -p, first token.
func (b *bench) floorStart(i string) (time.Duration, error) {
	conn := b.app.Conn
	name := b.containerName("floor", i)
	defer containers.Remove(conn, name, new(containers.RemoveOptions).WithForce(true).WithTimeout(0))
	t0 := time.Now()
	g := specgen.NewSpecGenerator(b.ref, false)
	g.Name = name
	g.Entrypoint, g.Command = []string{"sleep"}, []string{"infinity"}
	yes := true
	g.Init = &yes
	g.User = loops.SandboxUser
	g.NetNS = specgen.Namespace{NSMode: specgen.Bridge}
	g.Networks = map[string]nettypes.PerNetworkOptions{b.netName: {}}
	if _, err := containers.CreateWithSpec(conn, g, nil); err != nil {
		return 0, fmt.Errorf("create: %w", err)
	}
	if err := containers.Start(conn, name, nil); err != nil {
		return 0, fmt.Errorf("start: %w", err)
	}
	execID, err := containers.ExecCreate(conn, name, &handlers.ExecCreateConfig{ExecOptions: dockerContainer.ExecOptions{
		Cmd: oneShotArgs("hello"), Env: b.claudeEnv(), User: loops.SandboxUser, WorkingDir: "/tmp",
		AttachStdout: true, AttachStderr: true,
	}})
	if err != nil {
		return 0, fmt.Errorf("exec create: %w", err)
	}
	rw, err := execstream.Start(conn, execID, false)
	if err != nil {
		return 0, fmt.Errorf("exec start: %w", err)
	}
	defer rw.Close()
	pr, pw := io.Pipe()
	var d time.Duration
	var seen bool
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); d, seen = watchTokens(pr, t0) }()
	_ = execstream.Demux(rw, pw, io.Discard)
	pw.Close()
	wg.Wait()
	if !seen {
		return 0, fmt.Errorf("floor exec: no text delta")
	}
	return d, nil
}

// laterTurns times the first token of later messages: in the app's loop, in a one-shot
// `claude -p` each time, and in one stream-json CLI process fed a line per turn.
func (b *bench) laterTurns(loopID string, n int) (later, oneshot, cliLoop []time.Duration, err error) {
	c := b.app.Core
	for i := 0; i < n; i++ {
		t0 := time.Now()
		if _, err := c.Loops.Send(loopID, fmt.Sprintf("hello again %d", i)); err != nil {
			return nil, nil, nil, err
		}
		marks, err := b.firstToken(loopID, t0, 2*time.Minute)
		if err != nil {
			return nil, nil, nil, err
		}
		later = append(later, marks["first token"].Sub(t0))
		wctx, cancel := context.WithTimeout(b.ctx, 2*time.Minute)
		err = c.Loops.Wait(wctx, loopID)
		cancel()
		if err != nil {
			return nil, nil, nil, err
		}
	}

	name := b.containerName("byhand", "turns")
	defer exec.Command("podman", "rm", "-f", "-t", "0", name).Run()
	if out, err := exec.Command("podman", "run", "-d", "--init", "--name", name, "--network", b.netName,
		"--user", loops.SandboxUser, b.ref, "sleep", "infinity").CombinedOutput(); err != nil {
		return nil, nil, nil, fmt.Errorf("podman run: %v %s", err, out)
	}
	envArgs := []string{"exec", "-w", "/tmp"}
	for _, e := range b.claudeEnv() {
		envArgs = append(envArgs, "-e", e)
	}
	progress("one-shot claude -p x%d", n)
	for i := 0; i < n; i++ {
		cmd := exec.Command("podman", append(append(append([]string{}, envArgs...), name), oneShotArgs(fmt.Sprintf("hello again %d", i))...)...)
		d, err := firstTokenOf(cmd, time.Now())
		if err != nil {
			return nil, nil, nil, err
		}
		oneshot = append(oneshot, d)
	}

	// The floor: the CLI's own long-lived stream-json loop, as loopat runs it, minus loopat.
	loopArgs := []string{"claude", "-p", "--input-format", "stream-json", "--output-format", "stream-json", "--verbose",
		"--include-partial-messages", "--model", model}
	loopCtx, cancelLoop := context.WithTimeout(b.ctx, 3*time.Minute)
	defer cancelLoop()
	cmd := exec.CommandContext(loopCtx, "podman", append(append(append([]string{}, envArgs[:1]...), append([]string{"-i"}, envArgs[1:]...)...), append([]string{name}, loopArgs...)...)...)
	var loopErr strings.Builder
	cmd.Stderr = &loopErr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, nil, nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, nil, nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, nil, nil, err
	}
	defer func() { stdin.Close(); _ = cmd.Wait() }()
	sc := bufio.NewScanner(stdout)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	turn := func(text string) (time.Duration, error) {
		line, _ := json.Marshal(map[string]any{"type": "user", "message": map[string]any{"role": "user", "content": text}})
		t0 := time.Now()
		if _, err := stdin.Write(append(line, '\n')); err != nil {
			return 0, err
		}
		var d time.Duration
		for sc.Scan() {
			l := sc.Text()
			if d == 0 && strings.Contains(l, `"text_delta"`) {
				d = time.Since(t0)
			}
			var ev struct {
				Type string `json:"type"`
			}
			if json.Unmarshal([]byte(l), &ev) == nil && ev.Type == "result" {
				if d == 0 {
					return 0, fmt.Errorf("CLI loop turn without a text delta: %s", l)
				}
				return d, nil
			}
		}
		return 0, fmt.Errorf("CLI loop ended: %v %s", sc.Err(), loopErr.String())
	}
	progress("CLI stream-json loop (floor) in %s", name)
	if _, err := turn("hello"); err != nil { // the process start, as the loop's first turn
		return nil, nil, nil, err
	}
	for i := 0; i < n; i++ {
		d, err := turn(fmt.Sprintf("hello again %d", i))
		if err != nil {
			return nil, nil, nil, err
		}
		cliLoop = append(cliLoop, d)
	}
	return later, oneshot, cliLoop, nil
}

// progress tells the person waiting what the bench is doing (stderr; stdout holds results).
func progress(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "%s loops: %s\n", time.Now().UTC().Format("15:04:05"), fmt.Sprintf(format, args...))
}
