// Command ensure makes sure the sandbox base image exists, through the same Builder the app
// uses (scripts/test/build-sandbox.sh runs it so integration tests find the image cached).
//
//	go run -tags remote,containers_image_openpgp ./backend/images/cmd/ensure -ca /usr/local/share/ca-certificates
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/loopat/desktop/backend/config"
	"github.com/loopat/desktop/backend/images"
	"github.com/loopat/desktop/backend/images/podmansvc"
)

type list []string

func (l *list) String() string     { return strings.Join(*l, ",") }
func (l *list) Set(v string) error { *l = append(*l, v); return nil }

func main() {
	var cas list
	flag.Var(&cas, "ca", "extra CA certificate file or folder (repeatable)")
	workspace := flag.String("workspace", "loopat-test", "workspace name the image is labelled with")
	base := flag.String("base", config.Default().Sandbox.BaseImage, "base image of the Containerfile")
	refOnly := flag.Bool("ref", false, "print the base ref and exit (no podman)")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	b := images.NewBuilder(config.Workspace{Home: os.TempDir(), Name: *workspace},
		config.Sandbox{ExtraCACerts: cas, BaseImage: *base}, nil, log)
	if *refOnly {
		ref, err := b.BaseRef()
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		fmt.Println(ref)
		return
	}
	svc, err := podmansvc.Connect(ctx)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	ref, err := b.EnsureBase(ctx, svc.Conn, func(p images.Progress) {
		if p.Line != "" && !p.Done {
			fmt.Printf("[%3d%%] %s\n", p.Percent, p.Line)
		}
	})
	svc.Stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "build the sandbox image:", err)
		os.Exit(1)
	}
	fmt.Println(ref, "ready")
}
