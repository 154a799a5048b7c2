package loops

import (
	"encoding/json"
	"reflect"
	"testing"
)

func TestSandboxEnvsDropTheProviderKey(t *testing.T) {
	envs := map[string]string{"ANTHROPIC_API_KEY": "sk-real", "COPY": "sk-real", "GH_TOKEN": "ghp_x"}
	got := sandboxEnvs(envs, "ANTHROPIC_API_KEY", "sk-real")
	if want := map[string]string{"GH_TOKEN": "ghp_x"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("got %v, want %v (by name and by value)", got, want)
	}
	if len(envs) != 3 {
		t.Fatal("the vault's map was modified")
	}
}

func TestContextArgs(t *testing.T) {
	if args := contextArgs(LoopContext{}); len(args) != 0 {
		t.Fatalf("no context: %v", args)
	}
	args := contextArgs(LoopContext{Instructions: " ## Context\n", Settings: map[string]any{"autoMemoryDirectory": "/m"}})
	if len(args) != 4 || args[0] != "--append-system-prompt" || args[1] != "## Context" || args[2] != "--settings" {
		t.Fatalf("args %q", args)
	}
	var s map[string]string
	if err := json.Unmarshal([]byte(args[3]), &s); err != nil || s["autoMemoryDirectory"] != "/m" {
		t.Fatalf("settings %q: %v", args[3], err)
	}
}

func TestComposeWarning(t *testing.T) {
	if got := composeWarning("", nil); got != "" {
		t.Fatalf("empty: %q", got)
	}
	got := composeWarning("mise.toml build failed", []string{"notes: fetch failed (x)", " "})
	if want := "mise.toml build failed; context notes: fetch failed (x)"; got != want {
		t.Fatalf("got %q want %q", got, want)
	}
}
