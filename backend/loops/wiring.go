package loops

import (
	"context"
	"encoding/json"
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
