package workdir

import (
	"testing"

	"github.com/go-git/go-git/v5/plumbing"
)

func mustHash(t *testing.T, s string) plumbing.Hash {
	t.Helper()
	if len(s) != 40 {
		t.Fatalf("bad hash %q", s)
	}
	return plumbing.NewHash(s)
}
