package loops

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/loopat/desktop/backend/config"
	"github.com/loopat/desktop/backend/vault"
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

// execEnv builds what an exec that may call the model gets. plain is the model route
// (ANTHROPIC_* and friends: the gateway's placeholder route when there is a gateway);
// env holds the vault's env secrets (with a gateway, without any configured
// provider's key; without one, the provider key is added here, as it is a secret) and
// files the vault's file secrets; neither holds a host credential. Every value is
// registered with the scrubber. With strict (the agent) a missing provider or key is
// an error; without (a terminal) the model route is just left out.
func (m *Manager) execEnv(id string, meta Meta, strict bool) (sandboxSecrets, error) {
	c := m.cfg()
	var prov *config.Provider
	for i := range c.Providers {
		if c.Providers[i].Name == meta.Provider {
			prov = &c.Providers[i]
		}
	}
	envs, files, err := m.vaultSecrets(meta.Vault)
	if err != nil {
		return sandboxSecrets{}, err
	}
	var out sandboxSecrets
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
	var directKey string
	if p == nil {
		route := ModelRoute{BaseURL: prov.BaseURL, APIKey: key}
		if m.opt.Gateway != nil {
			if route, err = m.opt.Gateway.Route(id, *prov, key); err != nil {
				p = &envProblem{fmt.Sprintf("Provider %q cannot be used: %v", prov.Name, err),
					"Fix the provider's base URL in Settings, then send the message again."}
			}
		}
		if p == nil {
			out.plain = []string{"ANTHROPIC_BASE_URL=" + route.BaseURL, "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1"}
			if m.opt.Gateway != nil {
				out.plain = append(out.plain, "ANTHROPIC_API_KEY="+route.APIKey) // the placeholder
			} else {
				directKey = route.APIKey
			}
		}
	}
	if p != nil {
		if strict {
			return sandboxSecrets{}, p
		}
		m.log.Info("terminal without a model route", "loop", id, "reason", p.msg)
	}
	if m.opt.Gateway != nil {
		// No provider key enters the sandbox, not even another provider's.
		for _, pv := range c.Providers {
			envs = sandboxEnvs(envs, pv.KeyRef, envs[pv.KeyRef])
		}
	}
	if directKey != "" {
		envs["ANTHROPIC_API_KEY"] = directKey
	}
	out.env, out.files = envs, files
	return out, nil
}

// vaultSecrets reads vaultName's env and file secrets without the host credentials
// (context remotes' token and key), registering every env value with the scrubber.
// When the host credentials cannot be listed nothing is returned: handing them to a
// sandbox by mistake cannot be undone.
func (m *Manager) vaultSecrets(vaultName string) (map[string]string, []vault.FileSecret, error) {
	envs := map[string]string{}
	var files []vault.FileSecret
	if m.opt.Secrets == nil {
		return envs, nil, nil
	}
	var err error
	if envs, err = m.opt.Secrets.Envs(vaultName); err != nil {
		return nil, nil, &envProblem{fmt.Sprintf("Could not read vault %q: %v", vaultName, err),
			"Unlock the system keychain, then try again."}
	}
	if envs == nil {
		envs = map[string]string{}
	}
	if fs, ok := m.opt.Secrets.(FileSecrets); ok {
		if files, err = fs.Files(vaultName); err != nil {
			return nil, nil, &envProblem{fmt.Sprintf("Could not read the file secrets of vault %q: %v", vaultName, err),
				"Unlock the system keychain, then try again."}
		}
	}
	if m.opt.Scrub != nil {
		for _, v := range envs {
			m.opt.Scrub.Add(v)
		}
	}
	if m.opt.HostCredentials == nil {
		return envs, files, nil
	}
	creds, err := m.opt.HostCredentials()
	if err != nil {
		return nil, nil, &envProblem{fmt.Sprintf("Could not tell which secrets of vault %q serve the context remotes: %v", vaultName, err),
			"Fix the context remotes in Settings › Context (LOOPAT_HOME/context/remotes.json), then try again."}
	}
	envs, files, withheld := vault.WithoutHostCredentials(vaultName, envs, files, creds)
	if len(withheld) > 0 {
		m.log.Debug("host credentials withheld from the sandbox", "vault", vaultName, "secrets", withheld)
	}
	return envs, files, nil
}
