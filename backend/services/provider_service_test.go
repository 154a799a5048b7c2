package services

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/loopat/desktop/backend/config"
	"github.com/loopat/desktop/backend/providers"
	"github.com/loopat/desktop/backend/rpc"
)

func TestProviderServiceListAndTest(t *testing.T) {
	v := mockVault(t)
	var gotKey string
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gotKey = r.Header.Get("x-api-key")
		w.Write([]byte(`{"type":"message"}`))
	}))
	defer api.Close()
	cfg := config.Default()
	cfg.Providers = append(cfg.Providers, config.Provider{Name: "local", BaseURL: api.URL, Models: []string{"m1"}, KeyRef: "LOCAL_KEY"})
	reg := rpc.NewRegistry(NewProviderService(context.Background(), func() config.Config { return cfg }, v, "", nil))

	if err := v.SetEnv("", "LOCAL_KEY", "sk-local-123"); err != nil {
		t.Fatal(err)
	}
	res, err := reg.Call("ProviderService", "List", nil)
	if err != nil {
		t.Fatal(err)
	}
	list := res.([]ProviderInfo)
	if len(list) != 2 || list[0].Name != "anthropic" || !list[0].Default || list[0].HasKey || !list[1].HasKey {
		t.Fatalf("List = %+v", list)
	}
	res, err = reg.Call("ProviderService", "Test", json.RawMessage(`["local"]`))
	if err != nil {
		t.Fatal(err)
	}
	if tr := res.(providers.TestResult); !tr.OK || gotKey != "sk-local-123" {
		t.Fatalf("Test(local) = %+v, key seen %q", tr, gotKey)
	}
	// The default provider has no key stored: a classified result, not an error.
	res, err = reg.Call("ProviderService", "Test", json.RawMessage(`[""]`))
	if tr := res.(providers.TestResult); err != nil || tr.OK || tr.Class != providers.ClassNoKey || tr.Hint == "" {
		t.Fatalf("Test(default) = %+v, %v", tr, err)
	}
	if _, err := reg.Call("ProviderService", "Test", json.RawMessage(`["nope"]`)); err == nil {
		t.Fatal("unknown provider accepted")
	}
}
