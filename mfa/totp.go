package mfa

import (
	"context"
	"crypto/subtle"
	"fmt"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/hotp"
	"github.com/pquerna/otp/totp"

	"github.com/gatehouse-auth/gatehouse"
)

// TOTP parameters: those every authenticator app understands (RFC 6238's defaults).
const (
	totpPeriod     = 30 // seconds per step
	totpDigits     = otp.DigitsSix
	totpSecretSize = 20 // bytes: 160 bits, as RFC 4226 recommends for HMAC-SHA1
	// totpSkew is how many steps before and after the current one are accepted, for clocks
	// that drift and users that type slowly.
	totpSkew = 1
)

// TOTPEnrolment is a pending TOTP enrolment: what the user puts into an authenticator app.
type TOTPEnrolment struct {
	// Secret is the shared secret in base32, for typing in.
	Secret string
	// URL is the otpauth:// URI that a QR code carries.
	URL string
}

// BeginTOTP starts a TOTP enrolment for u with a new random secret, replacing a pending one.
// The factor counts only once ConfirmTOTP accepts a first code. It returns ErrEnrolled when u
// has a confirmed TOTP factor.
func (s *Service) BeginTOTP(ctx context.Context, u *gatehouse.User) (*TOTPEnrolment, error) {
	key, err := totp.Generate(totp.GenerateOpts{Issuer: s.issuer, AccountName: u.Username,
		Period: totpPeriod, SecretSize: totpSecretSize, Digits: totpDigits, Algorithm: otp.AlgorithmSHA1})
	if err != nil {
		return nil, fmt.Errorf("mfa: generate TOTP secret: %w", err)
	}
	now := s.now()
	f := &gatehouse.TOTPFactor{ID: gatehouse.NewID(now), UserID: u.ID, CreatedAt: now,
		Sealed: s.sealer.Seal(u.ID, []byte(key.Secret()))}
	if err := s.factors.PutPendingTOTP(ctx, f); err != nil {
		if gatehouse.ErrorCode(err) == gatehouse.ECONFLICT {
			return nil, ErrEnrolled
		}
		return nil, err
	}
	return &TOTPEnrolment{Secret: key.Secret(), URL: key.URL()}, nil
}

// ConfirmTOTP finishes the user's pending enrolment with a first code from the authenticator.
// The code is then used: it cannot be used again to sign in. It returns new recovery codes
// when the user had none left (the first factor), and none otherwise. Errors: ErrNoEnrolment,
// ErrEnrolled (confirmed already), ErrInvalidCode.
func (s *Service) ConfirmTOTP(ctx context.Context, userID, code string) (recovery []string, err error) {
	f, found, err := s.factors.TOTP(ctx, userID)
	switch {
	case err != nil:
		return nil, err
	case !found:
		return nil, ErrNoEnrolment
	case f.Confirmed:
		return nil, ErrEnrolled
	}
	step, err := s.matchStep(f, code)
	if err != nil {
		return nil, err
	}
	ok, err := s.factors.ConfirmTOTP(ctx, userID, f.ID, step, s.now())
	if err != nil {
		return nil, err
	}
	if !ok { // replaced or confirmed meanwhile by another request
		return nil, ErrNoEnrolment
	}
	return s.recoveryCodesIfNone(ctx, userID)
}

// VerifyTOTP checks code against the user's confirmed TOTP factor and uses it: the same code,
// or any code of the same or an earlier step, is refused afterwards on every instance that
// shares the store. Errors: ErrNoFactor, ErrInvalidCode, ErrCodeUsed.
func (s *Service) VerifyTOTP(ctx context.Context, userID, code string) error {
	f, found, err := s.factors.TOTP(ctx, userID)
	if err != nil {
		return err
	}
	if !found || !f.Confirmed {
		return ErrNoFactor
	}
	step, err := s.matchStep(f, code)
	if err != nil {
		return err
	}
	ok, err := s.factors.UseTOTPStep(ctx, userID, f.ID, step)
	if err != nil {
		return err
	}
	if !ok {
		return ErrCodeUsed
	}
	return nil
}

// RemoveTOTP removes the user's TOTP factor, confirmed or pending. When it was the user's last
// factor, the recovery codes go with it. It returns ErrNoFactor when there is none.
func (s *Service) RemoveTOTP(ctx context.Context, userID string) error {
	found, err := s.factors.DeleteTOTP(ctx, userID)
	if err != nil {
		return err
	}
	if !found {
		return ErrNoFactor
	}
	return s.dropCodesIfNoFactor(ctx, userID)
}

// matchStep returns the time step within the skew whose code is code, or ErrInvalidCode. It
// computes and compares every step's code in constant time, so the time taken does not tell
// which one matched.
func (s *Service) matchStep(f *gatehouse.TOTPFactor, code string) (int64, error) {
	if !sixDigits(code) {
		return 0, ErrInvalidCode
	}
	secret, _, err := s.sealer.Open(f.UserID, f.Sealed)
	if err != nil {
		return 0, fmt.Errorf("mfa: TOTP secret of user %s: %w", f.UserID, err)
	}
	current := s.now().Unix() / totpPeriod
	var matched int64
	for step := current - totpSkew; step <= current+totpSkew; step++ {
		want, err := hotp.GenerateCodeCustom(string(secret), uint64(step), hotp.ValidateOpts{Digits: totpDigits, Algorithm: otp.AlgorithmSHA1})
		if err != nil {
			return 0, fmt.Errorf("mfa: TOTP code: %w", err)
		}
		if subtle.ConstantTimeCompare([]byte(want), []byte(code)) == 1 {
			matched = step // the latest step that matches: a replay check then covers all earlier ones
		}
	}
	if matched == 0 {
		return 0, ErrInvalidCode
	}
	return matched, nil
}

func sixDigits(code string) bool {
	if len(code) != 6 {
		return false
	}
	for i := 0; i < len(code); i++ {
		if code[i] < '0' || code[i] > '9' {
			return false
		}
	}
	return true
}
