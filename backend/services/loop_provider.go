package services

// SetProvider switches the loop to another configured provider and model ("" = the
// provider's default). The conversation goes on: the next message resumes the session
// through the new provider.
func (s *LoopService) SetProvider(id, provider, model string) error {
	return userError(s.m.SetProvider(id, provider, model))
}
