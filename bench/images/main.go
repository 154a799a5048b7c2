//go:build bench

// Command images measures sandbox image ensure: a cache hit (the tag exists: one API call,
// no context tar, no build) next to a forced rebuild of a small per-loop child image
// (--no-cache), with the goal hit ≤ 150 ms (imagesbench; enforced by bench/report under `make bench`).
//
//	go run -tags bench,remote,exclude_graphdriver_btrfs,containers_image_openpgp ./bench/images [-full]
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"slices"
	"time"

	pimages "github.com/containers/podman/v5/pkg/bindings/images"

	"github.com/loopat/desktop/backend/config"
	"github.com/loopat/desktop/backend/images"
	"github.com/loopat/desktop/backend/images/podmansvc"
	"github.com/loopat/desktop/bench/images/imagesbench"
	"github.com/loopat/desktop/bench/report/benchkit"
)

func main() {
	full := flag.Bool("full", false, "also time a --no-cache rebuild of the base image (minutes)")
	hits := flag.Int("n", 20, "cache-hit samples")
	flag.Parse()
	if err := run(*full, *hits); err != nil {
		fmt.Fprintln(os.Stderr, "bench/images:", err)
		os.Exit(1)
	}
}

func run(full bool, n int) error {
	ctx := context.Background()
	svc, err := podmansvc.Connect(ctx)
	if err != nil {
		return err
	}
	defer svc.Stop()
	ws := config.Workspace{Home: os.TempDir(), Name: "loopat-bench"}
	var cas []string
	if ents, err := os.ReadDir("/usr/local/share/ca-certificates"); err == nil && len(ents) > 0 {
		cas = []string{"/usr/local/share/ca-certificates"}
	}
	b := images.NewBuilder(ws, config.Sandbox{ExtraCACerts: cas, BaseImage: config.Default().Sandbox.BaseImage}, nil, nil)
	defer untag(svc.Conn, ws.Name)

	start := time.Now()
	base, err := b.EnsureBase(ctx, svc.Conn, nil)
	if err != nil {
		return err
	}
	fmt.Printf("base %s ready in %s (first ensure; a build if it was missing)\n", base, time.Since(start).Round(time.Millisecond))

	samples := make([]time.Duration, 0, n)
	for range n {
		s := time.Now()
		if _, err := b.EnsureBase(ctx, svc.Conn, nil); err != nil {
			return err
		}
		samples = append(samples, time.Since(s))
	}
	slices.Sort(samples)
	hitMedian, hitP95 := samples[len(samples)/2], samples[len(samples)*95/100]

	toml := []byte("# bench child\n[tools]\n\n[host]\nclis = [\"aone\"]\n")
	childRef, _, err := b.EnsureLoopImage(ctx, svc.Conn, toml, nil)
	if err != nil {
		return err
	}
	defer func() {
		// By ID: it also carries the workspace tag, and removing one tag would only untag.
		if info, err := pimages.GetImage(svc.Conn, childRef, nil); err == nil && info.ImageData != nil {
			_, _ = pimages.Remove(svc.Conn, []string{info.ID}, new(pimages.RemoveOptions).WithForce(true))
		}
	}()
	childHits := make([]time.Duration, 0, n)
	for range n {
		s := time.Now()
		if _, _, err := b.EnsureLoopImage(ctx, svc.Conn, toml, nil); err != nil {
			return err
		}
		childHits = append(childHits, time.Since(s))
	}
	slices.Sort(childHits)
	s := time.Now()
	if _, err := b.RebuildLoopImage(ctx, svc.Conn, toml, nil); err != nil {
		return err
	}
	childRebuild := time.Since(s)

	fmt.Printf("\n%-42s %12s %12s\n", "sandbox image ensure", "time", "vs hit")
	row := func(name string, d, hit time.Duration) {
		fmt.Printf("%-42s %12s %11.0fx\n", name, d.Round(100*time.Microsecond), float64(d)/float64(hit))
	}
	row(fmt.Sprintf("base cache hit, median of %d", n), hitMedian, hitMedian)
	row(fmt.Sprintf("base cache hit, p95 of %d", n), hitP95, hitMedian)
	row(fmt.Sprintf("child cache hit, median of %d", n), childHits[len(childHits)/2], hitMedian)
	row("child forced rebuild (--no-cache)", childRebuild, hitMedian)
	if full {
		s := time.Now()
		if _, err := b.RebuildBase(ctx, svc.Conn, nil); err != nil {
			return err
		}
		row("base forced rebuild (--no-cache)", time.Since(s), hitMedian)
	}
	res := imagesbench.Result{BaseHits: samples, ChildHits: childHits, ChildRebuild: childRebuild}
	if err := res.Check(); err != nil {
		return err
	}
	rows := imagesbench.Rows(res)
	benchkit.Print(rows)
	path, err := benchkit.Write(rows)
	if err != nil {
		return err
	}
	fmt.Println("rows written to", path)
	return nil
}

// untag removes the bench workspace's ws- tags; the base image stays cached.
func untag(conn context.Context, name string) {
	list, err := pimages.List(conn, nil)
	if err != nil {
		return
	}
	tag := images.WorkspaceTag(name)
	for _, img := range list {
		for _, rt := range img.RepoTags {
			if len(rt) > len(tag) && rt[len(rt)-len(tag)-1:] == ":"+tag {
				_ = pimages.Untag(conn, img.ID, tag, rt[:len(rt)-len(tag)-1], nil)
			}
		}
	}
}
