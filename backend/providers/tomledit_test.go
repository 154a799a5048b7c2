package providers

import (
	"slices"
	"strings"
	"testing"

	"github.com/loopat/desktop/backend/config"
)

const userConfig = `# my workspace: keep this comment
[agent]
# which provider new loops use
default_provider = "anthropic" # inline note
default_model = "claude-sonnet-4-5"

# Anthropic-compatible model providers.
[[providers]]
# the real one
name = "anthropic"
base_url = "https://api.anthropic.com" # official
models = [
  "claude-sonnet-4-5", # fast
  "claude-opus-4-1",
]
key = "ANTHROPIC_API_KEY"

# the office proxy, see wiki
[[providers]]
name = "office"
base_url = "http://proxy.local:8080"
models = ["m1"]
key = "OFFICE_KEY"

# UI stuff
[ui]
theme = "dark"
`

func mustParse(t *testing.T, text string) config.Config {
	t.Helper()
	cfg, err := config.Parse("config.toml", []byte(text))
	if err != nil {
		t.Fatalf("edited config does not parse: %v\n%s", err, text)
	}
	return cfg
}

// Every comment of the original that is not on a rewritten line is still there.
func keepsComments(t *testing.T, before, after string, except ...string) {
	t.Helper()
	for _, l := range strings.Split(before, "\n") {
		if i := strings.Index(l, "#"); i >= 0 && !slices.ContainsFunc(except, func(e string) bool { return strings.Contains(l, e) }) {
			if c := strings.TrimSpace(l[i:]); !strings.Contains(after, c) {
				t.Errorf("comment %q lost:\n%s", c, after)
			}
		}
	}
}

