//go:build integration

package core_test

import (
	"strings"
	"testing"

	"github.com/loopat/desktop/backend/core"
	"github.com/loopat/desktop/backend/loops"
)

// The agent, from inside its real loop container, aims its gateway route (which adds the
// real key on the host) at paths outside the Messages API, written so that the provider or
// a proxy would normalise them into another endpoint. Each must be answered 404 on the
// host: the provider sees none of them, so the real key goes nowhere but the Messages API.
func TestHostileGatewayPathEscape(t *testing.T) {
	f := newCoreFixture(t)
	c := f.open()
	if err := c.Vault.SetEnv("default", "MOCK_KEY", f.realKey); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Vault.DeleteEnv("default", "MOCK_KEY") })
	a, err := c.Loops.Create(loops.CreateRequest{Title: "hostile gateway"})
	if err != nil {
		t.Fatal(err)
	}
	turn(t, c, a.ID, "hello") // starts the container, the link and the loop's gateway route
	name := c.Loops.Sandbox().ContainerName(a.ID)

	// As the agent: its own placeholder key (from its claude process), then raw requests
	// through the gateway route; curl --path-as-is sends each path byte for byte.
	script := `PH=$(cat /proc/[0-9]*/environ 2>/dev/null | tr '\0' '\n' | sed -n 's/^ANTHROPIC_API_KEY=//p' | head -1)
[ -n "$PH" ] || { echo "no placeholder"; exit 1; }
probe() { # method path
  code=$(curl -s -o /tmp/gw-probe.out -w '%{http_code}' --path-as-is -X "$1" -H "x-api-key: $PH" \
    -H 'anthropic-version: 2023-06-01' -H 'content-type: application/json' -d '{}' "http://` + core.GatewayAddr + `$2")
  printf '%s %s %s %s\n' "$1" "$2" "$code" "$(head -c 200 /tmp/gw-probe.out | tr '\n' ' ')"
}
probe POST '/v1/../admin'
probe POST '/v1/messages/../../x'
probe GET '/%2e%2e/'
probe GET '/v1/%2e%2e/v1/organizations'
probe POST '/v1/messages%2fbatches'
probe POST '/v1/messages/batches'
probe POST '//v1/messages'
probe POST '/v1//messages'
probe GET '/v1/models/../../admin'
probe GET '/api/oauth/profile'
probe GET '/v1/models'
`
	before := len(f.mock.Requests())
	out := sandboxSh(t, name, script, "2000")
	t.Logf("probes from the agent:\n%s", out)

	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 11 {
		t.Fatalf("want 11 probe results, got:\n%s", out)
	}
	for _, l := range lines[:10] {
		fields := strings.Fields(l)
		if len(fields) < 3 || fields[2] != "404" || !strings.Contains(l, "not_found_error") {
			t.Errorf("hostile path not refused by the gateway: %s", l)
		}
	}
	// The control: an allowed path through the same route reaches the provider, so the
	// refusals above are the gateway's doing, not a broken route.
	if fields := strings.Fields(lines[10]); len(fields) < 3 || fields[2] != "200" {
		t.Fatalf("GET /v1/models through the gateway: %s", lines[10])
	}
	after := f.mock.Requests()[before:]
	if len(after) != 1 || after[0].Method != "GET" || after[0].Path != "/v1/models" || after[0].Header.Get("X-Api-Key") != f.realKey {
		for _, r := range after {
			t.Errorf("provider saw %s %s (query %q)", r.Method, r.Path, r.Query)
		}
		t.Fatalf("the provider saw %d requests from the probes, want only the control GET /v1/models with the real key", len(after))
	}
	if strings.Contains(out, f.realKey) {
		t.Fatal("a gateway answer carried the real key into the sandbox")
	}
	grepTree(t, c.Workspace.LogsDir(), f.realKey)
}
