package account

import "context"

// HashPassword validates a new password of the user username against the policy and returns
// the hash of its prepared form, for callers that store it together with other changes (an
// administrator's update, a user's own change). Errors are those of ValidatePassword and the
// hasher.
func (s *Service) HashPassword(ctx context.Context, username, password string) (string, error) {
	prepared, err := s.ValidatePassword(username, password)
	if err != nil {
		return "", err
	}
	return s.hasher.Hash(ctx, prepared)
}