func TestUpsertEditsOneTableInPlaceKeepingComments(t *testing.T) {
	p := config.Provider{Name: "office", BaseURL: "https://gw.example/v", Models: []string{"a", `we"ird\`}, KeyRef: "OFFICE_KEY2"}
	out, err := UpsertProvider(userConfig, "office", p)
	if err != nil {
		t.Fatal(err)
	}
	cfg := mustParse(t, out)
	if got := cfg.Providers[1]; !slices.Equal(got.Models, p.Models) || got.BaseURL != p.BaseURL || got.KeyRef != p.KeyRef {
		t.Fatalf("office = %+v, want %+v", got, p)
	}
	if cfg.Providers[0].BaseURL != "https://api.anthropic.com" || len(cfg.Providers[0].Models) != 2 || cfg.UI.Theme != "dark" {
		t.Fatalf("other settings changed: %+v", cfg)
	}
	keepsComments(t, userConfig, out)
	// Only the office table's lines changed.
	if !strings.HasPrefix(out, userConfig[:strings.Index(userConfig, `name = "office"`)]) ||
		!strings.HasSuffix(out, "\n# UI stuff\n[ui]\ntheme = \"dark\"\n") {
		t.Fatalf("lines outside the table changed:\n%s", out)
	}
}

func TestUpsertRewritesAMultiLineArrayAndKeepsItsInlineComment(t *testing.T) {
	p := config.Provider{Name: "anthropic", BaseURL: "https://api.anthropic.com", Models: []string{"x"}, KeyRef: "ANTHROPIC_API_KEY"}
	out, err := UpsertProvider(userConfig, "anthropic", p)
	if err != nil {
		t.Fatal(err)
	}
	if cfg := mustParse(t, out); !slices.Equal(cfg.Providers[0].Models, []string{"x"}) || len(cfg.Providers) != 2 {
		t.Fatalf("providers = %+v", cfg.Providers)
	}
	// The comments inside the replaced array go with it; the rest stay.
	keepsComments(t, userConfig, out, "# fast")
	if !strings.Contains(out, `base_url = "https://api.anthropic.com" # official`) {
		t.Fatalf("inline comment after a rewritten value lost:\n%s", out)
	}
}

func TestRenameFollowsTheDefault(t *testing.T) {
	p := config.Provider{Name: "claude", BaseURL: "https://api.anthropic.com", Models: []string{"m"}, KeyRef: "ANTHROPIC_API_KEY"}
	out, err := UpsertProvider(userConfig, "anthropic", p)
	if err != nil {
		t.Fatal(err)
	}
	cfg := mustParse(t, out)
	if cfg.Agent.DefaultProvider != "claude" || cfg.Providers[0].Name != "claude" {
		t.Fatalf("rename: default %q, providers %+v", cfg.Agent.DefaultProvider, cfg.Providers)
	}
	if !strings.Contains(out, `default_provider = "claude" # inline note`) {
		t.Fatalf("default_provider line:\n%s", out)
	}
	if _, err := UpsertProvider(userConfig, "anthropic", config.Provider{Name: "office", BaseURL: "http://x"}); err == nil {
		t.Fatal("renaming onto an existing provider was accepted")
	}
}

func TestAddRemoveAndDefault(t *testing.T) {
	p := config.Provider{Name: "local", BaseURL: "http://127.0.0.1:4000", Models: []string{"llama"}, KeyRef: "LOCAL_KEY"}
	out, err := UpsertProvider(userConfig, "", p)
	if err != nil {
		t.Fatal(err)
	}
	cfg := mustParse(t, out)
	if len(cfg.Providers) != 3 || cfg.Providers[2].Name != "local" {
		t.Fatalf("add: %+v", cfg.Providers)
	}
	keepsComments(t, userConfig, out)
	if strings.Index(out, `name = "local"`) > strings.Index(out, "[ui]") {
		t.Fatalf("the new table is not next to the other providers:\n%s", out)
	}
	out, err = SetDefaultProvider(out, "local")
	if err != nil {
		t.Fatal(err)
	}
	if cfg := mustParse(t, out); cfg.Agent.DefaultProvider != "local" {
		t.Fatalf("default = %q", cfg.Agent.DefaultProvider)
	}
	if _, err := RemoveProvider(out, "local"); err == nil || !strings.Contains(err.Error(), "default") {
		t.Fatalf("removing the default: %v", err)
	}
	out, err = RemoveProvider(out, "office")
	if err != nil {
		t.Fatal(err)
	}
	cfg = mustParse(t, out)
	if len(cfg.Providers) != 2 || cfg.Providers[0].Name != "anthropic" || cfg.Providers[1].Name != "local" {
		t.Fatalf("remove: %+v", cfg.Providers)
	}
	if strings.Contains(out, "proxy.local") {
		t.Fatalf("office's lines remain:\n%s", out)
	}
	// The comment right above the removed table described it and goes with it; the rest stay.
	keepsComments(t, userConfig, out, "office proxy")
	if strings.Contains(out, "office proxy") {
		t.Fatalf("the removed table's comment remains:\n%s", out)
	}
}

func TestFileWithoutProvidersKeepsTheBuiltInOneWhenAdding(t *testing.T) {
	text := "# only a comment\n[ui]\ntheme = \"light\"\n"
	out, err := UpsertProvider(text, "", config.Provider{Name: "mock", BaseURL: "http://127.0.0.1:9", KeyRef: "MOCK_KEY"})
	if err != nil {
		t.Fatal(err)
	}
	cfg := mustParse(t, out)
	if len(cfg.Providers) != 2 || cfg.Providers[0].Name != "anthropic" || cfg.Providers[1].Name != "mock" {
		t.Fatalf("providers = %+v\n%s", cfg.Providers, out)
	}
	if !strings.HasPrefix(out, text) || !strings.HasSuffix(out, "\n") {
		t.Fatalf("original text moved:\n%s", out)
	}
}

func TestUnsafeLayoutsAndBadInputAreRefused(t *testing.T) {
	inline := "providers = [{name = \"a\", base_url = \"http://a\", key = \"K\"}]\n[agent]\ndefault_provider = \"a\"\n"
	if _, err := UpsertProvider(inline, "a", config.Provider{Name: "a", BaseURL: "http://b", KeyRef: "K"}); err == nil {
		t.Fatal("an inline-table layout was edited")
	}
	for _, p := range []config.Provider{
		{Name: "", BaseURL: "http://a"},
		{Name: "a]\n[x", BaseURL: "http://a"},
		{Name: "a", BaseURL: "ftp://a"},
		{Name: "a", BaseURL: "http://a\"\nx=1"},
		{Name: "a", BaseURL: "http://a", KeyRef: "BAD KEY"},
		{Name: "a", BaseURL: "http://a", Models: []string{"m\n[ui]"}},
	} {
		if _, err := UpsertProvider(userConfig, "", p); err == nil {
			t.Errorf("accepted %+v", p)
		}
	}
	if _, err := UpsertProvider("[agent\n", "", config.Provider{Name: "a", BaseURL: "http://a"}); err == nil {
		t.Fatal("edited a config that does not parse")
	}
}
