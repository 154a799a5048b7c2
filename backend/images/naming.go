package images

import (
	"fmt"
	"regexp"
	"strings"
)

// Image names. Podman 4.3 stores an unqualified "loopat-sandbox-x" as
// "localhost/loopat-sandbox-x:latest", so refs are always written fully qualified: the same
// string then works for lookups, container creation and comparisons with inspect output.
const (
	repoPrefix = "localhost/loopat-sandbox-"
	latestTag  = "latest"
)

// RefForHash is the canonical reference of a sandbox image (base or per-loop child).
func RefForHash(hash string) string { return repoPrefix + hash + ":" + latestTag }

// WorkspaceTag is the extra tag a workspace puts on every sandbox image it uses
// ("ws-<name>", sanitised to the tag alphabet). Images are shared across workspaces by
// content hash; the image label records only the workspace that built it, so these tags are
// the record of who uses an image: uninstalling a workspace removes its ws- tags and deletes
// an image only when no other ws- tag remains.
func WorkspaceTag(workspace string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(workspace) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '_', r == '.', r == '-':
			b.WriteRune(r)
		default:
			b.WriteByte('_')
		}
	}
	name := b.String()
	if len(name) > 100 {
		name = name[:100]
	}
	return "ws-" + name
}

// workspaceRef is ref's repository with this workspace's tag.
func workspaceRef(ref, workspace string) string {
	repo := ref[:strings.LastIndex(ref, ":")]
	return repo + ":" + WorkspaceTag(workspace)
}

// imageRefPattern keeps the configured base image from injecting Containerfile text.
var imageRefPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._/:@+-]*$`)

func validateImageRef(ref string) error {
	if !imageRefPattern.MatchString(ref) {
		return fmt.Errorf("sandbox base_image %q is not an image reference", ref)
	}
	return nil
}
