package loops

import (
	"testing"

	"github.com/loopat/desktop/backend/config"
)

func TestSandboxNamesUseTheWorkspaceID(t *testing.T) {
	a := NewSandbox(config.Workspace{Home: "/a/.loopat", Name: "loopat", ID: "0123456789abcdef"}, nil)
	b := NewSandbox(config.Workspace{Home: "/b/.loopat", Name: "loopat", ID: "fedcba9876543210"}, nil)
	if got := a.ContainerName("l1"); got != "loopat-0123456789abcdef-l1" {
		t.Fatalf("container name %q", got)
	}
	if a.ContainerName("l1") == b.ContainerName("l1") || a.NetworkName() == b.NetworkName() {
		t.Fatal("two homes named loopat share container or network names")
	}
}
