//go:build integration

package cli

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestDoctorJSON: `loopat doctor --json` prints a valid array of {id, ok, label, hint}
// covering every checklist item, with the engine reachable on this host.
func TestDoctorJSON(t *testing.T) {
	t.Setenv("LOOPAT_HOME", t.TempDir()+"/.doctorws")
	_, out, errOut := run(t, "doctor", "--json")
	var results []struct {
		ID    string  `json:"id"`
		OK    *bool   `json:"ok"`
		Label string  `json:"label"`
		Hint  *string `json:"hint"`
	}
	if err := json.Unmarshal([]byte(out), &results); err != nil {
		t.Fatalf("not JSON: %v\n%s\nstderr: %s", err, out, errOut)
	}
	got := map[string]bool{}
	for _, r := range results {
		if r.ID == "" || r.OK == nil || r.Label == "" {
			t.Fatalf("incomplete item %+v", r)
		}
		if !*r.OK && (r.Hint == nil || *r.Hint == "") {
			t.Errorf("failing item %s has no hint", r.ID)
		}
		got[r.ID] = *r.OK
	}
	for _, id := range []string{"workspace", "config", "podman", "engine", "sandbox-image", "claude", "keychain", "git"} {
		if _, ok := got[id]; !ok {
			t.Errorf("missing check %q in %s", id, out)
		}
	}
	if !got["workspace"] || !got["podman"] || !got["engine"] || !got["git"] {
		t.Errorf("podman/engine/git should be fine on the test host: %s", out)
	}
}

// TestServeHealthAndToken: serve prints a tokened URL; /api/health answers with the
// workspace name only when the token is given.
func TestServeHealthAndToken(t *testing.T) {
	t.Setenv("LOOPAT_HOME", t.TempDir()+"/.servews")
	pr, pw := io.Pipe()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	go func() {
		done <- Main(ctx, []string{"serve", "--addr", "127.0.0.1:0"}, Env{Stdout: pw, Stderr: io.Discard})
		pw.Close()
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(15 * time.Second):
			t.Error("serve did not stop")
		}
	})
	urlRe := regexp.MustCompile(`http://(127\.0\.0\.1:\d+)/\?token=([0-9a-f]+)`)
	sc := bufio.NewScanner(pr)
	var addr, token string
	for sc.Scan() {
		if m := urlRe.FindStringSubmatch(sc.Text()); m != nil {
			addr, token = m[1], m[2]
			break
		}
	}
	go io.Copy(io.Discard, pr)
	if token == "" {
		t.Fatal("serve printed no URL with a token")
	}
	resp, err := http.Get("http://" + addr + "/api/health")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("no token: %d", resp.StatusCode)
	}
	req, _ := http.NewRequest("GET", "http://"+addr+"/api/health", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var h map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&h); err != nil || h["workspace"] != "servews" {
		t.Fatalf("health: %v %v", h, err)
	}
	// The same services as the desktop window, by name.
	req, _ = http.NewRequest("POST", "http://"+addr+"/api/rpc/SystemService/Info", strings.NewReader("[]"))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json") // the API takes JSON bodies only
	resp2, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp2.Body.Close()
	var info struct {
		Result struct {
			Workspace string `json:"workspace"`
		} `json:"result"`
	}
	if err := json.NewDecoder(resp2.Body).Decode(&info); err != nil || info.Result.Workspace != "servews" {
		t.Fatalf("SystemService.Info over HTTP: %+v %v", info, err)
	}
}
