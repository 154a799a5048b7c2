package services

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/loopat/desktop/backend/config"
	"github.com/loopat/desktop/backend/images"
)

func TestImageServiceDiskShowsLoopFoldersWhenEngineIsDown(t *testing.T) {
	ws := config.Workspace{Home: t.TempDir(), Name: "disk-test"}
	loop := filepath.Join(ws.LoopsDir(), "loop-1")
	for _, d := range []string{"workdir/src", "home/.cache/mise/downloads"} {
		if err := os.MkdirAll(filepath.Join(loop, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	write := func(rel string, n int) {
		if err := os.WriteFile(filepath.Join(loop, rel), make([]byte, n), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("workdir/src/a.go", 300)
	write("home/.cache/mise/downloads/node.tgz", 5000)
	write("home/.bashrc", 20)
	// A symlink in the loops folder is not a loop.
	if err := os.Symlink(t.TempDir(), filepath.Join(ws.LoopsDir(), "evil")); err != nil {
		t.Fatal(err)
	}
	s := NewImageService(context.Background(), images.NewBuilder(ws, config.Sandbox{}, nil, nil),
		func() (context.Context, error) { return nil, errors.New("engine is starting") })
	v, err := s.Disk()
	if err != nil {
		t.Fatal(err)
	}
	if v.ImagesError == "" || len(v.Images) != 0 {
		t.Fatalf("images with the engine down: %+v", v)
	}
	if len(v.Loops) != 1 || v.Loops[0].ID != "loop-1" || v.Loops[0].Workdir != 300 || v.Loops[0].Home != 5020 {
		t.Fatalf("loops = %+v", v.Loops)
	}
	if len(v.Caches) != 1 || v.Caches[0].Path != ".cache/mise" || v.Caches[0].Size != 5000 {
		t.Fatalf("caches = %+v", v.Caches)
	}
	if _, err := s.Prune(); err == nil {
		t.Fatal("Prune without an engine succeeded")
	}
}
