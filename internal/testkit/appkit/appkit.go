// Package appkit is what tests and benchmarks that open the whole app (core.Open on a
// throwaway LOOPAT_HOME with the mock Messages API as its provider) share: the
// config.toml they write and the clean-up of what the app made in podman. Used by
// backend/core's integration fixture and bench/report/benchkit.
package appkit

import (
	"context"
	"fmt"
	"os"
	"strings"

	"github.com/containers/podman/v5/pkg/bindings/containers"
	podmanimages "github.com/containers/podman/v5/pkg/bindings/images"
	"github.com/containers/podman/v5/pkg/bindings/network"

	"github.com/loopat/desktop/backend/config"
	"github.com/loopat/desktop/backend/images"
)

// CAFolder is what scripts/test/build-sandbox.sh trusts, so the app's image tag is the
// cached one.
const CAFolder = "/usr/local/share/ca-certificates"

// MockKeyRef is the vault secret holding the mock provider's key.
const MockKeyRef = "MOCK_KEY"

// MockConfig is the config.toml of an app whose default provider "mock" is the mock API
// at mockURL (model claude-sonnet-4-5, key MockKeyRef); extra is appended.
func MockConfig(mockURL, extra string) string {
	ca := ""
	if entries, err := os.ReadDir(CAFolder); err == nil && len(entries) > 0 {
		ca = fmt.Sprintf("extra_ca_certs = [%q]\n", CAFolder)
	}
	return fmt.Sprintf(`[agent]
default_provider = "mock"
default_model = "claude-sonnet-4-5"

[sandbox]
%sidle_minutes = 30

[[providers]]
name = "mock"
base_url = %q
models = ["claude-sonnet-4-5"]
key = %q
%s`, ca, mockURL, MockKeyRef, extra)
}

// RemoveWorkspace removes what the app of the workspace at home made in podman: its
// containers and network, and its image tag (the cached sandbox image stays for other
// tests). Names follow the workspace's label (its id once the app has run), as the app
// gives them.
func RemoveWorkspace(conn context.Context, home string) {
	ws, err := config.NewWorkspace(home)
	if err != nil {
		return
	}
	prefix := ws.ResourcePrefix()
	list, _ := containers.List(conn, new(containers.ListOptions).WithAll(true))
	for _, c := range list {
		if len(c.Names) > 0 && strings.HasPrefix(c.Names[0], prefix+"-") {
			_, _ = containers.Remove(conn, c.ID, new(containers.RemoveOptions).WithForce(true).WithTimeout(0))
		}
	}
	_, _ = network.Remove(conn, prefix, new(network.RemoveOptions).WithForce(true))
	tag := images.WorkspaceTag(ws.Label())
	imgs, _ := podmanimages.List(conn, nil)
	for _, im := range imgs {
		for _, name := range im.RepoTags {
			if repo, ok := strings.CutSuffix(name, ":"+tag); ok {
				_ = podmanimages.Untag(conn, im.ID, tag, repo, nil)
			}
		}
	}
}
