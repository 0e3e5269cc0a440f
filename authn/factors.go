package authn

import (
	"context"
	"encoding/base64"
	"encoding/json"

	"github.com/gatehouse-auth/gatehouse"
	"github.com/gatehouse-auth/gatehouse/mfa"
)

// A user's own second factors: enrol, list, remove, regenerate recovery codes; and an
// administrator's reset. Every change is audited.

func (s *Service) mfaService() (*mfa.Service, error) {
	if s.d.MFA == nil {
		return nil, ErrMFADisabled
	}
	return s.d.MFA, nil
}

// Factors returns what the user has enrolled.
func (s *Service) Factors(ctx context.Context, userID string) (*mfa.Summary, error) {
	m, err := s.mfaService()
	if err != nil {
		return nil, err
	}
	return m.Factors(ctx, userID)
}

// BeginTOTP starts a TOTP enrolment for the user (see mfa.Service.BeginTOTP).
func (s *Service) BeginTOTP(ctx context.Context, who gatehouse.Principal) (*mfa.TOTPEnrolment, error) {
	m, err := s.mfaService()
	if err != nil {
		return nil, err
	}
	u, err := s.d.Users.UserByID(ctx, who.UserID)
	if err != nil {
		return nil, err
	}
	return m.BeginTOTP(ctx, u)
}

// ConfirmTOTP confirms the user's pending TOTP enrolment with a first code, under the second
// factor's throttle, and returns the new recovery codes (none when the user had some left).
func (s *Service) ConfirmTOTP(ctx context.Context, who gatehouse.Principal, code string, c Client) ([]string, error) {
	m, err := s.mfaService()
	if err != nil {
		return nil, err
	}
	key := "mfa:user:" + who.UserID
	if wait, err := s.admit(ctx, gatehouse.Limit{Key: key, Backoff: s.limits.SecondFactor}); err != nil || wait > 0 {
		if err == nil {
			err = Throttled(wait)
		}
		return nil, err
	}
	codes, err := m.ConfirmTOTP(ctx, who.UserID, code)
	s.settleSecondFactor(ctx, key, err)
	switch {
	case err == nil:
		s.auditFactor(ctx, c, gatehouse.AuditFactorAdded, who.UserID, gatehouse.FactorTOTP, "", nil)
	case gatehouse.ErrorCode(err) == gatehouse.EINVALIDCREDENTIALS:
		// A wrong first code is a guess at a code like a wrong second step: on the record.
		s.auditFactor(ctx, c, gatehouse.AuditFactorAdded, who.UserID, gatehouse.FactorTOTP, auditDetail(err), err)
	}
	return codes, err
}

// RemoveTOTP removes the user's TOTP factor. The user proves it is them with the account's
// password or a current code (a stolen session alone does not remove a factor); either is
// checked under its throttle. Errors: bad_request when neither is given, invalid_credentials
// for a wrong one, mfa.ErrNoFactor, ErrLastFactor when the user's role requires a factor and
// this is the last.
func (s *Service) RemoveTOTP(ctx context.Context, who gatehouse.Principal, password, code string, c Client) error {
	m, err := s.mfaService()
	if err != nil {
		return err
	}
	if err := s.checkRemoval(ctx, who, m); err != nil {
		return err
	}
	if err := s.reauthenticate(ctx, who, password, code, c); err != nil {
		return err
	}
	err = m.RemoveTOTP(ctx, who.UserID)
	if err == nil {
		s.auditFactor(ctx, c, gatehouse.AuditFactorRemoved, who.UserID, gatehouse.FactorTOTP, "", nil)
	}
	return err
}

// reauthenticate checks the user's password (as a password check: login throttles, audit) or
// a current TOTP code (under the second factor's throttle).
func (s *Service) reauthenticate(ctx context.Context, who gatehouse.Principal, password, code string, c Client) error {
	switch {
	case password != "":
		_, err := s.checkPassword(ctx, c, passwordCheck{username: who.Username, password: password,
			action: gatehouse.AuditFactorRemoved, what: "password"})
		if gatehouse.ErrorCode(err) == gatehouse.EINVALIDCREDENTIALS {
			// The caller is authenticated: a 401 would say the session or token is the problem.
			return badRequest("password: is not correct")
		}
		return err
	case code != "":
		key := "mfa:user:" + who.UserID
		if wait, err := s.admit(ctx, gatehouse.Limit{Key: key, Backoff: s.limits.SecondFactor}); err != nil || wait > 0 {
			if err == nil {
				err = Throttled(wait)
			}
			return err
		}
		err := s.d.MFA.VerifyTOTP(ctx, who.UserID, code)
		s.settleSecondFactor(ctx, key, err)
		return err
	}
	return badRequest("password or code: one is required to remove a factor")
}

