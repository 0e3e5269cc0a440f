// Package mfa holds the rules of second factors and passkeys: enrolling a TOTP authenticator
// (RFC 6238, github.com/pquerna/otp) and checking its codes once each, single-use recovery
// codes, WebAuthn registration and assertion ceremonies (github.com/go-webauthn/webauthn) for
// security keys and passkeys, and the short-lived, single-use token that carries a sign-in from
// its password step to its second step.
//
// It works on plain values (user ids, codes, the JSON a browser's WebAuthn call produced) and
// the root package's stores; it knows nothing of HTTP. The use cases (sign-in, account pages)
// call it and decide what a passed step grants.
package mfa

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/go-webauthn/webauthn/webauthn"

	"github.com/gatehouse-auth/gatehouse"
)

// DefaultChallengeTTL is how long a sign-in waits for its second step, and a WebAuthn ceremony
// for the authenticator's answer.
const DefaultChallengeTTL = 5 * time.Minute

// DefaultIssuer is the issuer an authenticator app shows next to a TOTP account.
const DefaultIssuer = "gatehouse"

// Errors of the service. They are *gatehouse.Error values with the API's codes; callers branch
// on them with errors.Is.
var (
	// ErrInvalidCode is a TOTP or recovery code that is wrong, malformed, or used already.
	ErrInvalidCode = &gatehouse.Error{Code: gatehouse.EINVALIDCREDENTIALS, Message: "the code is wrong or was used already"}
	// ErrCodeUsed is a valid TOTP code that was accepted before (a replay). Clients see the
	// same message as for a wrong code; the audit trail tells them apart.
	ErrCodeUsed = &gatehouse.Error{Code: gatehouse.EINVALIDCREDENTIALS, Message: "the code is wrong or was used already"}
	// ErrInvalidChallenge is an mfa_token (or a ceremony's token) that is malformed, unknown,
	// expired, used already, or presented to another step.
	ErrInvalidChallenge = &gatehouse.Error{Code: gatehouse.EINVALIDTOKEN, Message: "the token is invalid, expired or was used already: sign in again"}
	// ErrWebAuthnFailed is a WebAuthn answer that does not verify: another origin or relying
	// party, a wrong signature, an unknown credential, a cloned authenticator.
	ErrWebAuthnFailed = &gatehouse.Error{Code: gatehouse.EINVALIDCREDENTIALS, Message: "the security key or passkey could not be verified"}
	// ErrEnrolled is a TOTP enrolment for a user who has a confirmed TOTP factor already.
	ErrEnrolled = &gatehouse.Error{Code: gatehouse.ECONFLICT, Message: "an authenticator app is enrolled already: remove it first"}
	// ErrNoEnrolment is a confirmation without a pending enrolment.
	ErrNoEnrolment = &gatehouse.Error{Code: gatehouse.ENOTFOUND, Message: "no authenticator app enrolment is pending: start one first"}
	// ErrNoFactor is a request that needs a second factor from a user who has none.
	ErrNoFactor = &gatehouse.Error{Code: gatehouse.ENOTFOUND, Message: "no second factor is enrolled"}
	// ErrMethodUnavailable is a second step by a method the user has not enrolled, or that
	// the server does not offer.
	ErrMethodUnavailable = &gatehouse.Error{Code: gatehouse.EBADREQUEST, Message: "method: not one of the methods offered for this sign-in"}
	// ErrWebAuthnDisabled is a WebAuthn request to a server without a relying party.
	ErrWebAuthnDisabled = &gatehouse.Error{Code: gatehouse.ENOTFOUND, Message: "security keys and passkeys are not enabled on this server"}
)

// Config configures a Service. Factors, Challenges and Sealer are required.
type Config struct {
	Factors    gatehouse.FactorStore
	Challenges gatehouse.ChallengeStore
	// Sealer encrypts TOTP secrets before they are stored.
	Sealer *Sealer
	// Issuer names the service in authenticator apps (default DefaultIssuer).
	Issuer string
	// WebAuthn configures security keys and passkeys; nil leaves them off.
	WebAuthn *WebAuthnConfig
	// ChallengeTTL is the lifetime of an mfa_token and of a WebAuthn ceremony (default
	// DefaultChallengeTTL).
	ChallengeTTL time.Duration
	// Now is the clock (default gatehouse.Now).
	Now func() time.Time
}

