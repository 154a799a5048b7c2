package services

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/loopat/desktop/backend/config"
	"github.com/loopat/desktop/backend/providers"
	"github.com/loopat/desktop/backend/rpc"
	"github.com/loopat/desktop/backend/vault"
)

// providerTestTimeout bounds one "test connection".
const providerTestTimeout = 20 * time.Second

// ProviderKeys is what ProviderService needs from the vault (*vault.Vault has it).
type ProviderKeys interface {
	providers.KeySource
	List(vault string) ([]vault.Item, error)
}

// ProviderInfo is one configured provider as the settings view shows it.
type ProviderInfo struct {
	Name         string   `json:"name"`
	BaseURL      string   `json:"baseURL"`
	Models       []string `json:"models"`
	KeyRef       string   `json:"keyRef"`
	HasKey       bool     `json:"hasKey"` // the key is in the vault's index (no keychain read)
	Default      bool     `json:"default"`
	DefaultModel string   `json:"defaultModel"`
}

// ProviderService lists the model providers and tests their connections.
type ProviderService struct {
	ctx      context.Context
	config   func() config.Config // the current config
	keys     ProviderKeys
	keyVault string // vault holding provider keys ("" = default)
	tester   providers.Tester
	file     ConfigFile // nil: the providers are read-only
	editMu   sync.Mutex // one read-edit-save of config.toml at a time
}

// ConfigFile reads and saves config.toml's text (*SystemService has it): a provider edit
// goes through the same validate-write-publish path as the Advanced editor.
type ConfigFile interface {
	Config() (ConfigView, error)
	SaveConfig(text, base string) (ConfigView, error)
}

// NewProviderService wires the config source and the vault holding provider keys.
// file saves provider edits (nil: List and Test only).
func NewProviderService(appCtx context.Context, cfg func() config.Config, keys ProviderKeys, keyVault string, file ConfigFile) *ProviderService {
	return &ProviderService{ctx: appCtx, config: cfg, keys: keys, keyVault: keyVault, file: file,
		tester: providers.Tester{Timeout: providerTestTimeout}}
}

// List returns the configured providers, the default first.
func (s *ProviderService) List() ([]ProviderInfo, error) {
	cfg := s.config()
	items, err := s.keys.List(s.keyVault)
	if err != nil {
		return nil, vaultError(err)
	}
	have := map[string]bool{}
	for _, it := range items {
		if it.Kind == vault.KindEnv {
			have[it.Name] = true
		}
	}
	out := []ProviderInfo{}
	for _, p := range cfg.Providers {
		info := ProviderInfo{Name: p.Name, BaseURL: p.BaseURL, Models: p.Models, KeyRef: p.KeyRef,
			HasKey: have[p.KeyRef], Default: p.Name == cfg.Agent.DefaultProvider, DefaultModel: providers.DefaultModel(cfg, p)}
		if info.Models == nil {
			info.Models = []string{}
		}
		if info.Default {
			out = append([]ProviderInfo{info}, out...)
		} else {
			out = append(out, info)
		}
	}
	return out, nil
}

// Test sends a one-token request to the provider ("" = default) with its real key and
// reports the outcome; a failure is a result with its class, not an error.
func (s *ProviderService) Test(name string) (providers.TestResult, error) {
	cfg := s.config()
	p, err := providers.Find(cfg, name)
	if err != nil {
		return providers.TestResult{}, rpc.NotFound(fmt.Sprintf("There is no provider named %q.", name),
			"Pick one from the list, or add it under [[providers]] in Settings → Advanced.", err)
	}
	r, err := providers.Resolve(cfg, s.keys, s.keyVault, p.Name)
	if err != nil {
		res := providers.TestResult{Provider: p.Name, URL: providers.MessagesURL(p.BaseURL), Model: r.Model,
			Class: providers.ClassNoKey, Message: err.Error()}
		var ke *vault.KeychainError
		switch {
		case errors.As(err, &ke):
			res.Class, res.Hint = providers.ClassKeychain, ke.Fix
		case errors.Is(err, vault.ErrNotFound):
			res.Hint = "store the key: Settings > Vault, or `loopat vault set " + p.KeyRef + "`"
		}
		return res, nil
	}
	ctx, cancel := context.WithTimeout(s.ctx, providerTestTimeout+time.Second)
	defer cancel()
	return s.tester.Test(ctx, r.Provider, r.Key, r.Model), nil
}
