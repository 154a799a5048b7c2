package uninstall

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/loopat/desktop/backend/config"
	"github.com/loopat/desktop/backend/vault"
)

// memKeyring stands in for the OS keychain (none here in unit tests); failDelete injects
// a keychain failure.
type memKeyring struct {
	mu         sync.Mutex
	m          map[string]string
	failDelete bool
}

func newMemKeyring() *memKeyring { return &memKeyring{m: map[string]string{}} }

func (k *memKeyring) Set(s, a, v string) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.m[s+"\x00"+a] = v
	return nil
}

func (k *memKeyring) Get(s, a string) (string, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	v, ok := k.m[s+"\x00"+a]
	if !ok {
		return "", vault.ErrNotFound
	}
	return v, nil
}

func (k *memKeyring) Delete(s, a string) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.failDelete {
		return errors.New("keychain is locked")
	}
	if _, ok := k.m[s+"\x00"+a]; !ok {
		return vault.ErrNotFound
	}
	delete(k.m, s+"\x00"+a)
	return nil
}

func (k *memKeyring) len() int {
	k.mu.Lock()
	defer k.mu.Unlock()
	return len(k.m)
}

func write(t *testing.T, p, data string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}

// fixture makes a workspace with a loop, logs, a context repo and one secret.
func fixture(t *testing.T) (Deps, *memKeyring) {
	t.Helper()
	ws, err := config.NewWorkspace(filepath.Join(t.TempDir(), ".ws"))
	if err != nil {
		t.Fatal(err)
	}
	if err := ws.Ensure(); err != nil {
		t.Fatal(err)
	}
	write(t, ws.ConfigPath(), "[ui]\n")
	write(t, filepath.Join(ws.LogsDir(), "app.log"), "log line\n")
	write(t, filepath.Join(ws.RunDir(), "podman.sock"), "")
	loop := filepath.Join(ws.LoopsDir(), "abc123")
	write(t, filepath.Join(loop, "meta.json"), `{"id":"abc123"}`)
	write(t, filepath.Join(loop, "messages.jsonl"), "{}\n")
	write(t, filepath.Join(loop, "workdir", "main.go"), "package main\n")
	write(t, filepath.Join(loop, "home", ".claude", "projects", "s.jsonl"), "{}\n")
	write(t, filepath.Join(loop, "home", ".npm", "cache.bin"), strings.Repeat("x", 5000))
	write(t, filepath.Join(ws.Home, "context", "notes.md"), "# notes\n")
	kr := newMemKeyring()
	v := vault.New(ws, kr)
	if err := v.SetEnv("", "API_TOKEN", "s3cret-value"); err != nil {
		t.Fatal(err)
	}
	return Deps{
		Workspace: ws,
		Conn:      func(context.Context) (context.Context, error) { return nil, errors.New("no podman in unit tests") },
		Keychain:  v,
		GOOS:      "darwin",
	}, kr
}

