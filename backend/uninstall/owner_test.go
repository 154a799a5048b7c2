package uninstall

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/loopat/desktop/backend/config"
	"github.com/loopat/desktop/backend/images"
)

func TestOwnerMatchesIDAndOnlyItsOwnLegacyResources(t *testing.T) {
	ws := config.Workspace{Home: t.TempDir(), Name: "loopat", ID: "0123456789abcdef", LegacyLabel: "loopat"}
	if err := os.MkdirAll(filepath.Join(ws.LoopsDir(), "myloop"), 0o700); err != nil {
		t.Fatal(err)
	}
	o := ownerOf(ws)
	lbl := func(ws, loop string) map[string]string {
		return map[string]string{config.LabelKey: ws, labelLoopID: loop}
	}
	cases := []struct {
		labels map[string]string
		want   bool
	}{
		{lbl("0123456789abcdef", "any"), true},                // labelled by our id
		{lbl("loopat", "myloop"), true},                       // before ids, one of our loops
		{lbl("loopat", "theirloop"), false},                   // before ids, another home named loopat
		{lbl("fedcba9876543210", "myloop"), false},            // another workspace's id
		{map[string]string{config.LabelKey: "loopat"}, false}, // name label without a loop: not provably ours
		{map[string]string{}, false},
	}
	for _, c := range cases {
		if got := o.container(c.labels); got != c.want {
			t.Errorf("container(%v) = %v, want %v", c.labels, got, c.want)
		}
	}
	if !o.myTag(images.WorkspaceTag("0123456789abcdef")) || !o.myTag(images.WorkspaceTag("loopat")) || o.myTag(images.WorkspaceTag("other")) {
		t.Error("workspace tags")
	}

	fresh := ownerOf(config.Workspace{Home: t.TempDir(), Name: "loopat", ID: "0123456789abcdef"})
	if fresh.container(lbl("loopat", "myloop")) || fresh.myTag(images.WorkspaceTag("loopat")) || len(fresh.labels()) != 1 {
		t.Error("a workspace born with an id must not claim name-labelled resources")
	}
}
