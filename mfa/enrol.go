package mfa

import (
	"context"
	"slices"

	"github.com/gatehouse-auth/gatehouse"
)

// The enrolment step of a sign-in: a user who must have a second factor (a role that requires
// one) and has none passed the password step; the sign-in completes only once the user has
// enrolled a factor, with the step's token standing in for a session meanwhile.

// StartEnrolmentStep records that userID passed a first step (whose methods are amr) asking
// for mode and must enrol a factor first, and returns the step's token (the mfa_token) and the
// methods it may enrol: "totp".
func (s *Service) StartEnrolmentStep(ctx context.Context, userID, mode string, amr []string) (*Pending, error) {
	c := &gatehouse.Challenge{Purpose: purposeEnrol, UserID: userID, Mode: mode, AMR: slices.Clone(amr)}
	token, err := s.putChallenge(ctx, c)
	if err != nil {
		return nil, err
	}
	return &Pending{Token: token, Methods: []string{gatehouse.FactorTOTP}}, nil
}

// EnrolmentStepUser returns the user whose sign-in the enrolment token waits for;
// ErrInvalidChallenge if the token is malformed, unknown, expired, used or of another step.
func (s *Service) EnrolmentStepUser(ctx context.Context, token string) (string, error) {
	c, err := s.findChallenge(ctx, token, purposeEnrol)
	if err != nil {
		return "", err
	}
	return c.UserID, nil
}

// FinishEnrolmentStep completes the sign-in of the enrolment token once its user has a
// confirmed factor: the token is used up (of concurrent calls exactly one succeeds) and the
// result carries the first step's mode and methods with method's ("otp" for "totp") and "mfa".
// Errors: ErrInvalidChallenge, ErrNoFactor when the user still has no factor.
func (s *Service) FinishEnrolmentStep(ctx context.Context, token, method string) (*Passed, error) {
	c, err := s.findChallenge(ctx, token, purposeEnrol)
	if err != nil {
		return nil, err
	}
	sum, err := s.Factors(ctx, c.UserID)
	if err != nil {
		return nil, err
	}
	if !sum.TOTP && len(sum.WebAuthn) == 0 {
		return nil, ErrNoFactor
	}
	if err := s.takeChallenge(ctx, token); err != nil {
		return nil, err
	}
	amr := gatehouse.AMROTP
	if method == gatehouse.FactorWebAuthn {
		amr = keyAMR(sum.WebAuthn[len(sum.WebAuthn)-1])
	}
	return &Passed{UserID: c.UserID, Mode: c.Mode, AMR: mergeAMR(c.AMR, amr, gatehouse.AMRMFA)}, nil
}
