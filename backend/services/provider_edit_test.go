package services

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/loopat/desktop/backend/config"
	"github.com/loopat/desktop/backend/rpc"
)

// The settings form's calls, over the RPC registry as the UI makes them: the file keeps
// its comments, the live config follows at once, bad input saves nothing.
func TestProviderServiceEditsConfigFileKeepingComments(t *testing.T) {
	f := newSystemFixture(t)
	orig, err := os.ReadFile(f.path)
	if err != nil {
		t.Fatal(err)
	}
	withNote := strings.Replace(string(orig), "[ui]", "# my own note about the UI\n[ui]", 1)
	if err := os.WriteFile(f.path, []byte(withNote), 0o600); err != nil {
		t.Fatal(err)
	}
	svc := NewProviderService(context.Background(), f.live.Get, mockVault(t), "", f.svc)
	reg := rpc.NewRegistry(svc)
	call := func(method string, args ...any) ([]ProviderInfo, error) {
		raw, _ := json.Marshal(args)
		res, err := reg.Call("ProviderService", method, raw)
		if err != nil {
			return nil, err
		}
		return res.([]ProviderInfo), nil
	}

	list, err := call("Save", "", config.Provider{Name: "mock", BaseURL: "http://127.0.0.1:9", Models: []string{"m1", "m2"}, KeyRef: "MOCK_KEY"})
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 2 || list[1].Name != "mock" || len(list[1].Models) != 2 {
		t.Fatalf("after Save: %+v", list)
	}
	if got := f.live.Get().Providers; len(got) != 2 || got[1].BaseURL != "http://127.0.0.1:9" {
		t.Fatalf("live config not updated: %+v", got)
	}
	if list, err = call("SetDefault", "mock"); err != nil || !list[0].Default || list[0].Name != "mock" {
		t.Fatalf("SetDefault: %+v, %v", list, err)
	}
	if _, err := call("Remove", "mock"); err == nil || rpc.PayloadOf(err).Kind != rpc.KindInvalid {
		t.Fatalf("removing the default: %v", err)
	}
	if _, err = call("Save", "mock", config.Provider{Name: "gw", BaseURL: "https://gw.example", Models: []string{"x"}, KeyRef: "GW_KEY"}); err != nil {
		t.Fatal(err)
	}
	if c := f.live.Get(); c.Agent.DefaultProvider != "gw" || c.Providers[1].Name != "gw" {
		t.Fatalf("rename: %+v", c)
	}
	if _, err := call("SetDefault", "anthropic"); err != nil {
		t.Fatal(err)
	}
	if list, err = call("Remove", "gw"); err != nil || len(list) != 1 {
		t.Fatalf("Remove: %+v, %v", list, err)
	}

	before, _ := os.ReadFile(f.path)
	_, err = call("Save", "", config.Provider{Name: "bad\n[x]", BaseURL: "http://a"})
	var re *rpc.Error
	if !errors.As(err, &re) || re.Kind != rpc.KindInvalid {
		t.Fatalf("bad name: %v", err)
	}
	after, _ := os.ReadFile(f.path)
	if string(after) != string(before) {
		t.Fatal("a refused edit changed the file")
	}
	// Back where it started: the same text, comments and all.
	if string(after) != withNote {
		t.Fatalf("round trip changed config.toml:\n%s", after)
	}
}
