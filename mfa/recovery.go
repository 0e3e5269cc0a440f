package mfa

import (
	"context"
	"crypto/rand"
	"strings"

	"github.com/gatehouse-auth/gatehouse"
)

// RecoveryCodeCount is how many recovery codes a user gets at a time.
const RecoveryCodeCount = 10

// recoveryAlphabet is Crockford's base32 in lower case (no i, l, o, u): 5 bits a character.
const recoveryAlphabet = "0123456789abcdefghjkmnpqrstvwxyz"

// recoveryLen is the number of characters of a code: 16 characters are 80 bits from
// crypto/rand, too many to guess online and to search offline from a stolen hash.
const recoveryLen = 16

// newRecoveryCode returns a random code written as four groups of four characters
// ("7kq2-m9xd-3vhp-aw4t").
func newRecoveryCode() string {
	var b [recoveryLen]byte
	_, _ = rand.Read(b[:])
	var sb strings.Builder
	for i, c := range b {
		if i > 0 && i%4 == 0 {
			sb.WriteByte('-')
		}
		sb.WriteByte(recoveryAlphabet[c&31]) // 256 is a multiple of 32: no bias
	}
	return sb.String()
}

// normalizeRecoveryCode returns the canonical form of a code as a user may type it (upper
// case, without or with other separators, o for 0, i or l for 1), or false if it cannot be one.
func normalizeRecoveryCode(code string) (string, bool) {
	if len(code) > 64 {
		return "", false
	}
	var sb strings.Builder
	for _, r := range strings.ToLower(code) {
		switch {
		case r == '-' || r == ' ':
			continue
		case r == 'o':
			r = '0'
		case r == 'i' || r == 'l':
			r = '1'
		}
		if r > 127 || strings.IndexByte(recoveryAlphabet, byte(r)) < 0 {
			return "", false
		}
		sb.WriteRune(r)
	}
	if sb.Len() != recoveryLen {
		return "", false
	}
	return sb.String(), true
}

// recoveryHash is what the store keeps of a user's code: a SHA-256 bound to the user.
func recoveryHash(userID, normalized string) gatehouse.Hash {
	return gatehouse.HashSecret("gatehouse recovery code\x00" + userID + "\x00" + normalized)
}

// RegenerateRecoveryCodes gives the user RecoveryCodeCount new codes and voids every earlier
// one. The codes are returned once, here; only their hashes are stored. It returns
// ErrNoFactor when the user has no second factor (codes alone are no factor).
func (s *Service) RegenerateRecoveryCodes(ctx context.Context, userID string) ([]string, error) {
	methods, err := s.Methods(ctx, userID)
	if err != nil {
		return nil, err
	}
	if len(methods) == 0 {
		return nil, ErrNoFactor
	}
	return s.newRecoveryCodes(ctx, userID)
}

func (s *Service) newRecoveryCodes(ctx context.Context, userID string) ([]string, error) {
	codes := make([]string, RecoveryCodeCount)
	hashes := make([]gatehouse.Hash, RecoveryCodeCount)
	for i := range codes {
		codes[i] = newRecoveryCode()
		n, _ := normalizeRecoveryCode(codes[i])
		hashes[i] = recoveryHash(userID, n)
	}
	if err := s.factors.ReplaceRecoveryCodes(ctx, userID, hashes); err != nil {
		return nil, err
	}
	return codes, nil
}

// recoveryCodesIfNone gives the user new codes if none is left (after a first factor), and
// returns nil otherwise.
func (s *Service) recoveryCodesIfNone(ctx context.Context, userID string) ([]string, error) {
	n, err := s.factors.CountRecoveryCodes(ctx, userID)
	if err != nil || n > 0 {
		return nil, err
	}
	return s.newRecoveryCodes(ctx, userID)
}

// dropCodesIfNoFactor voids the user's recovery codes once no other factor is left: codes
// alone are no second factor, and must not come back to life with a later enrolment.
func (s *Service) dropCodesIfNoFactor(ctx context.Context, userID string) error {
	sum, err := s.Factors(ctx, userID)
	if err != nil {
		return err
	}
	if sum.TOTP || len(sum.WebAuthn) > 0 {
		return nil
	}
	return s.factors.ReplaceRecoveryCodes(ctx, userID, nil)
}

// UseRecoveryCode checks code against the user's recovery codes and uses it up: of concurrent
// uses of one code, on any instance, exactly one passes. It returns ErrInvalidCode otherwise.
func (s *Service) UseRecoveryCode(ctx context.Context, userID, code string) error {
	n, ok := normalizeRecoveryCode(code)
	if !ok {
		return ErrInvalidCode
	}
	used, err := s.factors.UseRecoveryCode(ctx, userID, recoveryHash(userID, n))
	if err != nil {
		return err
	}
	if !used {
		return ErrInvalidCode
	}
	return nil
}

// RecoveryCodesLeft returns how many unused recovery codes the user has.
func (s *Service) RecoveryCodesLeft(ctx context.Context, userID string) (int, error) {
	return s.factors.CountRecoveryCodes(ctx, userID)
}
