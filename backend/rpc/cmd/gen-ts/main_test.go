package main

import (
	"os"
	"path/filepath"
	"testing"
)

// The checked-in frontend/src/api/generated.ts is what the Go services generate: a changed
// signature or struct fails here (run `make generate`), and then tsc fails where the
// frontend no longer matches.
func TestGeneratedTSIsCurrent(t *testing.T) {
	t.Setenv("LOOPAT_HOME", "") // generate sets its own throwaway workspace
	t.Setenv("CONTAINER_HOST", "")
	want, err := generate()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join("..", "..", "..", "..", "frontend", "src", "api", "generated.ts")
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != string(want) {
		t.Fatalf("%s is out of date with the Go services: run `make generate` and commit it", path)
	}
}
