package services

import (
	"encoding/json"
	"errors"
	"net/http"
	"testing"

	"github.com/loopat/desktop/backend/config"
	"github.com/loopat/desktop/backend/contextrepo"
	"github.com/loopat/desktop/backend/rpc"
)

// Bad input from the UI is the caller's mistake: over the same registry both transports
// serve, it is 4xx with a hint written for the user, never a 500.
func TestValidationErrorsAreTypedWithAHint(t *testing.T) {
	v := mockVault(t)
	ws, err := config.NewWorkspace(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	st := contextrepo.New(contextrepo.Options{Workspace: ws})
	cfg := config.Default()
	reg := rpc.NewRegistry(
		NewVaultService(v, nil, nil),
		NewProviderService(t.Context(), func() config.Config { return cfg }, v, "default", nil),
		NewContextService(t.Context(), st, nil),
	)
	for _, c := range []struct {
		svc, method, args string
		status            int
	}{
		{"VaultService", "SetEnv", `["default", "1BAD", "v"]`, http.StatusBadRequest},
		{"VaultService", "SetEnv", `["default", "TOKEN", ""]`, http.StatusBadRequest},
		{"VaultService", "SetFile", `["default", ".config/x", 4096, "v"]`, http.StatusBadRequest},
		{"VaultService", "SetFile", `["default", "/etc/passwd", 384, "v"]`, http.StatusBadRequest},
		{"VaultService", "SetFile", `["default", "../x", 384, "v"]`, http.StatusBadRequest},
		{"VaultService", "SetFile", `["default", ".ssh/id", 384, ""]`, http.StatusBadRequest},
		{"VaultService", "Delete", `["default", "tape", "X"]`, http.StatusBadRequest},
		{"VaultService", "Rotate", `["default", "env", "NOT_THERE", "v"]`, http.StatusNotFound},
		{"VaultService", "Delete", `["default", "env", "NOT_THERE"]`, http.StatusNotFound},
		{"ProviderService", "Test", `["no-such-provider"]`, http.StatusNotFound},
		{"ContextService", "Tree", `["../etc", ""]`, http.StatusBadRequest},
		{"ContextService", "Write", `["knowledge", "a.md", "x"]`, http.StatusBadRequest},
		{"ContextService", "Write", `["notes", "", "x"]`, http.StatusBadRequest},
		{"ContextService", "Search", `["notes", "  "]`, http.StatusBadRequest},
		{"ContextService", "Status", `["nope"]`, http.StatusBadRequest},
	} {
		_, err := reg.Call(c.svc, c.method, json.RawMessage(c.args))
		if err == nil {
			t.Errorf("%s.%s(%s) succeeded", c.svc, c.method, c.args)
			continue
		}
		var typed *rpc.Error
		p := rpc.PayloadOf(err)
		status, _, _ := rpc.Describe(err)
		if !errors.As(err, &typed) || status != c.status || p.Hint == "" || p.Message == "" {
			t.Errorf("%s.%s(%s) = %d %+v (%v), want %d with a message and a hint", c.svc, c.method, c.args, status, p, err, c.status)
		}
	}
}
