//go:build integration

package terminal

import (
	"context"
	"encoding/base64"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/containers/podman/v5/pkg/bindings/containers"
	"github.com/containers/podman/v5/pkg/bindings/network"

	"github.com/loopat/desktop/backend/config"
	"github.com/loopat/desktop/backend/events"
	"github.com/loopat/desktop/backend/loops"
	"github.com/loopat/desktop/backend/loops/testimage"
	"github.com/loopat/desktop/internal/testkit"
)

type staticConn struct{ ctx context.Context }

func (s staticConn) Conn(context.Context) (context.Context, error) { return s.ctx, nil }

func TestTerminalShellInLoopContainer(t *testing.T) {
	uri := testkit.StartPodmanService(t)
	conn := testkit.Connect(t, uri)
	if err := testimage.Ensure(); err != nil {
		t.Fatal(err)
	}
	ws, err := config.NewWorkspace(filepath.Join(t.TempDir(), testkit.UniqueName("tt")))
	if err != nil {
		t.Fatal(err)
	}
	bus := events.New()
	lm, err := loops.NewManager(loops.Options{
		Workspace: ws, Conn: staticConn{conn}, Events: bus,
		Images: loops.ImageFunc(func(ctx, conn context.Context, _ loops.Meta) (string, string, error) { return testimage.Ref, "", nil }),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		list, _ := containers.List(conn, new(containers.ListOptions).WithAll(true).
			WithFilters(map[string][]string{"label": {config.LabelKey + "=" + ws.Label()}}))
		for _, c := range list {
			_, _ = containers.Remove(conn, c.ID, new(containers.RemoveOptions).WithForce(true).WithTimeout(0))
		}
		_, _ = network.Remove(conn, lm.Sandbox().NetworkName(), new(network.RemoveOptions).WithForce(true))
	})
	meta, err := lm.Create(loops.CreateRequest{Title: "term"})
	if err != nil {
		t.Fatal(err)
	}
	tm := NewManager(ManagerRunner{lm}, bus, nil)
	ctx := context.Background()
	start := time.Now()
	id, err := tm.Open(ctx, meta.ID, 120, 40)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("terminal open (container create+start+exec): %v", time.Since(start))
	ch, cancel := bus.Subscribe(4096, func(topic string) bool { return strings.HasPrefix(topic, "term:"+id+":") })
	defer cancel()
	var out strings.Builder
	expect := func(want string) {
		t.Helper()
		deadline := time.After(20 * time.Second)
		for !strings.Contains(out.String(), want) {
			select {
			case ev := <-ch:
				if ev.Topic == "term:"+id+":data" {
					b, _ := base64.StdEncoding.DecodeString(ev.Data.(string))
					out.Write(b)
				}
			case <-deadline:
				t.Fatalf("terminal output lacks %q:\n%s", want, out.String())
			}
		}
	}
	send := func(s string) {
		t.Helper()
		if err := tm.Write(id, base64.StdEncoding.EncodeToString([]byte(s))); err != nil {
			t.Fatal(err)
		}
	}
	send("echo answer=$((6*7)) user=$(id -u) home=$HOME pwd=$(pwd)\n")
	expect("answer=42 user=2000 home=/home/loopat pwd=/home/loopat/work")
	send("tty && echo tty-ok\n")
	expect("tty-ok")
	if err := tm.Resize(ctx, id, 101, 33); err != nil {
		t.Fatal(err)
	}
	send("stty size\n")
	expect("33 101")
	if err := tm.Write("nope", "aGk="); err == nil {
		t.Fatal("write to an unknown session accepted")
	}
	if err := tm.Close(ctx, id); err != nil {
		t.Fatal(err)
	}
	deadline := time.After(20 * time.Second)
	for {
		select {
		case ev := <-ch:
			if ev.Topic == "term:"+id+":exit" {
				return
			}
		case <-deadline:
			t.Fatal("no exit event after Close")
		}
	}
}