// RegenerateRecoveryCodes gives the user ten new recovery codes and voids the old ones.
func (s *Service) RegenerateRecoveryCodes(ctx context.Context, who gatehouse.Principal, c Client) ([]string, error) {
	m, err := s.mfaService()
	if err != nil {
		return nil, err
	}
	codes, err := m.RegenerateRecoveryCodes(ctx, who.UserID)
	if err == nil {
		s.auditFactor(ctx, c, gatehouse.AuditRecoveryCodes, who.UserID, gatehouse.FactorRecoveryCode, "regenerated", nil)
	}
	return codes, err
}

// BeginWebAuthnRegistration starts registering a security key or passkey for the user.
func (s *Service) BeginWebAuthnRegistration(ctx context.Context, who gatehouse.Principal) (*mfa.Registration, error) {
	m, err := s.mfaService()
	if err != nil {
		return nil, err
	}
	u, err := s.d.Users.UserByID(ctx, who.UserID)
	if err != nil {
		return nil, err
	}
	return m.BeginWebAuthnRegistration(ctx, u)
}

// FinishWebAuthnRegistration stores the credential the browser made; it returns the new
// recovery codes when it is the user's first factor.
func (s *Service) FinishWebAuthnRegistration(ctx context.Context, who gatehouse.Principal, token, name string, response json.RawMessage, c Client) (*gatehouse.WebAuthnCredential, []string, error) {
	m, err := s.mfaService()
	if err != nil {
		return nil, nil, err
	}
	cred, codes, err := m.FinishWebAuthnRegistration(ctx, who.UserID, token, name, response)
	if err == nil {
		s.auditFactor(ctx, c, gatehouse.AuditFactorAdded, who.UserID, gatehouse.FactorWebAuthn, cred.Name, nil)
	}
	return cred, codes, err
}

// CredentialID decodes the id of a WebAuthn credential as the API shows it (base64url).
func CredentialID(s string) ([]byte, bool) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	return b, err == nil && len(b) > 0 && len(b) <= 1023
}

// RemoveWebAuthnCredential removes one of the user's WebAuthn credentials; ErrLastFactor when
// the user's role requires a factor and it is the last.
func (s *Service) RemoveWebAuthnCredential(ctx context.Context, who gatehouse.Principal, id []byte, c Client) error {
	m, err := s.mfaService()
	if err != nil {
		return err
	}
	if err := s.checkRemoval(ctx, who, m); err != nil {
		return err
	}
	err = m.RemoveWebAuthnCredential(ctx, who.UserID, id)
	if err == nil {
		s.auditFactor(ctx, c, gatehouse.AuditFactorRemoved, who.UserID, gatehouse.FactorWebAuthn, "", nil)
	}
	return err
}

// ResetFactors removes every factor of a user (an administrator's reset, for a user who lost
// them), then signs the user out everywhere: whoever held the factors holds no credential.
func (s *Service) ResetFactors(ctx context.Context, actor, userID string, c Client) error {
	m, err := s.mfaService()
	if err != nil {
		return err
	}
	if _, err := s.d.Users.UserByID(ctx, userID); err != nil {
		return notFoundAs(err, ErrUserNotFound)
	}
	if err := s.RevokeEverywhere(ctx, userID); err != nil {
		return err
	}
	if err := m.RemoveAll(ctx, userID); err != nil {
		return err
	}
	s.Audit(ctx, c, gatehouse.AuditEvent{Action: gatehouse.AuditFactorsReset, Outcome: gatehouse.AuditSuccess,
		UserID: userID, ActorID: actor})
	return nil
}

// BeginPasskeyLogin starts a sign-in with a passkey and no username.
func (s *Service) BeginPasskeyLogin(ctx context.Context, mode string) (*mfa.PasskeyRequest, error) {
	m, err := s.mfaService()
	if err != nil {
		return nil, err
	}
	if mode != gatehouse.AuthSession && mode != gatehouse.AuthToken {
		return nil, badRequest(`mode: must be "session" or "token"`)
	}
	return m.BeginPasskeyLogin(ctx, mode)
}

// FinishPasskeyLogin verifies the browser's answer and makes the credential of the mode
// BeginPasskeyLogin was given. Failures are counted per address like failed credentials
// (the passkey names its user only once it verifies).
func (s *Service) FinishPasskeyLogin(ctx context.Context, token string, response json.RawMessage, c Client) (LoginResult, error) {
	m, err := s.mfaService()
	if err != nil {
		return LoginResult{}, err
	}
	passed, err := m.FinishPasskeyLogin(ctx, token, response)
	if err != nil {
		if gatehouse.ErrorCode(err) == gatehouse.EINVALIDCREDENTIALS {
			s.Audit(ctx, c, gatehouse.AuditEvent{Action: gatehouse.AuditSecondFactor, Outcome: gatehouse.AuditFailure,
				Detail: "passkey: " + gatehouse.EINVALIDCREDENTIALS})
		}
		return LoginResult{}, err
	}
	s.auditFactor(ctx, c, gatehouse.AuditSecondFactor, passed.UserID, "passkey", "", nil)
	return s.completePassed(ctx, passed, c)
}
