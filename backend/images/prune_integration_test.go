//go:build integration

package images

import (
	"context"
	"crypto/rand"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	pimages "github.com/containers/podman/v5/pkg/bindings/images"
	"github.com/google/uuid"
)

// smallBase is the small test image the loops tests use; throwaway images are built FROM it.
const smallBase = "localhost/loopat-loops-test:1"

func podmanCLI(t *testing.T, args ...string) string {
	t.Helper()
	out, err := exec.Command("podman", args...).CombinedOutput()
	if err != nil {
		t.Fatalf("podman %s: %v: %s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}

// ownLayerBytes is the random file each throwaway image adds in a layer of its own, so
// removing one frees at least that much (a LABEL-only image shares every layer with its
// base: removing it frees almost nothing, and rootless podman reports just that).
const ownLayerBytes = 1 << 20

// throwawayImage builds a distinct small image (its own random layer on from) as ref and returns its ID.
func throwawayImage(t *testing.T, ref, from, marker string) string {
	t.Helper()
	dir := t.TempDir()
	// One instruction: the image's parent is from itself, no build intermediate between.
	cf := "FROM " + from + "\nCOPY payload /prunetest-" + marker + "\n"
	if err := os.WriteFile(filepath.Join(dir, "Containerfile"), []byte(cf), 0o644); err != nil {
		t.Fatal(err)
	}
	payload := make([]byte, ownLayerBytes)
	if _, err := rand.Read(payload); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "payload"), payload, 0o644); err != nil {
		t.Fatal(err)
	}
	podmanCLI(t, "build", "--pull=never", "-q", "-t", ref, dir)
	id := podmanCLI(t, "image", "inspect", "--format", "{{.ID}}", ref)
	t.Cleanup(func() { _ = exec.Command("podman", "rmi", "-f", id).Run() })
	return id
}

func imageTags(t *testing.T, id string) []string {
	t.Helper()
	info, err := pimages.GetImage(svc.Conn, id, nil)
	if err != nil || info.ImageData == nil {
		return nil
	}
	return info.RepoTags
}

func TestPruneRemovesOnlyUnusedSupersededImages(t *testing.T) {
	if err := exec.Command("podman", "image", "exists", smallBase).Run(); err != nil {
		t.Skipf("%s not present (scripts/test setup builds it)", smallBase)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	b := itBuilder(t, nil)
	label := b.ws.Label()
	own := WorkspaceTag(label)
	run := uuid.NewString()[:8]
	repoUsed := repoPrefix + "prunetest-used-" + run
	repoOld := repoPrefix + "prunetest-old-" + run
	repoShared := repoPrefix + "prunetest-shared-" + run
	otherTag := WorkspaceTag("prunetest-other-" + run)

	repoParent := repoPrefix + "prunetest-parent-" + run
	// "used" is built on "parent", itself superseded: the parent must stay with its child.
	parentID := throwawayImage(t, repoParent+":latest", smallBase, run+"-parent")
	usedID := throwawayImage(t, repoUsed+":latest", repoParent+":latest", run+"-used")
	oldID := throwawayImage(t, repoOld+":latest", smallBase, run+"-old")
	sharedID := throwawayImage(t, repoShared+":latest", smallBase, run+"-shared")
	podmanCLI(t, "tag", parentID, repoParent+":"+own)
	podmanCLI(t, "tag", usedID, repoUsed+":"+own)
	podmanCLI(t, "tag", oldID, repoOld+":"+own)
	podmanCLI(t, "tag", sharedID, repoShared+":"+own, repoShared+":"+otherTag)

	// A loop container of this workspace on the "used" image (created, never started).
	ctr := "loopat-prunetest-" + run
	loopID := "loop-" + run
	podmanCLI(t, "create", "--name", ctr, "--label", "loopat.workspace="+label, "--label", loopIDLabel+"="+loopID, repoUsed+":latest", "true")
	t.Cleanup(func() { _ = exec.Command("podman", "rm", "-f", ctr).Run() })

	// The real current base, when present, gets this workspace's tag: it must survive.
	base, err := b.BaseRef()
	if err != nil {
		t.Fatal(err)
	}
	baseID := ""
	if exec.Command("podman", "image", "exists", base).Run() == nil {
		baseID = podmanCLI(t, "image", "inspect", "--format", "{{.ID}}", base)
		podmanCLI(t, "tag", base, workspaceRef(base, label)) // itBuilder's cleanup untags it
	} else {
		t.Logf("current base %s not built here: the current-image case is not covered", base)
	}

	disk, err := b.Disk(ctx, svc.Conn)
	if err != nil {
		t.Fatal(err)
	}
	byID := map[string]DiskImage{}
	for _, d := range disk {
		byID[d.ID] = d
	}
	if d := byID[usedID]; d.Removable || !slices.Equal(d.Loops, []string{loopID}) {
		t.Fatalf("used image: %+v", d)
	}
	if d, ok := byID[parentID]; !ok || d.Removable || d.Current {
		t.Fatalf("parent of an image in use: %+v", d)
	}
	if d := byID[oldID]; !d.Removable || d.Current || d.Size <= 0 {
		t.Fatalf("superseded image: %+v", d)
	}
	if d := byID[sharedID]; !d.Removable || !d.Shared {
		t.Fatalf("shared image: %+v", d)
	}
	if baseID != "" {
		if d := byID[baseID]; !d.Current || d.Removable {
			t.Fatalf("current base: %+v", d)
		}
	}
	var baseTagsBefore []string
	if baseID != "" {
		baseTagsBefore = imageTags(t, baseID)
	}

	res, err := b.Prune(ctx, svc.Conn)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("prune: %+v", res)
	if !slices.Contains(res.Removed, repoOld+":latest") || slices.Contains(res.Removed, repoUsed+":latest") {
		t.Fatalf("removed = %v", res.Removed)
	}
	if !slices.Contains(res.Untagged, repoShared+":latest") {
		t.Fatalf("untagged = %v", res.Untagged)
	}
	// Only the old image was deleted (the shared one lost a tag): its own layer went.
	// podman's df sizes are approximate (layer tar vs file, shared metadata): half of it.
	if res.Freed < ownLayerBytes/2 {
		t.Fatalf("freed = %d, want about %d (the removed image's own layer)", res.Freed, ownLayerBytes)
	}
	if tags := imageTags(t, oldID); tags != nil {
		t.Fatalf("superseded unused image still there: %v", tags)
	}
	if tags := imageTags(t, parentID); !slices.Contains(tags, repoParent+":"+own) {
		t.Fatalf("parent of an image in use lost tags: %v", tags)
	}
	if tags := imageTags(t, usedID); !slices.Contains(tags, repoUsed+":latest") || !slices.Contains(tags, repoUsed+":"+own) {
		t.Fatalf("image in use lost tags: %v", tags)
	}
	// Another workspace's tag is untouched; only this workspace's went.
	if tags := imageTags(t, sharedID); !slices.Contains(tags, repoShared+":"+otherTag) || slices.Contains(tags, repoShared+":"+own) ||
		!slices.Contains(tags, repoShared+":latest") {
		t.Fatalf("shared image tags: %v", tags)
	}
	if baseID != "" {
		if after := imageTags(t, baseID); !slices.Equal(after, baseTagsBefore) {
			t.Fatalf("current base tags changed: %v -> %v", baseTagsBefore, after)
		}
	}
}
