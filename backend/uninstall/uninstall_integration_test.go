//go:build integration

package uninstall_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/containers/podman/v5/pkg/bindings/containers"
	pimages "github.com/containers/podman/v5/pkg/bindings/images"
	"github.com/containers/podman/v5/pkg/bindings/network"
	"github.com/containers/podman/v5/pkg/specgen"
	nettypes "go.podman.io/common/libnetwork/types"

	"github.com/loopat/desktop/backend/config"
	"github.com/loopat/desktop/backend/engine"
	"github.com/loopat/desktop/backend/events"
	"github.com/loopat/desktop/backend/images"
	"github.com/loopat/desktop/backend/loops"
	"github.com/loopat/desktop/backend/services"
	"github.com/loopat/desktop/backend/uninstall"
	"github.com/loopat/desktop/backend/vault"
)

// Integration: real podman (through scripts/test/fake-podman, which records every call),
// real Secret Service (run under scripts/test/with-keyring.sh), real files. These tests
// fail, never skip, when a prerequisite is missing.

const baseImage = "docker.io/library/debian:bookworm-slim"

func randHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func repoRoot(t *testing.T) string {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}

// fakePodmanFirst puts scripts/test/fake-podman first on PATH as `podman` and returns its
// call log. Every podman command anything runs from now on is recorded there.
func fakePodmanFirst(t *testing.T) string {
	t.Helper()
	real, err := exec.LookPath("podman")
	if err != nil {
		t.Fatalf("integration test needs podman: %v", err)
	}
	if strings.Contains(real, "fake") {
		t.Fatalf("podman on PATH is already a fake: %s", real)
	}
	bin, state := t.TempDir(), t.TempDir()
	if err := os.Symlink(filepath.Join(repoRoot(t), "scripts", "test", "fake-podman"), filepath.Join(bin, "podman")); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", bin+string(os.PathListSeparator)+os.Getenv("PATH"))
	t.Setenv("FAKE_PODMAN_STATE", state)
	t.Setenv("FAKE_PODMAN_REAL", real)
	t.Setenv("FAKE_PODMAN_NO_CONNECTIONS", "1")
	return filepath.Join(state, "calls.log")
}

// workspace is one LOOPAT_HOME with a real engine (the app's own podman service) and
// real resources.
type workspace struct {
	ws      config.Workspace
	eng     *engine.Engine
	vault   *vault.Vault
	conn    context.Context
	running string // running loop container
	stopped string // created, never started
	image   string // image only this workspace uses
	network string
	loopID  string
}

