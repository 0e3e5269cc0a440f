// Package emaillink makes and redeems the single-use links gatehouse sends by mail (address
// verification, password reset): 32 random bytes from crypto/rand in base64url, of which the
// store keeps only the SHA-256, with a purpose and an expiry.
package emaillink

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"time"

	"github.com/gatehouse-auth/gatehouse"
)

// Default lifetimes of the links.
const (
	DefaultVerifyTTL = 24 * time.Hour
	DefaultResetTTL  = 30 * time.Minute
)

// secretBytes is the entropy of a link's secret; secretLen its length in base64url.
const (
	secretBytes = 32
	secretLen   = 43
)

// ErrInvalidLink means a link's secret is malformed, unknown, of another purpose, expired, or
// was already used. The cases are not told apart, to the user or to an attacker.
var ErrInvalidLink = &gatehouse.Error{Code: gatehouse.EINVALIDTOKEN, Message: "the link is invalid, has expired or was already used"}

// Config sets the lifetimes and the clock. Zero values mean the defaults.
type Config struct {
	VerifyTTL time.Duration
	ResetTTL  time.Duration
	Now       func() time.Time
}

// Links issues and redeems e-mail links.
type Links struct {
	store gatehouse.EmailLinkStore
	cfg   Config
}

// New returns Links on store.
func New(store gatehouse.EmailLinkStore, cfg Config) *Links {
	if cfg.VerifyTTL <= 0 {
		cfg.VerifyTTL = DefaultVerifyTTL
	}
	if cfg.ResetTTL <= 0 {
		cfg.ResetTTL = DefaultResetTTL
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Links{store: store, cfg: cfg}
}

// TTL returns how long a link of purpose p works.
func (s *Links) TTL(p gatehouse.LinkPurpose) time.Duration {
	if p == gatehouse.LinkReset {
		return s.cfg.ResetTTL
	}
	return s.cfg.VerifyTTL
}

// Issue makes a link of purpose p for the user, sent to email, and returns its secret (to put
// in the mail, never to log). It voids the user's older links of the same purpose: only the
// newest request works.
func (s *Links) Issue(ctx context.Context, userID string, p gatehouse.LinkPurpose, email string) (secret string, l *gatehouse.EmailLink, err error) {
	if !p.Valid() {
		return "", nil, fmt.Errorf("emaillink: unknown purpose %q", p)
	}
	var b [secretBytes]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", nil, fmt.Errorf("emaillink: %w", err)
	}
	secret = base64.RawURLEncoding.EncodeToString(b[:])
	now := s.cfg.Now()
	l = &gatehouse.EmailLink{Hash: gatehouse.HashSecret(secret), UserID: userID, Purpose: p, Email: email,
		CreatedAt: now, ExpiresAt: now.Add(s.TTL(p))}
	if err := s.store.CreateEmailLink(ctx, l, true); err != nil {
		return "", nil, err
	}
	return secret, l, nil
}

// Redeem uses up the link whose secret is given, if it has purpose p and has not expired, and
// returns it. It returns ErrInvalidLink otherwise, and the store's errors (such as
// gatehouse.ErrUnavailable) as they are. Of concurrent redemptions of one link, one succeeds.
func (s *Links) Redeem(ctx context.Context, secret string, p gatehouse.LinkPurpose) (*gatehouse.EmailLink, error) {
	if !WellFormed(secret) {
		return nil, ErrInvalidLink
	}
	l, found, err := s.store.ConsumeEmailLink(ctx, gatehouse.HashSecret(secret), p, s.cfg.Now())
	if err != nil {
		return nil, err
	}
	if !found {
		return nil, ErrInvalidLink
	}
	return l, nil
}

// Revoke voids every link of the user with purpose p ("" for all), for example when the
// password changes or the account is disabled.
func (s *Links) Revoke(ctx context.Context, userID string, p gatehouse.LinkPurpose) error {
	_, err := s.store.DeleteUserEmailLinks(ctx, userID, p)
	return err
}

// WellFormed reports whether secret has the shape of a link secret: 43 characters of
// base64url that decode to 32 bytes.
func WellFormed(secret string) bool {
	if len(secret) != secretLen {
		return false
	}
	b, err := base64.RawURLEncoding.Strict().DecodeString(secret)
	return err == nil && len(b) == secretBytes
}

// Restore puts back a link that Redeem took, when the action it was redeemed for was refused
// for a reason the user can fix (a password the policy refuses), so that the link stays usable
// until it expires. It returns gatehouse.ErrConflict if the link is back already.
func (s *Links) Restore(ctx context.Context, l *gatehouse.EmailLink) error {
	return s.store.CreateEmailLink(ctx, l, false)
}
