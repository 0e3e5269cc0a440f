package authn

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/gatehouse-auth/gatehouse"
	"github.com/gatehouse-auth/gatehouse/mfa"
)

// Second factors: the second step of a login, and a user's own management of their factors.
// The rules (codes used once, ceremonies, tokens) live in package mfa; this file adds what a
// use case adds: throttling, the audit trail, and the credential at the end.

var (
	// ErrMFADisabled answers a second-factor request to a server without second factors.
	ErrMFADisabled = gatehouse.Errorf(gatehouse.ENOTFOUND, "second factors are not enabled on this server")
	// ErrAccountDisabled answers a second step for an account disabled since its password step.
	ErrAccountDisabled = gatehouse.Errorf(gatehouse.EFORBIDDEN, "the account is disabled")
)

// startSecondFactor answers a login whose password was right: when u has a second factor, a
// pending second step (and pending=true), otherwise nothing (the login goes on).
func (s *Service) startSecondFactor(ctx context.Context, u *gatehouse.User, mode string) (LoginResult, bool, error) {
	if s.d.MFA == nil {
		return LoginResult{}, false, s.refuseUnservedFactor(ctx, u.ID)
	}
	p, err := s.d.MFA.StartSecondStep(ctx, u.ID, mode, []string{gatehouse.AMRPassword})
	if errors.Is(err, mfa.ErrNoFactor) {
		if s.mfaRequired(u.Role) {
			res, err := s.startEnrolment(ctx, u, mode)
			return res, true, err
		}
		return LoginResult{}, false, nil
	}
	if err != nil {
		return LoginResult{}, true, err
	}
	return LoginResult{Step: StepSecondFactor, User: u, SecondFactor: p}, true, nil
}

// SecondFactorInput is the second step of a login.
type SecondFactorInput struct {
	// Token is the mfa_token of the login's first step.
	Token string
	// Method is "totp", "recovery_code" or "webauthn".
	Method string
	// Code is the TOTP or recovery code.
	Code string
	// WebAuthn is the browser's answer to the login's assertion request.
	WebAuthn json.RawMessage
	Client   Client
}

// CompleteSecondFactor checks the second step of a login and, when it passes, makes the
// credential that the first step asked for (its mode; the second step cannot change it). Failed
// steps are counted per user under Limits.SecondFactor, which a right password does not
// forgive; while the user must hold off nothing is checked and a ThrottledError is returned.
// Every outcome is audited as second_factor. Errors: mfa.ErrInvalidChallenge (the token is
// unknown, expired or used), bad_request for an unknown method, mfa.ErrInvalidCode,
// mfa.ErrCodeUsed, mfa.ErrWebAuthnFailed, ErrAccountDisabled, a ThrottledError.
func (s *Service) CompleteSecondFactor(ctx context.Context, in SecondFactorInput) (LoginResult, error) {
	if s.d.MFA == nil {
		return LoginResult{}, ErrMFADisabled
	}
	uid, err := s.d.MFA.SecondStepUser(ctx, in.Token)
	if err != nil {
		return LoginResult{}, err
	}
	key := "mfa:user:" + uid
	if wait, err := s.admit(ctx, gatehouse.Limit{Key: key, Backoff: s.limits.SecondFactor}); err != nil || wait > 0 {
		if err == nil {
			s.auditFactor(ctx, in.Client, gatehouse.AuditSecondFactor, uid, in.Method, gatehouse.ERATELIMITED, nil)
			err = Throttled(wait)
		}
		return LoginResult{}, err
	}
	passed, err := s.d.MFA.FinishSecondStep(ctx, in.Token, mfa.Proof{Method: in.Method, Code: in.Code, WebAuthn: in.WebAuthn})
	s.settleSecondFactor(ctx, key, err)
	s.auditFactor(ctx, in.Client, gatehouse.AuditSecondFactor, uid, in.Method, auditDetail(err), err)
	if err != nil {
		return LoginResult{}, err
	}
	return s.completePassed(ctx, passed, in.Client)
}

// completePassed makes the credential of a login whose steps all passed. The account rules of
// a password login apply to every way in (a passkey sign-in has no password step): a disabled
// account is refused, and so is, with Config.RequireVerifiedEmail, a non-admin account whose
// address is not verified (ErrEmailUnverified).
func (s *Service) completePassed(ctx context.Context, passed *mfa.Passed, c Client) (LoginResult, error) {
	u, err := s.d.Users.UserByID(ctx, passed.UserID)
	if err != nil {
		return LoginResult{}, notFoundAs(err, mfa.ErrInvalidChallenge)
	}
	if u.Disabled {
		return LoginResult{}, ErrAccountDisabled
	}
	if s.unverified(u) {
		return LoginResult{}, ErrEmailUnverified
	}
	return s.credential(ctx, u, gatehouse.ParseAMR(passed.AMR), passed.Mode, c)
}

// admit counts one attempt under limit; it returns the wait when the client must hold off.
func (s *Service) admit(ctx context.Context, limit gatehouse.Limit) (time.Duration, error) {
	if s.d.Throttle == nil {
		return 0, nil
	}
	return s.d.Throttle.Attempt(ctx, limit)
}

// settleSecondFactor settles a counted second step: a wrong answer stays counted, a right one
// forgives the user's failures, anything else (a bad token, a store error) is taken back.
func (s *Service) settleSecondFactor(ctx context.Context, key string, err error) {
	th := s.d.Throttle
	if th == nil {
		return
	}
	var terr error
	switch {
	case err == nil:
		terr = th.Reset(ctx, key)
	case gatehouse.ErrorCode(err) == gatehouse.EINVALIDCREDENTIALS:
		return
	default:
		terr = th.Refund(ctx, key)
	}
	if terr != nil {
		s.log.WarnContext(ctx, "throttle: settling a second step failed", "err", terr)
	}
}

// auditDetail is the secret-free detail of an outcome: "" for a success, the error code, or
// "replay" for a TOTP code used before.
func auditDetail(err error) string {
	switch {
	case err == nil:
		return ""
	case errors.Is(err, mfa.ErrCodeUsed):
		return "replay"
	}
	return gatehouse.ErrorCode(err)
}

// auditFactor records a second-factor event about userID; err decides the outcome, and
// detail (after the method) says more.
func (s *Service) auditFactor(ctx context.Context, c Client, action, userID, method, detail string, err error) {
	e := gatehouse.AuditEvent{Action: action, Outcome: gatehouse.AuditSuccess, UserID: userID, Detail: method}
	if err != nil || detail == gatehouse.ERATELIMITED {
		e.Outcome = gatehouse.AuditFailure
	}
	if detail != "" {
		e.Detail += ": " + detail
	}
	s.Audit(ctx, c, e)
}

// refuseUnservedFactor returns ErrSecondFactorUnavailable when the user has a second factor
// that this server cannot check (Deps.UnservedFactors), and the store's error when it cannot
// tell: a missing factor key must never let a password alone through (fail closed).
func (s *Service) refuseUnservedFactor(ctx context.Context, userID string) error {
	st := s.d.UnservedFactors
	if st == nil {
		return nil
	}
	totp, found, err := st.TOTP(ctx, userID)
	if err != nil {
		return err
	}
	if found && totp.Confirmed {
		return ErrSecondFactorUnavailable
	}
	keys, err := st.WebAuthnCredentials(ctx, userID)
	if err != nil {
		return err
	}
	if len(keys) > 0 {
		return ErrSecondFactorUnavailable
	}
	return nil
}
