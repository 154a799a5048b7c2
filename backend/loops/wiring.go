package loops

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	"github.com/loopat/desktop/backend/config"
)

// ModelRoute is how the agent reaches its model: the base URL and API key it is given.
type ModelRoute struct {
	BaseURL string
	APIKey  string
}

// Gateway keeps a provider's real key out of the sandbox: the host serves the loop's
// model traffic (over the loop's link) and the agent only holds a placeholder.
type Gateway interface {
	// Route sends loopID's model requests to p with key and returns what the agent
	// gets instead (e.g. http://127.0.0.1:4141 and a placeholder key).
	Route(loopID string, p config.Provider, key string) (ModelRoute, error)
	// Forget drops a deleted loop's route (and the key it held).
	Forget(loopID string)
}

// LoopContext is what a loop gets from the workspace's context repositories.
type LoopContext struct {
	Mounts   []Mount
	Warnings []string // shown on the loop (e.g. a failed fetch at creation)
	// Instructions are appended to the agent's system prompt (--append-system-prompt).
	Instructions string
	// Settings are extra Claude Code settings (--settings), e.g. autoMemoryDirectory.
	Settings map[string]any
}

// ContextFunc prepares a loop's context: at creation it pulls, later calls are cheap
// and return the same mounts.
type ContextFunc func(ctx context.Context, loopID string) (LoopContext, error)

// Scrubber masks secret values (secrets.Scrubber implements it). Every value the
// manager hands to a sandbox is registered, and transcript lines are masked.
type Scrubber interface {
	Add(values ...string)
	Bytes(in []byte) []byte
}

// sandboxEnvs is the vault's env secrets without the provider's key (by name, or by
// value under another name): the agent reaches the model through the gateway.
func sandboxEnvs(envs map[string]string, keyRef, key string) map[string]string {
	out := make(map[string]string, len(envs))
	for k, v := range envs {
		if k == keyRef || (key != "" && v == key) {
			continue
		}
		out[k] = v
	}
	return out
}

// contextArgs are the CLI flags carrying a loop's context instructions and settings.
func contextArgs(lc LoopContext) []string {
	var args []string
	if s := strings.TrimSpace(lc.Instructions); s != "" {
		args = append(args, "--append-system-prompt", s)
	}
	if len(lc.Settings) > 0 {
		if b, err := json.Marshal(lc.Settings); err == nil {
			args = append(args, "--settings", string(b))
		}
	}
	return args
}

// composeWarning is meta.warning: the image warning and the context warnings.
func composeWarning(image string, contextWarnings []string) string {
	parts := make([]string, 0, 1+len(contextWarnings))
	if image = strings.TrimSpace(image); image != "" {
		parts = append(parts, image)
	}
	for _, w := range contextWarnings {
		if w = strings.TrimSpace(w); w != "" {
			parts = append(parts, "context "+w)
		}
	}
	return strings.Join(parts, "; ")
}

// envProblem is why a loop's exec environment cannot be built, with a hint for the user.
type envProblem struct{ msg, hint string }

func (p *envProblem) Error() string { return p.msg }

// execEnv builds what an exec that may call the model gets: modelEnv (ANTHROPIC_* and
// friends: the gateway's placeholder route when there is a gateway) and secretEnv (the
// vault's env secrets, sorted; with a gateway, without any configured provider's key). Every value is registered with the scrubber. With strict (the agent) a
// missing provider or key is an error; without (a terminal) modelEnv is just empty.
func (m *Manager) execEnv(id string, meta Meta, strict bool) (modelEnv, secretEnv []string, err error) {
	c := m.cfg()
	var prov *config.Provider
	for i := range c.Providers {
		if c.Providers[i].Name == meta.Provider {
			prov = &c.Providers[i]
		}
	}
	envs := map[string]string{}
	if m.opt.Secrets != nil {
		if envs, err = m.opt.Secrets.Envs(meta.Vault); err != nil {
			return nil, nil, &envProblem{fmt.Sprintf("Could not read vault %q: %v", meta.Vault, err),
				"Unlock the system keychain, then try again."}
		}
	}
	if m.opt.Scrub != nil {
		for _, v := range envs {
			m.opt.Scrub.Add(v)
		}
	}
	var p *envProblem
	key := ""
	switch {
	case prov == nil:
		p = &envProblem{fmt.Sprintf("Provider %q is not configured", meta.Provider),
			"Add it under [[providers]] in Settings or pick another provider for this loop."}
	default:
		if key = envs[prov.KeyRef]; key == "" {
			p = &envProblem{fmt.Sprintf("No API key for provider %q: secret %s is not in vault %q", prov.Name, prov.KeyRef, meta.Vault),
				fmt.Sprintf("Add the secret %s to vault %q in Settings › Vault, then send the message again.", prov.KeyRef, meta.Vault)}
		}
	}
	if p == nil {
		route := ModelRoute{BaseURL: prov.BaseURL, APIKey: key}
		if m.opt.Gateway != nil {
			if route, err = m.opt.Gateway.Route(id, *prov, key); err != nil {
				p = &envProblem{fmt.Sprintf("Provider %q cannot be used: %v", prov.Name, err),
					"Fix the provider's base URL in Settings, then send the message again."}
			}
		}
		if p == nil {
			modelEnv = []string{"ANTHROPIC_BASE_URL=" + route.BaseURL, "ANTHROPIC_API_KEY=" + route.APIKey,
				"CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1"}
		}
	}
	if p != nil {
		if strict {
			return nil, nil, p
		}
		m.log.Info("terminal without a model route", "loop", id, "reason", p.msg)
	}
	if m.opt.Gateway != nil {
		// No provider key enters the sandbox, not even another provider's.
		for _, pv := range c.Providers {
			envs = sandboxEnvs(envs, pv.KeyRef, envs[pv.KeyRef])
		}
	}
	names := make([]string, 0, len(envs))
	for k := range envs {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		secretEnv = append(secretEnv, k+"="+envs[k])
	}
	return modelEnv, secretEnv, nil
}
