package mfa

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/webauthn"

	"github.com/gatehouse-auth/gatehouse"
)

// Challenge purposes: a token is accepted only by the step it was made for.
const (
	purposeSecondStep = "login_second_factor"
	purposeRegister   = "webauthn_register"
	purposePasskey    = "passkey_login"
	purposeEnrol      = "login_enrol_factor"
)

// Pending is a sign-in whose password step passed and whose second step is awaited.
type Pending struct {
	// Token is the mfa_token the client presents with its second step: 256 bits from
	// crypto/rand, of which the store keeps only the SHA-256.
	Token string
	// Methods are the methods the user may pass the second step by.
	Methods []string
	// WebAuthn is the assertion request for the browser (navigator.credentials.get) when
	// "webauthn" is among Methods; nil otherwise.
	WebAuthn *protocol.CredentialAssertion
}

// Proof is the client's second step.
type Proof struct {
	// Method is one of the Pending's Methods.
	Method string
	// Code is a TOTP code (method "totp") or a recovery code ("recovery_code").
	Code string
	// WebAuthn is the JSON of the PublicKeyCredential the browser returned ("webauthn").
	WebAuthn json.RawMessage
}

// Passed is a completed sign-in: who, in which mode, and by which methods (RFC 8176 amr).
type Passed struct {
	UserID string
	// Mode is the sign-in mode the first step asked for; the caller issues exactly that.
	Mode string
	AMR  []string
	// Credential is the WebAuthn credential used, if any (for the audit trail).
	Credential []byte
}

// StartSecondStep records that userID passed a first step (whose methods are amr) asking for
// mode, and returns the mfa_token and the methods the second step may use. It returns
// ErrNoFactor when the user has none: the caller then completes the sign-in at once.
func (s *Service) StartSecondStep(ctx context.Context, userID, mode string, amr []string) (*Pending, error) {
	sum, err := s.Factors(ctx, userID)
	if err != nil {
		return nil, err
	}
	methods := sum.methods(s.wa != nil)
	if len(methods) == 0 {
		return nil, ErrNoFactor
	}
	p := &Pending{Methods: methods}
	c := &gatehouse.Challenge{Purpose: purposeSecondStep, UserID: userID, Mode: mode, AMR: slices.Clone(amr)}
	if slices.Contains(methods, gatehouse.FactorWebAuthn) {
		assertion, session, err := s.wa.BeginLogin(waUser(userID, sum.WebAuthn),
			webauthn.WithUserVerification(protocol.VerificationDiscouraged))
		if err != nil {
			return nil, fmt.Errorf("mfa: begin WebAuthn assertion: %w", err)
		}
		if c.Data, err = json.Marshal(session); err != nil {
			return nil, err
		}
		p.WebAuthn = assertion
	}
	if p.Token, err = s.putChallenge(ctx, c); err != nil {
		return nil, err
	}
	return p, nil
}

// putChallenge stores c under a new token, expiring after the TTL, and returns the token.
func (s *Service) putChallenge(ctx context.Context, c *gatehouse.Challenge) (string, error) {
	token := gatehouse.NewSecret()
	c.Hash, c.ExpiresAt = gatehouse.HashSecret(token), s.now().Add(s.ttl)
	if err := s.challenges.PutChallenge(ctx, c); err != nil {
		return "", err
	}
	return token, nil
}

// findChallenge returns the live challenge of token for purpose, or ErrInvalidChallenge.
func (s *Service) findChallenge(ctx context.Context, token, purpose string) (*gatehouse.Challenge, error) {
	if !gatehouse.ValidSecret(token) {
		return nil, ErrInvalidChallenge
	}
	c, found, err := s.challenges.FindChallenge(ctx, gatehouse.HashSecret(token), s.now())
	if err != nil {
		return nil, err
	}
	if !found || c.Purpose != purpose {
		return nil, ErrInvalidChallenge
	}
	return c, nil
}

// takeChallenge uses up the challenge of token: of concurrent steps with one token exactly one
// gets it; the others get ErrInvalidChallenge.
func (s *Service) takeChallenge(ctx context.Context, token string) error {
	_, found, err := s.challenges.TakeChallenge(ctx, gatehouse.HashSecret(token), s.now())
	if err != nil {
		return err
	}
	if !found {
		return ErrInvalidChallenge
	}
	return nil
}

// FinishSecondStep checks the second step of the sign-in of token. On success the token is used
// up and the result names the user, the first step's mode and the methods passed (the first
// step's, this one's, and "mfa"). A wrong code leaves the token alive until it expires, so that
// a typo does not cost the password step again; callers throttle attempts per user. Errors:
// ErrInvalidChallenge, ErrMethodUnavailable, ErrInvalidCode, ErrCodeUsed, ErrWebAuthnFailed.
func (s *Service) FinishSecondStep(ctx context.Context, token string, proof Proof) (*Passed, error) {
	c, err := s.findChallenge(ctx, token, purposeSecondStep)
	if err != nil {
		return nil, err
	}
	methods, err := s.Methods(ctx, c.UserID)
	if err != nil {
		return nil, err
	}
	if !slices.Contains(methods, proof.Method) {
		return nil, ErrMethodUnavailable
	}
	passed := &Passed{UserID: c.UserID, Mode: c.Mode}
	var amr []string
	switch proof.Method {
	case gatehouse.FactorTOTP:
		err, amr = s.VerifyTOTP(ctx, c.UserID, proof.Code), []string{gatehouse.AMROTP}
	case gatehouse.FactorRecoveryCode:
		err, amr = s.UseRecoveryCode(ctx, c.UserID, proof.Code), []string{gatehouse.AMROTP}
	case gatehouse.FactorWebAuthn:
		var cred *gatehouse.WebAuthnCredential
		if cred, err = s.verifyAssertion(ctx, c, proof.WebAuthn); err == nil {
			amr, passed.Credential = []string{keyAMR(cred)}, cred.ID
		}
	}
	if err != nil {
		return nil, err
	}
	if err := s.takeChallenge(ctx, token); err != nil {
		return nil, err
	}
	passed.AMR = mergeAMR(c.AMR, amr, gatehouse.AMRMFA)
	return passed, nil
}

// mergeAMR returns the union of the lists, in order, without repeats.
func mergeAMR(lists ...any) []string {
	var out []string
	add := func(v string) {
		if !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	for _, l := range lists {
		switch l := l.(type) {
		case string:
			add(l)
		case []string:
			for _, v := range l {
				add(v)
			}
		}
	}
	return out
}

// keyAMR is the amr value of a WebAuthn credential: "swk" for a passkey that may be synced to
// other devices (its key lives in software of a sync provider), "hwk" for a device-bound key.
func keyAMR(c *gatehouse.WebAuthnCredential) string {
	if c.BackupEligible {
		return gatehouse.AMRSoftware
	}
	return gatehouse.AMRHardware
}

// SecondStepUser returns the user whose sign-in the mfa_token token waits for, so that the
// caller can throttle second steps per user before checking one; ErrInvalidChallenge if the
// token is malformed, unknown, expired or used.
func (s *Service) SecondStepUser(ctx context.Context, token string) (string, error) {
	c, err := s.findChallenge(ctx, token, purposeSecondStep)
	if err != nil {
		return "", err
	}
	return c.UserID, nil
}
