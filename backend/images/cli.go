package images

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	pimages "github.com/containers/podman/v5/pkg/bindings/images"

	"github.com/loopat/desktop/backend/config"
)

const cliUsage = `usage: loopat image <command>
  build [--no-cache] [--mise FILE]   build the sandbox image (or a loop's child image from FILE) if missing
  ls                                 list loopat sandbox images
`

// RunCLI runs `loopat image build|ls` (args start after "image"; a leading "image" is
// accepted) and returns the process exit code.
func RunCLI(ctx context.Context, args []string, out io.Writer, b *Builder, conn context.Context) int {
	if len(args) > 0 && args[0] == "image" {
		args = args[1:]
	}
	if len(args) == 0 {
		fmt.Fprint(out, cliUsage)
		return 2
	}
	switch args[0] {
	case "build":
		return cliBuild(ctx, args[1:], out, b, conn)
	case "ls", "list":
		return cliList(ctx, out, b, conn)
	case "help", "-h", "--help":
		fmt.Fprint(out, cliUsage)
		return 0
	default:
		fmt.Fprintf(out, "loopat image: unknown command %q\n%s", args[0], cliUsage)
		return 2
	}
}

func cliBuild(ctx context.Context, args []string, out io.Writer, b *Builder, conn context.Context) int {
	fs := flag.NewFlagSet("image build", flag.ContinueOnError)
	fs.SetOutput(out)
	noCache := fs.Bool("no-cache", false, "rebuild even when the tag exists, without the layer cache")
	mise := fs.String("mise", "", "mise.toml of a loop: build its child image")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	start := time.Now()
	lastStep := 0
	progress := func(p Progress) {
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
	case *mise != "":
		data, rerr := os.ReadFile(*mise)
		if rerr != nil {
			fmt.Fprintf(out, "loopat image build: %v\n", rerr)
			return 1
		}
		if *noCache {
			ref, err = b.RebuildLoopImage(ctx, conn, data, progress)
		} else {
			ref, warning, err = b.EnsureLoopImage(ctx, conn, data, progress)
		}
	case *noCache:
		ref, err = b.RebuildBase(ctx, conn, progress)
	default:
		ref, err = b.EnsureBase(ctx, conn, progress)
	}
	if err != nil {
		fmt.Fprintf(out, "loopat image build: %v\n", err)
		return 1
	}
	if warning != "" {
		fmt.Fprintf(out, "warning: %s\n", warning)
	}
	fmt.Fprintf(out, "%s ready in %s\n", ref, time.Since(start).Round(time.Millisecond))
	if warning != "" {
		return 1
	}
	return 0
}

func cliList(ctx context.Context, out io.Writer, b *Builder, conn context.Context) int {
	call, stop := joinContexts(conn, ctx)
	defer stop()
	base, baseErr := b.BaseRef()
	list, err := pimages.List(call, new(pimages.ListOptions).WithFilters(map[string][]string{"reference": {repoPrefix + "*"}}))
	if err != nil {
		fmt.Fprintf(out, "loopat image ls: %v\n", err)
		return 1
	}
	tw := tabwriter.NewWriter(out, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "IMAGE\tID\tSIZE\tCREATED\tBUILT BY\tUSED BY\tCURRENT")
	sort.Slice(list, func(i, j int) bool { return list[i].Created > list[j].Created })
	for _, img := range list {
		ref, users := "", []string{}
		for _, t := range img.RepoTags {
			tag := t[strings.LastIndex(t, ":")+1:]
			if tag == latestTag {
				ref = t
			} else if strings.HasPrefix(tag, "ws-") {
				users = append(users, strings.TrimPrefix(tag, "ws-"))
			}
		}
		if ref == "" && len(img.RepoTags) > 0 {
			ref = img.RepoTags[0]
		}
		current := ""
		if baseErr == nil && ref == base {
			current = "base"
		}
		id := img.ID
		if len(id) > 12 {
			id = id[:12]
		}
		fmt.Fprintf(tw, "%s\t%s\t%d MB\t%s\t%s\t%s\t%s\n", ref, id, img.Size/1e6,
			time.Unix(img.Created, 0).Format(time.DateTime), img.Labels[config.LabelKey], strings.Join(users, ","), current)
	}
	if err := tw.Flush(); err != nil {
		return 1
	}
	if baseErr != nil {
		fmt.Fprintf(out, "current base image: %v\n", baseErr)
	}
	return 0
}
