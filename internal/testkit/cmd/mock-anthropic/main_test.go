package main

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestRunPrintsURLThenServesUntilCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	rec := filepath.Join(t.TempDir(), "rec.jsonl")
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() { done <- run(ctx, []string{"--addr", "127.0.0.1:0", "--record", rec}, pw, io.Discard) }()

	line, err := bufio.NewReader(pr).ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	url := strings.TrimSpace(line)
	if !strings.HasPrefix(url, "http://127.0.0.1:") {
		t.Fatalf("first stdout line %q is not the URL", line)
	}
	resp, err := http.Post(url+"/v1/messages?beta=true", "application/json",
		strings.NewReader(`{"model":"m","messages":[{"role":"user","content":"ping"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	var msg struct {
		Content []struct{ Text string } `json:"content"`
	}
	json.NewDecoder(resp.Body).Decode(&msg)
	resp.Body.Close()
	if len(msg.Content) != 1 || msg.Content[0].Text != "echo: ping\nhistory: 1 user messages" {
		t.Fatalf("reply %+v", msg)
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("run did not return after cancel")
	}
	b, err := os.ReadFile(rec)
	if err != nil || !strings.Contains(string(b), `"path":"/v1/messages"`) || !strings.Contains(string(b), `"ping"`) {
		t.Fatalf("record file: %s, %v", b, err)
	}
	if _, err := http.Get(url + "/"); err == nil {
		t.Fatal("server still answers after run returned")
	}
}

func TestRunRejectsBadFlags(t *testing.T) {
	if err := run(context.Background(), []string{"--addr", "256.0.0.1:x"}, io.Discard, io.Discard); err == nil {
		t.Fatal("bad address accepted")
	}
	if err := run(context.Background(), []string{"--nope"}, io.Discard, io.Discard); err == nil {
		t.Fatal("unknown flag accepted")
	}
}
