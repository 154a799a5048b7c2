package cli

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/loopat/desktop/backend/images"
)

const imageUsage = `usage: loopat image <command>
  build [--no-cache] [--mise FILE]   build the sandbox image (or a loop's child image from FILE) if missing
  ls                                 list loopat sandbox images
`

func imageHelp(w io.Writer) { fmt.Fprint(w, imageUsage) }

// imageAPI is what `loopat image` drives: the image builder the UI's ImageService wraps.
// The CLI builds in the foreground with its progress on stdout (the UI starts a
// background build and follows "image:progress"), so it calls the builder's own methods.
type imageAPI interface {
	EnsureBase(ctx, conn context.Context, progress func(images.Progress)) (string, error)
	RebuildBase(ctx, conn context.Context, progress func(images.Progress)) (string, error)
	EnsureLoopImage(ctx, conn context.Context, miseToml []byte, progress func(images.Progress)) (string, string, error)
	RebuildLoopImage(ctx, conn context.Context, miseToml []byte, progress func(images.Progress)) (string, error)
	List(ctx, conn context.Context) ([]images.Listed, error, error)
}

// imageReq is one parsed `loopat image` command line.
type imageReq struct {
	cmd     string // build, ls
	noCache bool
	mise    string
}

func runImage(ctx context.Context, args []string, env Env) int {
	req, code, ok := parseImage(args, env)
	if !ok {
		return code
	}
	c := openCore(ctx, env, "image", false)
	if c == nil {
		return exitFailed
	}
	defer c.Close()
	c.Start(ctx)
	conn, err := c.WaitEngine(ctx)
	if err != nil {
		return fail(env, "loopat image", err)
	}
	return imageCLI{b: c.Images, conn: conn}.run(ctx, req, env)
}

// parseImage checks the command line before the workspace or the engine is touched.
func parseImage(args []string, env Env) (req imageReq, code int, ok bool) {
	if len(args) == 0 {
		return req, usageError(env, "loopat image", "missing command", imageUsage), false
	}
	switch args[0] {
	case "build":
		req.cmd = "build"
	case "ls", "list":
		req.cmd = "ls"
	default:
		return req, usageError(env, "loopat image", fmt.Sprintf("unknown command %q", args[0]), imageUsage), false
	}
	fs := newFlags("image " + args[0])
	var noCache *bool
	var mise *string
	if req.cmd == "build" {
		noCache = fs.Bool("no-cache", false, "")
		mise = fs.String("mise", "", "")
	}
	pos, code, ok := parse(fs, args[1:], imageUsage, env)
	if !ok {
		return req, code, false
	}
	if len(pos) > 0 {
		return req, usageError(env, "loopat image "+args[0], fmt.Sprintf("unexpected argument %q", pos[0]), imageUsage), false
	}
	if req.cmd == "build" {
		req.noCache, req.mise = *noCache, *mise
	}
	return req, exitOK, true
}

// imageCLI is `loopat image` over the builder and an engine connection.
type imageCLI struct {
	b    imageAPI
	conn context.Context
}

func (i imageCLI) run(ctx context.Context, req imageReq, env Env) int {
	if req.cmd == "ls" {
		return i.list(ctx, env)
	}
	return i.build(ctx, req, env)
}

func (i imageCLI) build(ctx context.Context, req imageReq, env Env) int {
	out := env.Stdout
	start := time.Now()
	lastStep := 0
	progress := func(p images.Progress) {
		switch {
		case p.Done && p.Err == "":
			fmt.Fprintf(out, "[100%%] %s built\n", p.Image)
		case p.Done:
		case p.Step != lastStep:
			lastStep = p.Step
			fmt.Fprintf(out, "[%3d%%] %s\n", p.Percent, p.Line)
		default:
			fmt.Fprintf(out, "       %s\n", p.Line)
		}
	}
	var ref, warning string
	var err error
	switch {
	case req.mise != "":
		data, rerr := os.ReadFile(req.mise)
		if rerr != nil {
			return fail(env, "loopat image build", rerr)
		}
		if req.noCache {
			ref, err = i.b.RebuildLoopImage(ctx, i.conn, data, progress)
		} else {
			ref, warning, err = i.b.EnsureLoopImage(ctx, i.conn, data, progress)
		}
	case req.noCache:
		ref, err = i.b.RebuildBase(ctx, i.conn, progress)
	default:
		ref, err = i.b.EnsureBase(ctx, i.conn, progress)
	}
	if err != nil {
		return fail(env, "loopat image build", err)
	}
	if warning != "" {
		fmt.Fprintf(out, "warning: %s\n", warning)
	}
	fmt.Fprintf(out, "%s ready in %s\n", ref, time.Since(start).Round(time.Millisecond))
	if warning != "" {
		return exitFailed
	}
	return exitOK
}

func (i imageCLI) list(ctx context.Context, env Env) int {
	list, baseErr, err := i.b.List(ctx, i.conn)
	if err != nil {
		return fail(env, "loopat image ls", err)
	}
	tw := tabwriter.NewWriter(env.Stdout, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "IMAGE\tID\tSIZE\tCREATED\tBUILT BY\tUSED BY\tCURRENT")
	for _, img := range list {
		current := ""
		if img.Current {
			current = "base"
		}
		fmt.Fprintf(tw, "%s\t%s\t%d MB\t%s\t%s\t%s\t%s\n", img.Ref, img.ID, img.Size/1e6,
			img.Created.Format(time.DateTime), img.BuiltBy, strings.Join(img.Workspaces, ","), current)
	}
	_ = tw.Flush()
	if baseErr != nil {
		fmt.Fprintf(env.Stdout, "current base image: %v\n", baseErr)
	}
	return exitOK
}
