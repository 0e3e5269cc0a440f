package authn

import (
	"context"
	"slices"

	"github.com/gatehouse-auth/gatehouse"
	"github.com/gatehouse-auth/gatehouse/mfa"
)

// The second-factor policy (Config.RequireMFARoles): a user of a listed role signs in only
// with a second factor. At sign-in, a user without one gets an enrolment step instead of a
// credential (StepEnrolFactor); every session and token of such a user whose sign-in used one
// factor only is refused (ErrMFARequired), so that a credential made before the policy stops
// working too; and the last factor of such a user cannot be removed (ErrLastFactor).

var (
	// ErrMFARequired refuses a credential of a user whose role requires a second factor when
	// its sign-in used only one: the user must sign in again (and enrol first if needed).
	ErrMFARequired = gatehouse.Errorf(gatehouse.EINSUFFICIENTAUTH, "your role requires a sign-in with a second factor: sign in again")
	// ErrLastFactor refuses to remove the last second factor of a user whose role requires one.
	ErrLastFactor = gatehouse.Errorf(gatehouse.ECONFLICT, "your role requires a second factor: add another one before removing this one")
)

// StepEnrolFactor: the password was right, but the user's role requires a second factor and
// the user has none. The result carries SecondFactor (the mfa_token and the methods that may
// be enrolled) and no credential; BeginEnrolmentTOTP and ConfirmEnrolmentTOTP finish the
// sign-in.
const StepEnrolFactor = StepSecondFactor + 1

// mfaRequired reports whether the role requires a second factor.
func (s *Service) mfaRequired(r gatehouse.Role) bool {
	return len(s.mfaRoles) > 0 && slices.Contains(s.mfaRoles, r)
}

// checkAssurance refuses a, a credential of a user whose role requires a second factor, when
// its sign-in used fewer than two factors. Without the policy it costs one length check.
func (s *Service) checkAssurance(a *gatehouse.Auth) error {
	if s.mfaRequired(a.Role) && !a.AMR().MultiFactor() {
		return ErrMFARequired
	}
	return nil
}

// startEnrolment answers the password step of a user who must enrol: the enrolment step.
func (s *Service) startEnrolment(ctx context.Context, u *gatehouse.User, mode string) (LoginResult, error) {
	p, err := s.d.MFA.StartEnrolmentStep(ctx, u.ID, mode, []string{gatehouse.AMRPassword})
	if err != nil {
		return LoginResult{}, err
	}
	return LoginResult{Step: StepEnrolFactor, User: u, SecondFactor: p}, nil
}

// BeginEnrolmentTOTP starts the authenticator-app enrolment of the sign-in waiting on the
// enrolment token (mfa_token): the secret and its otpauth:// URI. Errors:
// mfa.ErrInvalidChallenge for a token that is unknown, expired, used or of another step.
func (s *Service) BeginEnrolmentTOTP(ctx context.Context, token string) (*mfa.TOTPEnrolment, error) {
	m, err := s.mfaService()
	if err != nil {
		return nil, err
	}
	uid, err := m.EnrolmentStepUser(ctx, token)
	if err != nil {
		return nil, err
	}
	return s.BeginTOTP(ctx, gatehouse.Principal{UserID: uid})
}

// ConfirmEnrolmentTOTP confirms the enrolment with a first code (under the second factor's
// throttle, audited as factor_added), then completes the sign-in with the credential the
// password step asked for, whose methods are the password and the code. It returns the new
// recovery codes with the result. Errors: those of ConfirmTOTP, mfa.ErrInvalidChallenge, and
// those of a completed second step (disabled account, unverified address).
func (s *Service) ConfirmEnrolmentTOTP(ctx context.Context, token, code string, c Client) (LoginResult, []string, error) {
	m, err := s.mfaService()
	if err != nil {
		return LoginResult{}, nil, err
	}
	uid, err := m.EnrolmentStepUser(ctx, token)
	if err != nil {
		return LoginResult{}, nil, err
	}
	codes, err := s.ConfirmTOTP(ctx, gatehouse.Principal{UserID: uid}, code, c)
	if err != nil {
		return LoginResult{}, nil, err
	}
	passed, err := m.FinishEnrolmentStep(ctx, token, gatehouse.FactorTOTP)
	if err != nil {
		return LoginResult{}, nil, err
	}
	s.auditFactor(ctx, c, gatehouse.AuditSecondFactor, uid, gatehouse.FactorTOTP, "enrolled at sign-in", nil)
	res, err := s.completePassed(ctx, passed, c)
	return res, codes, err
}

// checkRemoval refuses to remove a factor of who, whose role requires one, when it is the
// last: removing says how many factors the removal takes away (1).
func (s *Service) checkRemoval(ctx context.Context, who gatehouse.Principal, m *mfa.Service) error {
	if !s.mfaRequired(who.Role) {
		return nil
	}
	sum, err := m.Factors(ctx, who.UserID)
	if err != nil {
		return err
	}
	n := len(sum.WebAuthn)
	if sum.TOTP {
		n++
	}
	if n <= 1 {
		return ErrLastFactor
	}
	return nil
}
