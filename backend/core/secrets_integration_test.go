//go:build integration

package core_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/loopat/desktop/backend/events"
	"github.com/loopat/desktop/backend/gateway"
	"github.com/loopat/desktop/backend/loops"
	"github.com/loopat/desktop/backend/terminal"
)

// terminalRun opens a terminal on loopID through the real terminal manager, types
// script (which must end the shell) and returns everything the terminal printed.
func terminalRun(t *testing.T, tm *terminal.Manager, bus *events.Bus, loopID, script string) string {
	t.Helper()
	sub, cancel := bus.Subscribe(4096, func(topic string) bool { return strings.HasPrefix(topic, "term:") })
	defer cancel()
	ctx, stop := context.WithTimeout(context.Background(), 10*time.Minute)
	defer stop()
	sid, err := tm.Open(ctx, loopID, 200, 50)
	if err != nil {
		t.Fatalf("open terminal: %v", err)
	}
	if err := tm.Write(sid, base64.StdEncoding.EncodeToString([]byte(script))); err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	deadline := time.After(3 * time.Minute)
	for {
		select {
		case ev := <-sub:
			switch ev.Topic {
			case "term:" + sid + ":data":
				b, _ := base64.StdEncoding.DecodeString(ev.Data.(string))
				out.Write(b)
			case "term:" + sid + ":exit":
				return out.String()
			}
		case <-deadline:
			_ = tm.Close(context.Background(), sid)
			t.Fatalf("terminal did not exit; output so far:\n%s", out.String())
		}
	}
}

// The interactive terminal gets the loop's env secrets and the gateway route, never the
// provider key, so `claude` run by hand works through the host gateway; a file secret
// is at $HOME/<path> (mode 0600) from a tmpfs, and its value is neither under
// LOOPAT_HOME nor in `podman inspect`.
func TestTerminalGetsSecretsAndGatewayFileSecretsStayOffDisk(t *testing.T) {
	f := newCoreFixture(t)
	c := f.open()
	fileKey := "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEA" + randHex(20) + "\n-----END OPENSSH PRIVATE KEY-----\n"
	fileLine := strings.Split(fileKey, "\n")[1]
	if err := c.Vault.SetEnv("default", "MOCK_KEY", f.realKey); err != nil {
		t.Fatal(err)
	}
	if err := c.Vault.SetEnv("default", "MY_TOKEN", f.token); err != nil {
		t.Fatal(err)
	}
	if err := c.Vault.SetFile("default", ".ssh/id_test", 0o600, []byte(fileKey)); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = c.Vault.DeleteEnv("default", "MOCK_KEY")
		_ = c.Vault.DeleteEnv("default", "MY_TOKEN")
		_ = c.Vault.DeleteFile("default", ".ssh/id_test")
	})
	a, err := c.Loops.Create(loops.CreateRequest{Title: "terminal secrets"})
	if err != nil {
		t.Fatal(err)
	}
	tm := terminal.NewManager(terminal.ManagerRunner{M: c.Loops}, c.Bus, nil)
	t.Cleanup(func() { tm.CloseAll(context.Background()) })

	start := time.Now()
	out := terminalRun(t, tm, c.Bus, a.ID, strings.Join([]string{
		`echo "tok=$(printenv MY_TOKEN)"`,
		`printenv MOCK_KEY || echo no-provider-""key`,
		`echo "url=$ANTHROPIC_BASE_URL key=$ANTHROPIC_API_KEY"`,
		`echo "mode=$(stat -L -c %a ~/.ssh/id_test) link=$(readlink ~/.ssh/id_test)"`,
		`sed -n 2p ~/.ssh/id_test`,
		`claude -p "hello from the terminal" 2>&1 | head -5`,
		`exit`,
	}, "\n")+"\n")
	t.Logf("terminal session (image, container, link, delivery, claude) %s", time.Since(start).Round(time.Millisecond))

	for _, want := range []string{
		"tok=" + f.token,
		"no-provider-key",
		"url=http://" + "127.0.0.1:4141" + " key=" + gateway.PlaceholderPrefix,
		"mode=600 link=" + loops.SecretsDir + "/.ssh/id_test",
		fileLine,
		"echo: hello from the terminal",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("terminal output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, f.realKey) {
		t.Fatalf("the provider key reached the terminal:\n%s", out)
	}
	// The hand-run claude went through the gateway, which added the real key.
	reqs := f.mock.MessagesRequests()
	if len(reqs) == 0 {
		t.Fatal("the mock saw no request from the hand-run claude")
	}
	for _, r := range reqs {
		if got := r.Header.Get("X-Api-Key"); got != f.realKey {
			t.Fatalf("provider got key %q, want the real key", got)
		}
	}

	// The file value is nowhere on the host's disk under LOOPAT_HOME, nor in inspect.
	grepTree(t, f.home, fileLine)
	container := c.Loops.Sandbox().ContainerName(a.ID)
	insp, err := exec.Command("podman", "--url", f.uri, "inspect", container).CombinedOutput()
	if err != nil {
		t.Fatalf("podman inspect: %v\n%s", err, insp)
	}
	var parsed []json.RawMessage
	if json.Unmarshal(insp, &parsed) != nil || len(parsed) != 1 {
		t.Fatalf("podman inspect output: %s", insp)
	}
	for _, secret := range []string{fileLine, f.token, f.realKey} {
		if strings.Contains(string(insp), secret) {
			t.Errorf("podman inspect shows a secret (%d bytes)", len(secret))
		}
	}
}