// WebAuthnConfig is the relying party that WebAuthn credentials are bound to.
type WebAuthnConfig struct {
	// RPID is the relying party id: the registrable domain credentials are scoped to
	// ("example.com"); an assertion for another one is refused.
	RPID string
	// Origins are the exact origins ("https://login.example.com") the browser may report;
	// every other one is refused.
	Origins []string
	// DisplayName is the name an authenticator shows (default Issuer).
	DisplayName string
}

// Service is the second-factor logic over the stores. It is safe for concurrent use, and any
// number of instances may share its stores: every single-use check is a compare-and-set there.
type Service struct {
	factors    gatehouse.FactorStore
	challenges gatehouse.ChallengeStore
	sealer     *Sealer
	issuer     string
	ttl        time.Duration
	now        func() time.Time
	wa         *webauthn.WebAuthn
}

// New returns a Service, or an error for an incomplete or invalid configuration (such as a
// relying party id that is not a domain, or an origin that is not an origin).
func New(cfg Config) (*Service, error) {
	if cfg.Factors == nil || cfg.Challenges == nil || cfg.Sealer == nil {
		return nil, errors.New("mfa: a factor store, a challenge store and a sealer are required")
	}
	s := &Service{factors: cfg.Factors, challenges: cfg.Challenges, sealer: cfg.Sealer,
		issuer: cfg.Issuer, ttl: cfg.ChallengeTTL, now: cfg.Now}
	if s.issuer == "" {
		s.issuer = DefaultIssuer
	}
	if s.ttl <= 0 {
		s.ttl = DefaultChallengeTTL
	}
	if s.now == nil {
		s.now = gatehouse.Now
	}
	if cfg.WebAuthn != nil {
		wa, err := newRelyingParty(cfg.WebAuthn, s.issuer)
		if err != nil {
			return nil, err
		}
		s.wa = wa
	}
	return s, nil
}

// WebAuthnEnabled reports whether the server offers security keys and passkeys.
func (s *Service) WebAuthnEnabled() bool { return s.wa != nil }

// Summary is what a user has enrolled.
type Summary struct {
	// TOTP is true when an authenticator app is enrolled and confirmed.
	TOTP bool
	// TOTPPending is true while an enrolment waits for its first code.
	TOTPPending bool
	// WebAuthn are the user's security keys and passkeys, oldest first.
	WebAuthn []*gatehouse.WebAuthnCredential
	// RecoveryCodes is the number of unused recovery codes.
	RecoveryCodes int
}

// Methods returns the second-step methods the summary allows, in the API's order: "totp",
// "webauthn", "recovery_code". webauthn counts only when the server offers it.
func (sum *Summary) methods(webauthnOn bool) []string {
	var m []string
	if sum.TOTP {
		m = append(m, gatehouse.FactorTOTP)
	}
	if len(sum.WebAuthn) > 0 && webauthnOn {
		m = append(m, gatehouse.FactorWebAuthn)
	}
	if sum.RecoveryCodes > 0 && len(m) > 0 {
		m = append(m, gatehouse.FactorRecoveryCode)
	}
	return m
}

// Factors returns what the user has enrolled.
func (s *Service) Factors(ctx context.Context, userID string) (*Summary, error) {
	sum := &Summary{}
	f, found, err := s.factors.TOTP(ctx, userID)
	if err != nil {
		return nil, err
	}
	if found {
		sum.TOTP, sum.TOTPPending = f.Confirmed, !f.Confirmed
	}
	if sum.WebAuthn, err = s.factors.WebAuthnCredentials(ctx, userID); err != nil {
		return nil, err
	}
	if sum.RecoveryCodes, err = s.factors.CountRecoveryCodes(ctx, userID); err != nil {
		return nil, err
	}
	return sum, nil
}

// Methods returns the methods by which the user can pass a second step; none means the user
// signs in with the password alone. Recovery codes count only alongside another factor.
func (s *Service) Methods(ctx context.Context, userID string) ([]string, error) {
	sum, err := s.Factors(ctx, userID)
	if err != nil {
		return nil, err
	}
	return sum.methods(s.wa != nil), nil
}

// RemoveAll removes every factor of the user (an administrator's reset). The caller audits it
// and ends the user's sessions and tokens.
func (s *Service) RemoveAll(ctx context.Context, userID string) error {
	if err := s.factors.DeleteUserFactors(ctx, userID); err != nil {
		return fmt.Errorf("mfa: remove factors: %w", err)
	}
	return nil
}
