//go:build integration

package gateway

import (
	"bytes"
	"context"
	"log/slog"
	"net/http/httptest"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/loopat/desktop/internal/testkit"
	"github.com/loopat/desktop/internal/testkit/mockapi"
)

// The real claude CLI, holding only a placeholder, talks to the mock Messages API through
// the gateway: the reply streams back, the mock sees the real key and never the placeholder.
func TestRealClaudeThroughGateway(t *testing.T) {
	bin := testkit.ClaudeBinary(t)
	mock := mockapi.New(mockapi.Options{ChunkDelay: 5 * time.Millisecond})
	if err := mock.Listen("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { mock.Close() })

	const key = "sk-ant-integration-REAL-7f3a9c"
	var logs bytes.Buffer
	ph := NewPlaceholder()
	g, err := New(mock.URL(), key, ph, slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
	if err != nil {
		t.Fatal(err)
	}
	gw := httptest.NewServer(g)
	t.Cleanup(gw.Close)

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "-p", "hello through the gateway", "--output-format", "json")
	cmd.Dir = t.TempDir()
	cmd.Env = []string{
		"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
		"HOME=" + t.TempDir(),
		"ANTHROPIC_BASE_URL=" + gw.URL,
		"ANTHROPIC_API_KEY=" + ph,
		"CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1",
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	if err := cmd.Run(); err != nil {
		t.Fatalf("claude: %v\nstdout: %s\nstderr: %s\ngateway log: %s", err, stdout.String(), stderr.String(), logs.String())
	}
	if !strings.Contains(stdout.String(), "echo: hello through the gateway") {
		t.Fatalf("claude output %s (stderr %s)", stdout.String(), stderr.String())
	}
	reqs := mock.MessagesRequests()
	if len(reqs) == 0 {
		t.Fatal("the mock saw no Messages request")
	}
	for _, r := range mock.Requests() {
		if got := r.Header.Get("X-Api-Key"); got != key {
			t.Fatalf("%s %s reached the mock with x-api-key %q", r.Method, r.Path, got)
		}
		for name, vals := range r.Header {
			for _, v := range vals {
				if strings.Contains(v, ph) {
					t.Fatalf("placeholder reached the provider in header %s", name)
				}
			}
		}
	}
	if strings.Contains(logs.String(), key) || strings.Contains(stdout.String()+stderr.String(), key) {
		t.Fatal("the real key leaked into logs or the agent's output")
	}
	t.Logf("claude turn through the gateway in %s, %d requests", time.Since(start).Round(time.Millisecond), len(mock.Requests()))
}