func TestPlanRendersEverythingAndNoSecretValue(t *testing.T) {
	d, _ := fixture(t)
	p, err := MakePlan(context.Background(), d, Options{})
	if err != nil {
		t.Fatal(err)
	}
	p.Containers = []Container{{Name: "loopat-ws-abc123", ID: "0123456789abcdef", Running: true}}
	p.Images = []Image{
		{Ref: "localhost/loopat-sandbox-aa:latest", ID: "aaaaaaaaaaaaaaaa", Size: 2_500_000_000, Action: ImageRemove},
		{Ref: "localhost/loopat-sandbox-bb:latest", ID: "bbbbbbbbbbbbbbbb", Size: 1_000_000, Action: ImageUntag, StaysFor: []string{"workspace ws2"}},
	}
	p.Networks = []Network{{Name: "loopat-ws"}}
	var b bytes.Buffer
	p.Render(&b)
	out := b.String()
	for _, want := range []string{
		`Uninstall workspace "ws"`,
		"loopat-ws-abc123  0123456789ab  (running: stopped first)",
		"localhost/loopat-sandbox-aa:latest  aaaaaaaaaaaa  2.5 GB",
		"stays: used by workspace ws2",
		"  - loopat-ws\n",
		"default/env/API_TOKEN",
		"  - " + d.Workspace.Home + "  ",
		"podman machine stop && podman machine rm",
		"Could not check",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("plan lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "s3cret-value") {
		t.Fatal("plan shows a secret value")
	}
	if len(p.Keychain) != 1 || !strings.HasPrefix(p.Keychain[0].Service, "loopat:ws:") {
		t.Fatalf("keychain plan %+v", p.Keychain)
	}
	// Images that stay for another workspace are not counted as freed space.
	if got := p.RemoveBytes(); got < 2_500_000_000 || got >= 2_501_000_000+diskSize(d.Workspace.Home) {
		t.Fatalf("RemoveBytes %d", got)
	}
}

func TestPlanKeepDataListsWhatStays(t *testing.T) {
	d, _ := fixture(t)
	d.GOOS = "linux"
	p, err := MakePlan(context.Background(), d, Options{KeepData: true})
	if err != nil {
		t.Fatal(err)
	}
	actions := map[string]string{}
	for _, f := range p.Folders {
		rel, _ := filepath.Rel(d.Workspace.Home, f.Path)
		actions[rel] = f.Action
	}
	want := map[string]string{
		"config.toml": FolderKeep, "context": FolderKeep,
		"loops/abc123/meta.json": FolderKeep, "loops/abc123/messages.jsonl": FolderKeep,
		"loops/abc123/workdir": FolderKeep, "loops/abc123/home/.claude": FolderKeep,
		"loops/abc123/home/.npm": FolderRemove, "logs": FolderRemove, "run": FolderRemove, "vaults.json": FolderRemove,
	}
	for k, v := range want {
		if actions[k] != v {
			t.Errorf("%s: action %q, want %q (all: %v)", k, actions[k], v, actions)
		}
	}
	var b bytes.Buffer
	p.Render(&b)
	if !strings.Contains(b.String(), "stays: transcript") || strings.Contains(b.String(), "podman machine") {
		t.Errorf("linux keep-data plan:\n%s", b.String())
	}
}

// Without podman, uninstall removes files and secrets but keeps what a later run needs
// to find the workspace's podman resources (its id) and to reach podman (config.toml).
func TestRunWithoutPodmanRemovesFilesAndKeepsIdentity(t *testing.T) {
	d, kr := fixture(t)
	stoppedLoops, stoppedService := false, false
	d.StopLoops = func(context.Context) error { stoppedLoops = true; return nil }
	d.StopService = func() error { stoppedService = true; return nil }
	var steps []Step
	res := Run(context.Background(), d, Options{}, func(s Step) { steps = append(steps, s) })
	onlyIdentityLeft(t, d.Workspace.Home)
	if kr.len() != 0 {
		t.Fatalf("%d keychain items left", kr.len())
	}
	if !stoppedLoops || !stoppedService {
		t.Fatalf("stop loops %v, stop service %v", stoppedLoops, stoppedService)
	}
	// Podman was unreachable: its steps are skipped and reported as unchecked, not as done.
	if res.Complete() || len(res.Remaining) != 3 || !strings.Contains(res.Remaining[0].Reason, "not checked") ||
		!strings.Contains(res.Remaining[0].Reason, "run `loopat uninstall` again") ||
		!strings.Contains(res.Remaining[1].Reason, "next run can find") {
		t.Fatalf("remaining %+v", res.Remaining)
	}
	final := map[string]string{}
	for _, s := range res.Steps {
		final[s.Step] = s.Status
	}
	want := map[string]string{StepStopLoops: StatusSkipped, StepContainers: StatusSkipped, StepImages: StatusSkipped,
		StepNetworks: StatusSkipped, StepKeychain: StatusDone, StepService: StatusDone, StepData: StatusDone}
	for k, v := range want {
		if final[k] != v {
			t.Errorf("step %s %q, want %q", k, final[k], v)
		}
	}
	if len(steps) != 2*len(Steps) || steps[0] != (Step{Step: StepStopLoops, Status: StatusRunning}) {
		t.Fatalf("progress %+v", steps)
	}
	// A second run finds nothing and succeeds.
	res2 := Run(context.Background(), d, Options{}, nil)
	for _, s := range res2.Steps {
		if s.Status == StatusFailed {
			t.Fatalf("rerun step failed: %+v", s)
		}
	}
}

func TestRunKeepDataKeepsWhatItPromises(t *testing.T) {
	d, kr := fixture(t)
	Run(context.Background(), d, Options{KeepData: true}, nil)
	h := d.Workspace.Home
	for _, keep := range []string{"config.toml", "context/notes.md", "loops/abc123/meta.json", "loops/abc123/messages.jsonl",
		"loops/abc123/workdir/main.go", "loops/abc123/home/.claude/projects/s.jsonl"} {
		if _, err := os.Stat(filepath.Join(h, keep)); err != nil {
			t.Errorf("keep-data removed %s: %v", keep, err)
		}
	}
	for _, gone := range []string{"logs", "run", "vaults.json", "loops/abc123/home/.npm"} {
		if _, err := os.Stat(filepath.Join(h, gone)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("keep-data left %s: %v", gone, err)
		}
	}
	if kr.len() != 0 {
		t.Fatalf("keep-data left %d keychain items", kr.len())
	}
}

func TestRunKeychainFailureKeepsIndexAndRerunFinishes(t *testing.T) {
	d, kr := fixture(t)
	kr.failDelete = true
	res := Run(context.Background(), d, Options{}, nil)
	idx := filepath.Join(d.Workspace.Home, "vaults.json")
	if _, err := os.Stat(idx); err != nil {
		t.Fatalf("vault index removed although the keychain purge failed: %v", err)
	}
	if _, err := os.Stat(d.Workspace.LoopsDir()); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("the rest of the data step did not continue: %v", err)
	}
	if !slices.ContainsFunc(res.Remaining, func(l Leftover) bool { return strings.Contains(l.What, "keychain") }) {
		t.Fatalf("remaining lacks the keychain: %+v", res.Remaining)
	}
	kr.failDelete = false
	Run(context.Background(), d, Options{}, nil)
	if kr.len() != 0 {
		t.Fatalf("rerun left %d keychain items", kr.len())
	}
	onlyIdentityLeft(t, d.Workspace.Home) // podman is unreachable in unit tests
}