func newWorkspace(t *testing.T, dir, name string) *workspace {
	t.Helper()
	ws, err := config.NewWorkspace(filepath.Join(dir, "."+name))
	if err != nil {
		t.Fatal(err)
	}
	if err := ws.Ensure(); err != nil {
		t.Fatal(err)
	}
	cfg := config.Default()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	// No CONTAINER_HOST, no rootful socket: the engine starts its own service under run/.
	eng := engine.NewWithOptions(ws, cfg, nil, log, engine.Options{
		GOOS: "linux", Getenv: func(string) string { return "" }, RootfulSocket: "/nonexistent/podman.sock",
	})
	t.Cleanup(func() { eng.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	eng.Start(context.Background())
	conn, err := eng.WaitReady(ctx)
	if err != nil {
		t.Fatalf("engine for %s: %v", name, err)
	}
	if st := eng.State(); st.Source != engine.SourceOwnService {
		t.Fatalf("engine source %q, want the app's own service", st.Source)
	}
	w := &workspace{ws: ws, eng: eng, vault: vault.New(ws, vault.OSKeyring()), conn: context.WithoutCancel(conn)}
	return w
}

// populate gives the workspace a network, a running and a stopped loop container, an
// image, secrets and loop data, labelled exactly as the app labels them.
func (w *workspace) populate(t *testing.T, buildDir string) {
	t.Helper()
	// Resources carry the workspace id (ws.Label), as the app labels them.
	name := w.ws.Label()
	w.network = "loopat-" + name
	if _, err := network.Create(w.conn, &nettypes.Network{Name: w.network, Driver: "bridge",
		Labels: map[string]string{config.LabelKey: name}}); err != nil {
		t.Fatalf("create network: %v", err)
	}
	w.image = "localhost/loopat-uninstall-test-" + name + ":latest"
	buildImage(t, buildDir, w.image, map[string]string{config.LabelKey: name, "test.id": randHex(4)})
	w.running = "loopat-" + name + "-run1"
	w.stopped = "loopat-" + name + "-stop1"
	// Containers first, then what they use (the engine's service may be gone by then).
	t.Cleanup(func() {
		exec.Command("/usr/bin/podman", "rm", "-f", "-t", "0", "--ignore", w.running, w.stopped).Run()
		exec.Command("/usr/bin/podman", "network", "rm", w.network).Run()
		exec.Command("/usr/bin/podman", "rmi", "--ignore", w.image).Run()
	})
	createContainer(t, w.conn, w.running, name, "run1", w.network, true)
	createContainer(t, w.conn, w.stopped, name, "stop1", w.network, false)

	if err := w.vault.SetEnv("", "API_TOKEN", "token-of-"+name); err != nil {
		t.Fatalf("store secret: %v", err)
	}
	// A chunked file secret: several keychain items behind one manifest.
	if err := w.vault.SetFile("work", ".ssh/id_ed25519", 0, []byte(strings.Repeat("k", 5000))); err != nil {
		t.Fatalf("store file secret: %v", err)
	}
	svc, _ := w.vault.ServiceName()
	t.Cleanup(func() { exec.Command("secret-tool", "clear", "service", svc).Run() })

	// A real loop folder, made by the loop store as the app makes it.
	st, err := loops.NewStore(w.ws.LoopsDir())
	if err != nil {
		t.Fatal(err)
	}
	meta, err := st.Create(loops.NewLoop{Title: "first loop"})
	if err != nil {
		t.Fatalf("create loop: %v", err)
	}
	w.loopID = meta.ID
	if err := st.Transcript(meta.ID).AppendJSON(map[string]any{"type": "user", "message": map[string]any{"role": "user", "content": "hi"}}); err != nil {
		t.Fatal(err)
	}
	loop := filepath.Join(w.ws.LoopsDir(), meta.ID)
	for p, data := range map[string]string{
		"workdir/README.md":                "# work\n",
		"home/.claude/projects/x.jsonl":    "{}\n",
		"home/.cache/mise/tool.tar":        strings.Repeat("c", 10000),
		"../../context/team/notes.md":      "notes\n",
		"../../logs/app.log":               "log\n",
		"../../config.toml":                "",
		"../../run/stale-placeholder.info": "x",
	} {
		full := filepath.Join(loop, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func buildImage(t *testing.T, dir, ref string, labels map[string]string) {
	t.Helper()
	args := []string{"build", "-q", "-t", ref}
	for k, v := range labels {
		args = append(args, "--label", k+"="+v)
	}
	cf := filepath.Join(dir, "Containerfile")
	if err := os.WriteFile(cf, []byte("FROM "+baseImage+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	args = append(args, "-f", cf, dir)
	if out, err := exec.Command("podman", args...).CombinedOutput(); err != nil {
		t.Fatalf("podman build %s: %v\n%s", ref, err, out)
	}
}

func createContainer(t *testing.T, conn context.Context, name, ws, loopID, net string, start bool) {
	t.Helper()
	g := specgen.NewSpecGenerator(baseImage, false)
	g.Name = name
	g.Labels = map[string]string{config.LabelKey: ws, "loopat.loop-id": loopID}
	g.Command = []string{"sleep", "infinity"}
	yes := true
	g.Init = &yes
	// Bridge said explicitly, as the app does: rootless podman defaults to user-mode networking.
	g.NetNS = specgen.Namespace{NSMode: specgen.Bridge}
	g.Networks = map[string]nettypes.PerNetworkOptions{net: {}}
	if _, err := containers.CreateWithSpec(conn, g, nil); err != nil {
		t.Fatalf("create %s: %v", name, err)
	}
	if start {
		if err := containers.Start(conn, name, nil); err != nil {
			t.Fatalf("start %s: %v", name, err)
		}
	}
}

func (w *workspace) deps() uninstall.Deps {
	return uninstall.Deps{
		Workspace:   w.ws,
		Conn:        w.eng.Conn,
		Keychain:    w.vault,
		StopService: w.eng.Close,
		BaseImage:   baseImage,
		GOOS:        "linux",
	}
}

// residue lists every podman object still labelled for ws, and ws's tags on any image. An
// image ws built that another workspace still uses (its ws- tag) is not residue: it stays
// for that workspace, and its build label cannot change.
func residue(t *testing.T, ws string) []string {
	t.Helper()
	podman := func(args ...string) []string {
		var b []byte
		var err error
		// Podman 4.3's listing can trip over an image another process deletes meanwhile.
		for try := 0; try < 3; try++ {
			if b, err = exec.Command("/usr/bin/podman", args...).Output(); err == nil {
				return strings.Fields(string(b))
			}
			time.Sleep(time.Second)
		}
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			t.Fatalf("podman %v: %v: %s", args, err, ee.Stderr)
		}
		t.Fatalf("podman %v: %v", args, err)
		return nil
	}
	label := "label=" + config.LabelKey + "=" + ws
	var out []string
	for _, n := range podman("ps", "-a", "--format", "{{.Names}}", "--filter", label) {
		out = append(out, "container "+n)
	}
	for _, n := range podman("network", "ls", "--format", "{{.Name}}", "--filter", label) {
		out = append(out, "network "+n)
	}
	for _, id := range podman("images", "-q", "--no-trunc", "--filter", label) {
		tags := podman("image", "inspect", "--format", "{{range .RepoTags}}{{.}} {{end}}", id)
		shared := slices.ContainsFunc(tags, func(tag string) bool {
			i := strings.LastIndex(tag, ":")
			return strings.HasPrefix(tag[i+1:], "ws-") && tag[i+1:] != images.WorkspaceTag(ws)
		})
		if !shared {
			out = append(out, "image "+id+" "+strings.Join(tags, " "))
		}
	}
	for _, ref := range podman("images", "--format", "{{.Repository}}:{{.Tag}}") {
		if strings.HasSuffix(ref, ":"+images.WorkspaceTag(ws)) {
			out = append(out, "tag "+ref)
		}
	}
	return out
}

// keychainItems lists the accounts (never values) the Secret Service holds for service.
func keychainItems(t *testing.T, service string) string {
	t.Helper()
	if service == "" {
		t.Fatal("no keychain service name")
	}
	out, _ := exec.Command("secret-tool", "search", "--all", "service", service).CombinedOutput()
	var accounts []string
	for _, l := range strings.Split(string(out), "\n") {
		if a, ok := strings.CutPrefix(l, "attribute.username = "); ok {
			accounts = append(accounts, a)
		}
	}
	slices.Sort(accounts)
	return strings.Join(accounts, "\n")
}

func running(t *testing.T, conn context.Context, name string) bool {
	t.Helper()
	data, err := containers.Inspect(conn, name, nil)
	if err != nil {
		t.Fatalf("inspect %s: %v", name, err)
	}
	return data.State.Running
}

func snapshot(t *testing.T, w *workspace) string {
	t.Helper()
	var b strings.Builder
	for _, r := range residue(t, w.ws.Label()) {
		b.WriteString(r + "\n")
	}
	svc, _ := w.vault.ServiceName()
	b.WriteString(keychainItems(t, svc) + "\n")
	filepath.WalkDir(w.ws.Home, func(p string, d os.DirEntry, err error) error {
		b.WriteString(p + "\n")
		return nil
	})
	return b.String()
}

func TestIntegrationUninstallOneOfTwoPrefixWorkspaces(t *testing.T) {
	calls := fakePodmanFirst(t)
	if _, err := exec.LookPath("secret-tool"); err != nil {
		t.Fatalf("needs secret-tool (libsecret-tools): %v", err)
	}
	dir := t.TempDir()
	id := randHex(3)
	// "uA" is a prefix of "uA2": name-prefix selection would wrongly take the other's resources.
	a := newWorkspace(t, dir, "u"+id)
	b := newWorkspace(t, dir, "u"+id+"2")
	a.populate(t, t.TempDir())
	b.populate(t, t.TempDir())

	// An image both use (content-shared sandbox image: one ws- tag per workspace).
	sharedRepo := "localhost/loopat-sandbox-uninstalltest" + id
	buildImage(t, t.TempDir(), sharedRepo+":latest", map[string]string{config.LabelKey: a.ws.Label(), "test.id": randHex(4)})
	for _, ws := range []string{a.ws.Label(), b.ws.Label()} {
		if err := exec.Command("podman", "tag", sharedRepo+":latest", sharedRepo+":"+images.WorkspaceTag(ws)).Run(); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() {
		exec.Command("/usr/bin/podman", "rmi", "--ignore", sharedRepo+":latest", sharedRepo+":"+images.WorkspaceTag(a.ws.Label()), sharedRepo+":"+images.WorkspaceTag(b.ws.Label())).Run()
	})
	secretB, _ := b.vault.ServiceName()
	secretA, _ := a.vault.ServiceName()
	if keychainItems(t, secretA) == "" {
		t.Fatal("workspace A's secrets are not in the Secret Service")
	}

	// The plan names exactly A's things.
	plan, err := uninstall.MakePlan(context.Background(), a.deps(), uninstall.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(plan.Unchecked) > 0 {
		t.Fatalf("plan unchecked: %v", plan.Unchecked)
	}
	var names []string
	for _, c := range plan.Containers {
		names = append(names, strings.TrimPrefix(c.Name, "/"))
	}
	slices.Sort(names)
	if !slices.Equal(names, []string{a.running, a.stopped}) {
		t.Fatalf("plan containers %v", names)
	}
	var imgActions []string
	for _, im := range plan.Images {
		imgActions = append(imgActions, im.Ref+"="+im.Action)
	}
	slices.Sort(imgActions)
	want := []string{sharedRepo + ":latest=untag", a.image + "=remove"}
	slices.Sort(want)
	if !slices.Equal(imgActions, want) {
		t.Fatalf("plan images %v, want %v", imgActions, want)
	}
	if len(plan.Networks) != 1 || plan.Networks[0].Name != a.network || len(plan.Keychain) != 2 || len(plan.Service.Sockets) != 1 {
		t.Fatalf("plan networks %v keychain %v service %v", plan.Networks, plan.Keychain, plan.Service)
	}

	// A dry run (plan and run, as `loopat uninstall --dry-run` and the CLI's refusal
	// path do; the CLI itself is tested in backend/cli) changes nothing.
	before, beforeB := snapshot(t, a), snapshot(t, b)
	var out bytes.Buffer
	dry := uninstall.Options{DryRun: true}
	dryPlan, err := uninstall.MakePlan(context.Background(), a.deps(), dry)
	if err != nil {
		t.Fatal(err)
	}
	dryPlan.Render(&out)
	if res := uninstall.Run(context.Background(), a.deps(), dry, func(uninstall.Step) {}); !res.DryRun {
		t.Fatalf("dry run result %+v", res)
	}
	if after := snapshot(t, a); after != before {
		t.Fatalf("dry run changed workspace A:\nbefore:\n%s\nafter:\n%s", before, after)
	}
	if !strings.Contains(out.String(), a.running) || !strings.Contains(out.String(), "stays: used by workspace "+b.ws.Label()) {
		t.Fatalf("printed plan:\n%s", out.String())
	}

	if err := os.WriteFile(calls, nil, 0o644); err != nil { // from here on: the uninstall's own calls
		t.Fatal(err)
	}

	// Interrupted: cancelled right after the first step (loops stopped).
	ctx, cancel := context.WithCancel(context.Background())
	res := uninstall.Run(ctx, a.deps(), uninstall.Options{}, func(s uninstall.Step) {
		if s.Step == uninstall.StepStopLoops && s.Status != uninstall.StatusRunning {
			cancel()
		}
	})
	cancel()
	if res.Steps[0].Status != uninstall.StatusDone || res.Steps[1].Status != uninstall.StatusFailed || res.Complete() {
		t.Fatalf("interrupted run steps %+v", res.Steps)
	}
	if running(t, a.conn, a.running) {
		t.Fatal("the first step did not stop A's running loop")
	}
	if !running(t, b.conn, b.running) {
		t.Fatal("stopping A's loops stopped B's container")
	}
	if _, err := os.Stat(a.ws.Home); err != nil {
		t.Fatal("interrupted run went on to remove data")
	}

	// The second run, from the settings screen, finishes the job and asks the app to quit.
	bus := events.New()
	sub, unsub := bus.Subscribe(64, func(topic string) bool { return strings.HasPrefix(topic, "uninstall:") })
	defer unsub()
	svc := services.NewUninstallService(context.Background(), a.deps(), bus)
	if err := svc.Run(b.ws.Name, false); err == nil {
		t.Fatal("service accepted the other workspace's name as confirmation")
	}
	start := time.Now()
	if err := svc.Run(a.ws.Name, false); err != nil {
		t.Fatal(err)
	}
	var done services.UninstallDone
	var progress []uninstall.Step
wait:
	for {
		select {
		case ev := <-sub:
			if ev.Topic == services.TopicUninstallDone {
				done = ev.Data.(services.UninstallDone)
				break wait
			}
			progress = append(progress, ev.Data.(uninstall.Step))
		case <-time.After(3 * time.Minute):
			t.Fatalf("no uninstall:done; progress %+v", progress)
		}
	}
	t.Logf("second run took %s; removed %d items", time.Since(start).Round(time.Millisecond), len(done.Result.Removed))
	if !done.Quit || len(done.Result.Remaining) > 0 {
		t.Fatalf("second run incomplete: %+v", done.Result)
	}

	// Zero residue for A.
	if r := residue(t, a.ws.Label()); len(r) > 0 {
		t.Fatalf("residue of A: %v", r)
	}
	if items := keychainItems(t, secretA); items != "" {
		t.Fatalf("keychain items of A left:\n%s", items)
	}
	if _, err := os.Stat(a.ws.Home); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("A's LOOPAT_HOME left: %v", err)
	}
	if _, err := net.Dial("unix", filepath.Join(a.ws.RunDir(), "podman.sock")); err == nil {
		t.Fatal("A's podman service still answers")
	}
	if _, err := a.eng.Conn(context.Background()); err == nil {
		t.Fatal("A's engine still hands out connections")
	}

	// B fully intact and working.
	if !running(t, b.conn, b.running) {
		t.Fatal("B's loop container no longer runs")
	}
	if out, err := exec.Command("podman", "exec", b.running, "true").CombinedOutput(); err != nil {
		t.Fatalf("exec in B's container: %v %s", err, out)
	}
	if got, err := b.vault.GetEnv("", "API_TOKEN"); err != nil || got != "token-of-"+b.ws.Label() {
		t.Fatalf("B's secret: %q %v", got, err)
	}
	if f, err := b.vault.GetFile("work", ".ssh/id_ed25519"); err != nil || len(f.Value) != 5000 {
		t.Fatalf("B's chunked secret: %v", err)
	}
	for _, ref := range []string{b.image, sharedRepo + ":latest", sharedRepo + ":" + images.WorkspaceTag(b.ws.Label())} {
		if ok, err := pimages.Exists(b.conn, ref, nil); err != nil || !ok {
			t.Fatalf("B's image %s gone (%v)", ref, err)
		}
	}
	if ok, _ := pimages.Exists(b.conn, sharedRepo+":"+images.WorkspaceTag(a.ws.Label()), nil); ok {
		t.Fatal("A's tag on the shared image stayed")
	}
	if ok, err := network.Exists(b.conn, b.network, nil); err != nil || !ok {
		t.Fatalf("B's network gone (%v)", err)
	}
	if snapB := snapshot(t, b); snapB != beforeB {
		t.Fatalf("B changed:\nbefore:\n%s\nafter:\n%s", beforeB, snapB)
	}

	// No podman machine (or reset) command ran during the uninstall.
	log, err := os.ReadFile(calls)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(log), "\n") {
		if strings.Contains(l, "machine") || strings.Contains(l, "reset") {
			t.Fatalf("uninstall ran `podman %s`", l)
		}
	}

	// Now B, plan then run as the CLI's --yes does: the shared image goes with its last user.
	out.Reset()
	if _, err := uninstall.MakePlan(context.Background(), b.deps(), uninstall.Options{}); err != nil {
		t.Fatal(err)
	}
	if res := uninstall.Run(context.Background(), b.deps(), uninstall.Options{}, func(uninstall.Step) {}); !res.Complete() {
		res.Render(&out)
		t.Fatalf("uninstall B incomplete:\n%s", out.String())
	}
	if r := residue(t, b.ws.Label()); len(r) > 0 {
		t.Fatalf("residue of B: %v", r)
	}
	if err := exec.Command("/usr/bin/podman", "image", "exists", sharedRepo+":latest").Run(); err == nil {
		t.Fatal("the shared image stayed after its last workspace was uninstalled")
	}
	if items := keychainItems(t, secretB); items != "" {
		t.Fatalf("keychain items of B left:\n%s", items)
	}
}

func TestIntegrationUninstallKeepData(t *testing.T) {
	calls := fakePodmanFirst(t)
	w := newWorkspace(t, t.TempDir(), "k"+randHex(3))
	w.populate(t, t.TempDir())
	svcName, _ := w.vault.ServiceName()
	os.WriteFile(calls, nil, 0o644)

	res := uninstall.Run(context.Background(), w.deps(), uninstall.Options{KeepData: true}, nil)
	if !res.Complete() {
		t.Fatalf("keep-data run incomplete: %+v", res)
	}
	if r := residue(t, w.ws.Label()); len(r) > 0 {
		t.Fatalf("residue: %v", r)
	}
	if items := keychainItems(t, svcName); items != "" {
		t.Fatalf("keychain items left:\n%s", items)
	}
	h := w.ws.Home
	loop := "loops/" + w.loopID + "/"
	for _, keep := range []string{"config.toml", "context/team/notes.md", loop + "meta.json", loop + "messages.jsonl",
		loop + "workdir/README.md", loop + "home/.claude/projects/x.jsonl"} {
		if _, err := os.Stat(filepath.Join(h, keep)); err != nil {
			t.Errorf("keep-data removed %s", keep)
		}
	}
	for _, gone := range []string{"logs", "run", "vaults.json", loop + "home/.cache"} {
		if _, err := os.Stat(filepath.Join(h, gone)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("keep-data left %s", gone)
		}
	}
	// A later start of the app picks the loop up from the kept files.
	st, err := loops.NewStore(w.ws.LoopsDir())
	if err != nil {
		t.Fatal(err)
	}
	list, err := st.List()
	if err != nil || len(list) != 1 || list[0].Title != "first loop" {
		t.Fatalf("loops after keep-data: %+v %v", list, err)
	}
	msgs, err := st.Transcript(w.loopID).Read()
	if err != nil || len(msgs) != 1 {
		t.Fatalf("transcript after keep-data: %d %v", len(msgs), err)
	}
	if log, _ := os.ReadFile(calls); strings.Contains(string(log), "machine") {
		t.Fatalf("a machine command ran:\n%s", log)
	}
}

// Two homes with the same base name (~/a/.loopat and ~/b/.loopat) have different ids:
// uninstalling one leaves the other's containers, networks and images alone. The first
// home also comes from before ids: its old name-labelled container of one of its own
// loops is found and removed, while another home's old container with the same name label
// and the name-labelled network that container still uses stay.
func TestIntegrationUninstallTwoHomesOfOneName(t *testing.T) {
	fakePodmanFirst(t)
	name := "s" + randHex(3)
	dirA, dirB := t.TempDir(), t.TempDir()
	// Home A existed before workspace ids: it has a loop folder already.
	const legacyLoop, foreignLoop = "legacyloop1", "otherhomeloop1"
	if err := os.MkdirAll(filepath.Join(dirA, "."+name, "loops", legacyLoop), 0o700); err != nil {
		t.Fatal(err)
	}
	a := newWorkspace(t, dirA, name)
	b := newWorkspace(t, dirB, name)
	if a.ws.Name != b.ws.Name || a.ws.Label() == b.ws.Label() || a.ws.Label() == name {
		t.Fatalf("identities: A %+v B %+v", a.ws, b.ws)
	}
	if a.ws.LegacyLabel != name || b.ws.LegacyLabel != "" {
		t.Fatalf("legacy labels: A %q B %q", a.ws.LegacyLabel, b.ws.LegacyLabel)
	}
	a.populate(t, t.TempDir())
	b.populate(t, t.TempDir())

	// Resources as the version before ids made them: labelled and named by the name.
	legacyNet := "loopat-" + name
	if _, err := network.Create(a.conn, &nettypes.Network{Name: legacyNet, Driver: "bridge",
		Labels: map[string]string{config.LabelKey: name}}); err != nil {
		t.Fatalf("create legacy network: %v", err)
	}
	mine, theirs := "loopat-"+name+"-"+legacyLoop, "loopat-"+name+"-"+foreignLoop
	t.Cleanup(func() {
		exec.Command("/usr/bin/podman", "rm", "-f", "-t", "0", "--ignore", mine, theirs).Run()
		exec.Command("/usr/bin/podman", "network", "rm", legacyNet).Run()
	})
	createContainer(t, a.conn, mine, name, legacyLoop, legacyNet, false)
	createContainer(t, a.conn, theirs, name, foreignLoop, legacyNet, true)

	plan, err := uninstall.MakePlan(context.Background(), a.deps(), uninstall.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, c := range plan.Containers {
		names = append(names, strings.TrimPrefix(c.Name, "/"))
	}
	slices.Sort(names)
	want := []string{a.running, a.stopped, mine}
	slices.Sort(want)
	if !slices.Equal(names, want) {
		t.Fatalf("plan containers %v, want %v (never B's, never the other home's old one)", names, want)
	}
	for _, n := range plan.Networks {
		if n.Name != a.network {
			t.Fatalf("plan takes network %s (only %s is A's alone)", n.Name, a.network)
		}
	}

	res := uninstall.Run(context.Background(), a.deps(), uninstall.Options{}, nil)
	if !res.Complete() {
		t.Fatalf("uninstall A incomplete: %+v", res)
	}
	if r := residue(t, a.ws.Label()); len(r) > 0 {
		t.Fatalf("residue of A: %v", r)
	}
	exists := func(args ...string) bool { return exec.Command("/usr/bin/podman", args...).Run() == nil }
	if exists("container", "exists", mine) {
		t.Fatal("A's old name-labelled container stayed")
	}
	if !exists("container", "exists", theirs) || !exists("network", "exists", legacyNet) {
		t.Fatal("the other home's old container or the name network it uses was removed")
	}
	if !running(t, b.conn, b.running) || !exists("container", "exists", b.stopped) || !exists("network", "exists", b.network) ||
		!exists("image", "exists", b.image) {
		t.Fatal("uninstalling A touched B, the home with the same name")
	}
}
