// Package loops owns the loop model (LOOPAT_HOME/loops/<id>/), the sandbox container of
// each loop and the Manager that drives its agent.
package loops

import (
	"encoding/json"
	"fmt"
	"github.com/loopat/desktop/backend/agent"
	"github.com/loopat/desktop/backend/safefs"
	"os"
	"path/filepath"
	"time"
)

// Loop statuses as shown by the UI.
const (
	StatusIdle     = "idle"
	StatusStarting = "starting"
	StatusWorking  = "working"
	StatusWaiting  = "waiting"
	StatusError    = "error"
	StatusStopped  = "stopped"
)

// Meta is meta.json of one loop. Field names are the UI contract.
type Meta struct {
	ID             string    `json:"id"`
	Title          string    `json:"title"`
	Created        time.Time `json:"created"`
	Status         string    `json:"status"`
	Archived       bool      `json:"archived"`
	Repo           string    `json:"repo"`
	Branch         string    `json:"branch"`
	Vault          string    `json:"vault"`
	Provider       string    `json:"provider"`
	Model          string    `json:"model"`
	PermissionMode string    `json:"permissionMode"`
	SessionID      string    `json:"sessionId"`
	Warning        string    `json:"warning"` // image and context warnings, for the UI
	// ContextWarnings are what preparing the context repositories reported (part of Warning).
	ContextWarnings []string  `json:"contextWarnings,omitempty"`
	Usage           LoopUsage `json:"usage"`
	// PermissionRules are the loop's "allow always" rules (permission_rules.go).
	PermissionRules []string `json:"permissionRules,omitempty"`
	// Warm marks a loop prepared ahead and not yet handed out (warm.go): no user loop.
	Warm bool `json:"warm,omitempty"`
}

// LoopUsage is the loop's token count per model, summed over turns.
type LoopUsage struct {
	ByModel map[string]ModelUsage `json:"byModel"`
}

// ModelUsage is one model's tokens in a loop.
type ModelUsage struct {
	Input      int64   `json:"input"`
	Output     int64   `json:"output"`
	CacheRead  int64   `json:"cacheRead"`
	CacheWrite int64   `json:"cacheWrite"`
	CostUSD    float64 `json:"costUSD"`
}

// Add books one turn's usage as the CLI reports it.
func (u *LoopUsage) Add(byModel map[string]agent.Usage) {
	if u.ByModel == nil {
		u.ByModel = map[string]ModelUsage{}
	}
	for model, a := range byModel {
		m := u.ByModel[model]
		m.Input += a.InputTokens
		m.Output += a.OutputTokens
		m.CacheRead += a.CacheReadInputTokens
		m.CacheWrite += a.CacheCreationInputTokens
		m.CostUSD += a.CostUSD
		u.ByModel[model] = m
	}
}

// readMeta loads dir/meta.json.
func readMeta(dir string) (Meta, error) {
	data, err := os.ReadFile(filepath.Join(dir, "meta.json"))
	if err != nil {
		return Meta{}, fmt.Errorf("read loop meta: %w", err)
	}
	var m Meta
	if err := json.Unmarshal(data, &m); err != nil {
		return Meta{}, fmt.Errorf("parse %s: %w", filepath.Join(dir, "meta.json"), err)
	}
	if m.Usage.ByModel == nil {
		m.Usage.ByModel = map[string]ModelUsage{}
	}
	return m, nil
}

// writeMeta replaces dir/meta.json atomically (temp file, fsync, rename) so a crash
// leaves either the old or the new file, never a torn one.
func writeMeta(dir string, m Meta) error {
	data, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return fmt.Errorf("encode loop meta: %w", err)
	}
	if err := safefs.WriteFileAtomic(filepath.Join(dir, "meta.json"), append(data, '\n'), 0o600); err != nil {
		return fmt.Errorf("write loop meta: %w", err)
	}
	return nil
}
