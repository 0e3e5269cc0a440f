package authn

import (
	"context"

	"github.com/gatehouse-auth/gatehouse"
	"github.com/gatehouse-auth/gatehouse/mfa"
)

// Reauthenticate checks that the holder of a session is the user before a change that a stolen
// session alone must not make (such as removing a security key): the account's password
// (checked like a password login: throttles, audit trail) or a current authenticator-app code
// (under the second factor's throttle). Errors: bad_request when neither is given or the
// password is wrong, invalid_credentials for a wrong code, a ThrottledError.
func (s *Service) Reauthenticate(ctx context.Context, who gatehouse.Principal, password, code string, c Client) error {
	if _, err := s.mfaService(); err != nil && password == "" {
		return err
	}
	return s.reauthenticate(ctx, who, password, code, c)
}

// WebAuthnEnabled reports whether the server offers security keys and passkeys.
func (s *Service) WebAuthnEnabled() bool { return s.d.MFA != nil && s.d.MFA.WebAuthnEnabled() }

// PendingSecondFactor returns the second step that the mfa_token token still waits for (see
// mfa.Service.PendingSecondStep), for a form to ask again after a wrong answer. Errors:
// ErrMFADisabled, mfa.ErrInvalidChallenge.
func (s *Service) PendingSecondFactor(ctx context.Context, token string) (*mfa.Pending, error) {
	m, err := s.mfaService()
	if err != nil {
		return nil, err
	}
	return m.PendingSecondStep(ctx, token)
}
