package logging

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestSetupWritesJSONFileAndWarnsToStderr(t *testing.T) {
	dir := t.TempDir()
	var stderr bytes.Buffer
	log, closer, err := Setup(Options{Dir: dir, Stderr: &stderr})
	if err != nil {
		t.Fatal(err)
	}
	log.Info("engine ready", "uri", "unix:///x")
	log.Warn("machine stopped")
	closer.Close()
	files, _ := filepath.Glob(filepath.Join(dir, "loopat-*.log"))
	if len(files) != 1 {
		t.Fatalf("log files: %v", files)
	}
	data, _ := os.ReadFile(files[0])
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	if len(lines) != 2 {
		t.Fatalf("want 2 JSON lines, got %q", data)
	}
	var rec map[string]any
	if err := json.Unmarshal([]byte(lines[0]), &rec); err != nil || rec["msg"] != "engine ready" || rec["uri"] != "unix:///x" {
		t.Fatalf("bad record %q: %v", lines[0], err)
	}
	if strings.Contains(stderr.String(), "engine ready") || !strings.Contains(stderr.String(), "machine stopped") {
		t.Fatalf("stderr should carry warnings only: %q", stderr.String())
	}
}
