package account

import "context"

// HashPassword validates password against the policy and returns its hash, for callers that
// store it together with other changes (an administrator's update). Errors are those of
// ValidatePassword and the hasher.
func (s *Service) HashPassword(ctx context.Context, password string) (string, error) {
	normalized, err := s.ValidatePassword(password)
	if err != nil {
		return "", err
	}
	return s.hasher.Hash(ctx, normalized)
}
