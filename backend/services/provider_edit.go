package services

import (
	"errors"

	"github.com/loopat/desktop/backend/config"
	"github.com/loopat/desktop/backend/providers"
	"github.com/loopat/desktop/backend/rpc"
)

// Save adds a provider (original "") or replaces the one called original (a rename
// follows [agent].default_provider). Only that [[providers]] table's lines of
// config.toml change; the user's comments stay. The key itself goes to the vault
// (VaultService.SetEnv), never into config.toml: p.KeyRef only names it.
func (s *ProviderService) Save(original string, p config.Provider) ([]ProviderInfo, error) {
	return s.edit(func(text string) (string, error) { return providers.UpsertProvider(text, original, p) })
}

// Remove deletes the provider's table. The default provider cannot be removed.
func (s *ProviderService) Remove(name string) ([]ProviderInfo, error) {
	return s.edit(func(text string) (string, error) { return providers.RemoveProvider(text, name) })
}

// SetDefault makes name the provider new loops use.
func (s *ProviderService) SetDefault(name string) ([]ProviderInfo, error) {
	return s.edit(func(text string) (string, error) { return providers.SetDefaultProvider(text, name) })
}

// edit applies change to config.toml's text and saves it through the config file's
// validating save, which publishes the new config at once. The save names the revision
// it read, so a save of the Advanced editor in between is never overwritten.
func (s *ProviderService) edit(change func(text string) (string, error)) ([]ProviderInfo, error) {
	if s.file == nil {
		return nil, errors.New("providers are read-only here")
	}
	s.editMu.Lock()
	defer s.editMu.Unlock()
	view, err := s.file.Config()
	if err != nil {
		return nil, err
	}
	if view.Error != nil {
		return nil, rpc.Invalid("config.toml has an error: "+view.Error.Error(),
			"Fix it in Settings → General → Advanced, then edit providers here.", view.Error)
	}
	text, err := change(view.Text)
	if err != nil {
		return nil, rpc.Invalid(err.Error(), "Nothing was saved.", err)
	}
	saved, err := s.file.SaveConfig(text, view.Revision)
	if err != nil {
		return nil, err
	}
	if saved.Error != nil {
		return nil, rpc.Invalid("the edited config is invalid: "+saved.Error.Error(), "Nothing was saved.", saved.Error)
	}
	return s.List()
}
