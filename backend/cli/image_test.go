package cli

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/loopat/desktop/backend/images"
)

// fakeBuilder records which build ran and reports progress as the builder does.
type fakeBuilder struct {
	called  string
	mise    string
	warning string
	err     error
	list    []images.Listed
	baseErr error
}

func (f *fakeBuilder) progress(p func(images.Progress)) {
	p(images.Progress{Image: "img", Step: 1, Percent: 10, Line: "STEP 1/2: FROM x"})
	p(images.Progress{Image: "img", Step: 1, Line: "pulling"})
	p(images.Progress{Image: "img", Step: 2, Percent: 60, Line: "STEP 2/2: RUN y"})
	p(images.Progress{Image: "img", Done: true})
}

func (f *fakeBuilder) EnsureBase(_, _ context.Context, p func(images.Progress)) (string, error) {
	f.called = "EnsureBase"
	f.progress(p)
	return "localhost/loopat-sandbox-aa:latest", f.err
}

func (f *fakeBuilder) RebuildBase(_, _ context.Context, p func(images.Progress)) (string, error) {
	f.called = "RebuildBase"
	return "localhost/loopat-sandbox-aa:latest", f.err
}

func (f *fakeBuilder) EnsureLoopImage(_, _ context.Context, m []byte, p func(images.Progress)) (string, string, error) {
	f.called, f.mise = "EnsureLoopImage", string(m)
	return "localhost/loopat-loop-bb:latest", f.warning, f.err
}

func (f *fakeBuilder) RebuildLoopImage(_, _ context.Context, m []byte, p func(images.Progress)) (string, error) {
	f.called, f.mise = "RebuildLoopImage", string(m)
	return "localhost/loopat-loop-bb:latest", f.err
}

func (f *fakeBuilder) List(_, _ context.Context) ([]images.Listed, error, error) {
	f.called = "List"
	return f.list, f.baseErr, f.err
}

func runImageCLI(t *testing.T, b imageAPI, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	env := Env{Stdout: &out, Stderr: &errOut}
	req, code, ok := parseImage(args, env)
	if ok {
		code = imageCLI{b: b, conn: context.Background()}.run(context.Background(), req, env)
	}
	return code, out.String(), errOut.String()
}

func TestImageBuildPicksTheBuildAndPrintsProgress(t *testing.T) {
	f := &fakeBuilder{}
	code, out, errOut := runImageCLI(t, f, "build")
	if code != 0 || f.called != "EnsureBase" || errOut != "" {
		t.Fatalf("build: %d %s %q", code, f.called, errOut)
	}
	for _, want := range []string{"[ 10%] STEP 1/2: FROM x\n", "       pulling\n", "[ 60%] STEP 2/2: RUN y\n", "[100%] img built\n", "localhost/loopat-sandbox-aa:latest ready in "} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if code, _, _ := runImageCLI(t, f, "build", "--no-cache"); code != 0 || f.called != "RebuildBase" {
		t.Fatalf("--no-cache: %d %s", code, f.called)
	}
	mise := filepath.Join(t.TempDir(), "mise.toml")
	if err := os.WriteFile(mise, []byte("[tools]\nnode = \"22\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if code, _, _ := runImageCLI(t, f, "build", "--mise", mise); code != 0 || f.called != "EnsureLoopImage" || !strings.Contains(f.mise, "node") {
		t.Fatalf("--mise: %d %s %q", code, f.called, f.mise)
	}
	if code, _, _ := runImageCLI(t, f, "build", "--mise="+mise, "--no-cache"); code != 0 || f.called != "RebuildLoopImage" {
		t.Fatalf("--mise --no-cache: %d %s", code, f.called)
	}
	// A child image that fell back to the base: the warning, and exit 1.
	f.warning = "mise install failed; the loop uses the base image"
	if code, out, _ := runImageCLI(t, f, "build", "--mise", mise); code != 1 || !strings.Contains(out, "warning: mise install failed") {
		t.Fatalf("warning: %d %q", code, out)
	}
	f.called = ""
	if code, _, errOut := runImageCLI(t, f, "build", "--mise", filepath.Join(t.TempDir(), "absent.toml")); code != 1 || f.called != "" || !strings.Contains(errOut, "loopat image build: ") {
		t.Fatalf("missing mise file: %d %s %q", code, f.called, errOut)
	}
	f.err = errors.New("STEP 2/2 failed")
	if code, _, errOut := runImageCLI(t, f, "build"); code != 1 || !strings.Contains(errOut, "loopat image build: STEP 2/2 failed") {
		t.Fatalf("failed build: %d %q", code, errOut)
	}
}

func TestImageList(t *testing.T) {
	created := time.Date(2026, 1, 2, 3, 4, 5, 0, time.Local)
	f := &fakeBuilder{list: []images.Listed{
		{Ref: "localhost/loopat-sandbox-aa:latest", ID: "0123456789ab", Size: 2_500_000_000, Created: created, BuiltBy: "ws", Workspaces: []string{"ws", "other"}, Current: true},
		{Ref: "localhost/loopat-sandbox-bb:latest", ID: "ba9876543210", Size: 1_000_000, Created: created},
	}}
	code, out, _ := runImageCLI(t, f, "ls")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if code != 0 || len(lines) != 3 || !strings.HasPrefix(lines[0], "IMAGE") {
		t.Fatalf("ls: %d\n%s", code, out)
	}
	for _, want := range []string{"0123456789ab", "2500 MB", "2026-01-02 03:04:05", "ws,other", "base"} {
		if !strings.Contains(lines[1], want) {
			t.Errorf("row %q lacks %q", lines[1], want)
		}
	}
	if strings.Contains(lines[2], "base") {
		t.Errorf("a superseded image is marked current: %q", lines[2])
	}
	f.baseErr = errors.New("bad extra_ca_certs")
	if code, out, _ := runImageCLI(t, f, "list"); code != 0 || !strings.Contains(out, "current base image: bad extra_ca_certs") {
		t.Fatalf("ls with an unknown base: %d %q", code, out)
	}
	f.err = errors.New("podman down")
	if code, _, errOut := runImageCLI(t, f, "ls"); code != 1 || !strings.Contains(errOut, "loopat image ls: podman down") {
		t.Fatalf("ls failing: %d %q", code, errOut)
	}
}

// Bad command lines of `loopat image` exit 2 with the problem and the usage on stderr,
// before the workspace is opened or the engine waited for (LOOPAT_HOME points nowhere).
func TestImageBadCommandLines(t *testing.T) {
	t.Setenv("LOOPAT_HOME", "/nonexistent/loopat-image-flags-test")
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"image"}, "missing command"},
		{[]string{"image", "frobnicate"}, `unknown command "frobnicate"`},
		{[]string{"image", "build", "--bogus"}, "loopat image build: flag provided but not defined: -bogus"},
		{[]string{"image", "build", "--mise"}, "flag needs an argument: -mise"},
		{[]string{"image", "build", "extra"}, `unexpected argument "extra"`},
		{[]string{"image", "build", "--no-cache=maybe"}, "invalid boolean value"},
		{[]string{"image", "ls", "--no-cache"}, "flag provided but not defined: -no-cache"},
		{[]string{"image", "ls", "x"}, `unexpected argument "x"`},
	} {
		code, out, errOut := run(t, c.args...)
		if code != 2 || !strings.Contains(errOut, c.want) || !strings.Contains(errOut, "usage: loopat image") || out != "" {
			t.Errorf("%v: code %d, stderr %q, stdout %q; want exit 2 and %q", c.args, code, errOut, out, c.want)
		}
	}
}