func TestRunInterruptedThenFinishes(t *testing.T) {
	d, kr := fixture(t)
	ctx, cancel := context.WithCancel(context.Background())
	d.StopLoops = func(context.Context) error { cancel(); return nil } // interrupted after the first step
	res := Run(ctx, d, Options{}, nil)
	if _, err := os.Stat(d.Workspace.Home); err != nil {
		t.Fatalf("interrupted run went on: %v", err)
	}
	if res.Steps[len(res.Steps)-1].Status != StatusFailed || !strings.Contains(res.Steps[len(res.Steps)-1].Detail, "interrupted") {
		t.Fatalf("steps %+v", res.Steps)
	}
	d.StopLoops = nil
	Run(context.Background(), d, Options{}, nil)
	if kr.len() != 0 {
		t.Fatalf("second run did not finish: %d secrets", kr.len())
	}
	onlyIdentityLeft(t, d.Workspace.Home)
}

func TestRunDryRunChangesNothing(t *testing.T) {
	d, kr := fixture(t)
	before := diskSize(d.Workspace.Home)
	called := false
	d.StopService = func() error { called = true; return nil }
	res := Run(context.Background(), d, Options{DryRun: true}, nil)
	if diskSize(d.Workspace.Home) != before || kr.len() != 1 || called || len(res.Removed) != 0 {
		t.Fatalf("dry run changed something: %+v", res)
	}
	for _, s := range res.Steps {
		if s.Status != StatusSkipped {
			t.Fatalf("dry run step %+v", s)
		}
	}
}

func TestConfirmed(t *testing.T) {
	if Confirmed("", "") || Confirmed("w", "ws") || !Confirmed("  ws \n", "ws") {
		t.Fatal("Confirmed")
	}
}

func TestImageSelectionHelpers(t *testing.T) {
	for ref, want := range map[string][2]string{
		"localhost/loopat-sandbox-ab:ws-ws": {"localhost/loopat-sandbox-ab", "ws-ws"},
		"localhost:5000/x":                  {"localhost:5000/x", ""},
		"x:latest":                          {"x", "latest"},
	} {
		if r, tag := splitRef(ref); r != want[0] || tag != want[1] {
			t.Errorf("splitRef(%q) = %q %q", ref, r, tag)
		}
	}
	if !notFound(errors.New("no such container")) || notFound(errors.New("image is in use by a container")) {
		t.Fatal("notFound")
	}
	if HumanSize(999) != "999 B" || HumanSize(1_500_000) != "1.5 MB" {
		t.Fatal(HumanSize(1_500_000))
	}
}

// An engine that never answers does not hang uninstall: each wait is bounded, the plan
// and the run share one wait (OnceConn, as the CLI does), the files go, and the result
// says what is left.
func TestHangingEngineFinishesAndSaysWhatIsLeft(t *testing.T) {
	old := connectTimeout
	connectTimeout = 300 * time.Millisecond
	defer func() { connectTimeout = old }()
	d, kr := fixture(t)
	calls := 0
	d.Conn = func(ctx context.Context) (context.Context, error) {
		calls++
		<-ctx.Done() // a socket that accepts and never answers
		return nil, ctx.Err()
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	d.Conn = OnceConn(d.Conn)
	var out bytes.Buffer
	start := time.Now()
	plan, err := MakePlan(ctx, d, Options{})
	if err != nil {
		t.Fatal(err)
	}
	plan.Render(&out)
	res := Run(ctx, d, Options{}, func(Step) {})
	res.Render(&out)
	took := time.Since(start)
	if res.Complete() {
		t.Fatalf("complete without podman:\n%s", out.String())
	}
	if took > 2*time.Second || calls != 1 {
		t.Fatalf("took %v with %d podman waits, want one bounded wait", took, calls)
	}
	for _, want := range []string{"podman not reachable: no answer in 300ms", "[skipped] stop-loops", "[done] data",
		"run `loopat uninstall` again to finish"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
	if kr.len() != 0 {
		t.Fatalf("%d keychain items left", kr.len())
	}
	if _, err := os.Stat(filepath.Join(d.Workspace.Home, "loops")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("loop files not removed: %v", err)
	}
}

// onlyIdentityLeft checks that a run which could not reach podman removed everything but
// the workspace id and config.toml (a later run needs them to find and reach podman's).
func onlyIdentityLeft(t *testing.T, home string) {
	t.Helper()
	left, err := os.ReadDir(home)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range left {
		names = append(names, e.Name())
	}
	if strings.Join(names, " ") != "config.toml "+config.IDFile {
		t.Fatalf("LOOPAT_HOME holds %v, want only config.toml and %s", names, config.IDFile)
	}
}
