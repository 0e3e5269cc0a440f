package token

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/gatehouse-auth/gatehouse"
)

// DefaultFamilyTTL is the default absolute lifetime of a refresh-token family.
const DefaultFamilyTTL = 30 * 24 * time.Hour

// Refresher starts and rotates refresh-token families. A refresh token is an opaque secret
// from gatehouse.NewSecret (never a JWT) that the store knows only by its hash. Each rotation
// replaces the family's current token; presenting a token that was already rotated revokes
// the whole family (reuse detection). A family never outlives its absolute lifetime.
type Refresher struct {
	store     gatehouse.RefreshStore
	familyTTL time.Duration
	now       func() time.Time
}

// NewRefresher returns a Refresher on store. familyTTL <= 0 means DefaultFamilyTTL (30 days);
// a nil now means time.Now.
func NewRefresher(store gatehouse.RefreshStore, familyTTL time.Duration, now func() time.Time) *Refresher {
	if familyTTL <= 0 {
		familyTTL = DefaultFamilyTTL
	}
	if now == nil {
		now = time.Now
	}
	return &Refresher{store: store, familyTTL: familyTTL, now: now}
}

// Start begins a new family for the user and returns its first refresh token. It returns an
// error for an empty user id.
func (r *Refresher) Start(ctx context.Context, userID string) (secret string, f *gatehouse.RefreshFamily, err error) {
	if userID == "" {
		return "", nil, errors.New("token: start refresh family: empty user id")
	}
	now := r.now()
	f = &gatehouse.RefreshFamily{ID: gatehouse.NewID(now), UserID: userID, CreatedAt: now, ExpiresAt: now.Add(r.familyTTL)}
	secret = gatehouse.NewSecret()
	if err := r.store.CreateRefreshFamily(ctx, f, gatehouse.HashSecret(secret)); err != nil {
		return "", nil, fmt.Errorf("token: start refresh family: %w", err)
	}
	return secret, f, nil
}

// Rotate exchanges secret for the next refresh token of its family. It returns
// gatehouse.ErrInvalidToken for a malformed secret (without asking the store) or an unknown
// one, gatehouse.ErrRefreshReuse when secret was already rotated (the store has then revoked
// the family), gatehouse.ErrTokenExpired when the family is past its lifetime, and the store's
// error (such as gatehouse.ErrUnavailable) otherwise.
func (r *Refresher) Rotate(ctx context.Context, secret string) (next string, f *gatehouse.RefreshFamily, err error) {
	if !gatehouse.ValidSecret(secret) {
		return "", nil, fmt.Errorf("token: malformed refresh token: %w", gatehouse.ErrInvalidToken)
	}
	next = gatehouse.NewSecret()
	f, err = r.store.RotateRefresh(ctx, gatehouse.HashSecret(secret), gatehouse.HashSecret(next), r.now())
	switch {
	case errors.Is(err, gatehouse.ErrNotFound):
		return "", nil, fmt.Errorf("token: unknown refresh token: %w", gatehouse.ErrInvalidToken)
	case errors.Is(err, gatehouse.ErrRefreshReuse):
		// f, when the store returns it, is the family just revoked: the caller may record whose.
		return "", f, fmt.Errorf("token: rotate refresh token: %w", err)
	case err != nil:
		return "", nil, fmt.Errorf("token: rotate refresh token: %w", err)
	}
	return next, f, nil
}

// RevokeFamily revokes the family and every token of it. Revoking an unknown family is not an
// error.
func (r *Refresher) RevokeFamily(ctx context.Context, familyID string) error {
	if _, err := r.store.RevokeRefreshFamily(ctx, familyID); err != nil {
		return fmt.Errorf("token: revoke refresh family: %w", err)
	}
	return nil
}

// RevokeToken revokes the family that secret belongs to (whether secret is its current token
// or an already rotated one). found is false, with no error, for a malformed or unknown
// secret, as RFC 7009 wants revocation of an invalid token to succeed quietly.
func (r *Refresher) RevokeToken(ctx context.Context, secret string) (found bool, err error) {
	if !gatehouse.ValidSecret(secret) {
		return false, nil
	}
	f, found, err := r.store.RefreshFamilyByToken(ctx, gatehouse.HashSecret(secret))
	if err != nil || !found {
		return false, wrapRevokeErr(err)
	}
	found, err = r.store.RevokeRefreshFamily(ctx, f.ID)
	return found, wrapRevokeErr(err)
}

func wrapRevokeErr(err error) error {
	if err != nil {
		return fmt.Errorf("token: revoke refresh token: %w", err)
	}
	return nil
}

// RevokeUser revokes every refresh family of the user.
func (r *Refresher) RevokeUser(ctx context.Context, userID string) error {
	if err := r.store.RevokeUserRefresh(ctx, userID); err != nil {
		return fmt.Errorf("token: revoke user refresh tokens: %w", err)
	}
	return nil
}
