// Package refresh keeps rotating refresh tokens: opaque secrets that the store knows only by
// their hash, grouped in families with reuse detection and an optional reuse grace. It decides
// nothing about users: the caller (package authn) decides whether a family may go on, signs the
// access token, and hands it to Finish.
package refresh

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
// the whole family (reuse detection), except, with a reuse grace (SetReuseGrace), a replay of
// the token just rotated within the grace, which gets that rotation's pair again. A family
// never outlives its absolute lifetime.
type Refresher struct {
	store     gatehouse.RefreshStore
	familyTTL time.Duration
	grace     time.Duration
	now       func() time.Time
}

// NewRefresher returns a Refresher on store, without a reuse grace. familyTTL <= 0 means
// DefaultFamilyTTL (30 days); a nil now means time.Now.
func NewRefresher(store gatehouse.RefreshStore, familyTTL time.Duration, now func() time.Time) *Refresher {
	if familyTTL <= 0 {
		familyTTL = DefaultFamilyTTL
	}
	if now == nil {
		now = time.Now
	}
	return &Refresher{store: store, familyTTL: familyTTL, now: now}
}

// MaxReuseGrace is the longest reuse grace SetReuseGrace accepts: the longer the window, the
// longer a stolen refresh token that was just rotated is answered instead of detected.
const MaxReuseGrace = time.Minute

// SetReuseGrace sets the reuse grace: a refresh token presented again at most grace after it
// was rotated, while it is the token its family's latest rotation retired, gets exactly the
// pair that rotation produced instead of revoking the family (for clients that refresh from
// several tabs at once). 0, the default, turns it off. It returns an error, changing nothing,
// for a negative grace or one above MaxReuseGrace. Call it before the Refresher is used.
func (r *Refresher) SetReuseGrace(grace time.Duration) error {
	if grace < 0 || grace > MaxReuseGrace {
		return fmt.Errorf("refresh: refresh reuse grace %v: must be between 0 and %v", grace, MaxReuseGrace)
	}
	r.grace = grace
	return nil
}

// ReuseGrace returns the reuse grace (0: none).
func (r *Refresher) ReuseGrace() time.Duration { return r.grace }

// Issued is an access token issued with a refresh: the token and its expiry.
type Issued struct {
	AccessToken string
	ExpiresAt   time.Time
}

// Rotation is the result of a rotation: the new refresh token and the access token issued with it.
type Rotation struct {
	Issued
	RefreshToken string
	// Family is the token's family; with gatehouse.ErrRefreshReuse it may name the family
	// just revoked (for the audit trail), or be nil.
	Family *gatehouse.RefreshFamily
	// Replay is true when the pair is the one an earlier rotation of the same token produced,
	// handed out again within the reuse grace.
	Replay bool
}

// Start begins a new family for the user, who signed in with the methods amr (every access
// token of the family carries them), and returns its first refresh token. It returns an
// error for an empty user id.
func (r *Refresher) Start(ctx context.Context, userID string, amr gatehouse.AuthMethods) (secret string, f *gatehouse.RefreshFamily, err error) {
	if userID == "" {
		return "", nil, errors.New("refresh: start refresh family: empty user id")
	}
	now := r.now()
	f = &gatehouse.RefreshFamily{ID: gatehouse.NewID(now), UserID: userID, CreatedAt: now, ExpiresAt: now.Add(r.familyTTL), AMR: amr}
	secret = gatehouse.NewSecret()
	if err := r.store.CreateRefreshFamily(ctx, f, gatehouse.HashSecret(secret)); err != nil {
		return "", nil, fmt.Errorf("refresh: start refresh family: %w", err)
	}
	return secret, f, nil
}

// Pending is a rotation that Begin has started: the caller decides whether Family may go on
// (its user still exists, is enabled, was not signed out everywhere since), issues the access
// token, and calls Finish, or returns without finishing when the family must die (after
// revoking it).
type Pending struct {
	r      *Refresher
	secret string
	// Family is the family of the presented token.
	Family *gatehouse.RefreshFamily
	// next is the refresh token that already replaced secret (no reuse grace), or "".
	next string
}

// Begin starts the rotation of secret and returns its family. Without a reuse grace it rotates
// at once (the new token is current from now on, and Finish only hands it out); with one it
// only finds the family, and Finish rotates while sealing the pair with the old token (see
// sealRotation), so that a replay within the grace, even a concurrent one, opens the same pair.
//
// It returns gatehouse.ErrInvalidToken for a malformed secret (without asking the store) or an
// unknown one, gatehouse.ErrRefreshReuse when secret was already rotated (the store has then
// revoked the family; the Pending may name it, for the audit trail), gatehouse.ErrTokenExpired
// when the family is past its lifetime, and the store's error (such as gatehouse.ErrUnavailable)
// otherwise.
func (r *Refresher) Begin(ctx context.Context, secret string) (Pending, error) {
	if !gatehouse.ValidSecret(secret) {
		return Pending{}, fmt.Errorf("refresh: malformed refresh token: %w", gatehouse.ErrInvalidToken)
	}
	if r.grace > 0 {
		f, found, err := r.store.RefreshFamilyByToken(ctx, gatehouse.HashSecret(secret))
		switch {
		case err != nil:
			return Pending{}, fmt.Errorf("refresh: rotate refresh token: %w", err)
		case !found:
			return Pending{}, fmt.Errorf("refresh: unknown refresh token: %w", gatehouse.ErrInvalidToken)
		}
		return Pending{r: r, secret: secret, Family: f}, nil
	}
	next := gatehouse.NewSecret()
	f, _, err := r.store.RotateRefresh(ctx, gatehouse.RefreshRotation{
		Old: gatehouse.HashSecret(secret), Next: gatehouse.HashSecret(next), Now: r.now(),
	})
	if err != nil {
		return Pending{Family: f}, rotateErr(err)
	}
	return Pending{r: r, secret: secret, Family: f, next: next}, nil
}

// Finish completes the rotation with the access token iss issued for p.Family. Without a reuse
// grace it returns the token Begin made current. With one it rotates now: a presentation that
// the store answers as a replay within the grace gets that rotation's pair (Replay set; iss is
// thrown away unsent), and one it answers as reuse gets gatehouse.ErrRefreshReuse, with the
// revoked family in the Rotation when the store names it.
func (p Pending) Finish(ctx context.Context, iss Issued) (Rotation, error) {
	if p.r == nil {
		return Rotation{}, errors.New("refresh: Finish of a rotation that did not begin")
	}
	if p.next != "" {
		return Rotation{Issued: iss, RefreshToken: p.next, Family: p.Family}, nil
	}
	rot := Rotation{Issued: iss, RefreshToken: gatehouse.NewSecret(), Family: p.Family}
	sealed, err := sealRotation(p.secret, rot)
	if err != nil {
		return Rotation{}, err
	}
	f, replay, err := p.r.store.RotateRefresh(ctx, gatehouse.RefreshRotation{
		Old: gatehouse.HashSecret(p.secret), Next: gatehouse.HashSecret(rot.RefreshToken), Now: p.r.now(),
		Grace: p.r.grace, Sealed: sealed,
	})
	switch {
	case err != nil:
		return Rotation{Family: f}, rotateErr(err)
	case replay != nil:
		return openRotation(p.secret, f, replay)
	}
	rot.Family = f
	return rot, nil
}

// rotateErr maps the store's error of a rotation.
func rotateErr(err error) error {
	if errors.Is(err, gatehouse.ErrNotFound) {
		return fmt.Errorf("refresh: unknown refresh token: %w", gatehouse.ErrInvalidToken)
	}
	return fmt.Errorf("refresh: rotate refresh token: %w", err)
}

// RevokeFamily revokes the family and every token of it. Revoking an unknown family is not an
// error.
func (r *Refresher) RevokeFamily(ctx context.Context, familyID string) error {
	if _, err := r.store.RevokeRefreshFamily(ctx, familyID); err != nil {
		return fmt.Errorf("refresh: revoke refresh family: %w", err)
	}
	return nil
}

// RevokeToken revokes the family that secret belongs to (whether secret is its current token
// or an already rotated one) and returns it, so that the caller can deny the access tokens
// issued from it. The family is nil, with no error, for a malformed or unknown secret (or one
// whose family another call revoked meanwhile), as RFC 7009 wants revocation of an invalid
// token to succeed quietly.
func (r *Refresher) RevokeToken(ctx context.Context, secret string) (*gatehouse.RefreshFamily, error) {
	if !gatehouse.ValidSecret(secret) {
		return nil, nil
	}
	f, found, err := r.store.RefreshFamilyByToken(ctx, gatehouse.HashSecret(secret))
	if err != nil || !found {
		return nil, wrapRevokeErr(err)
	}
	found, err = r.store.RevokeRefreshFamily(ctx, f.ID)
	if err != nil || !found {
		return nil, wrapRevokeErr(err)
	}
	return f, nil
}

func wrapRevokeErr(err error) error {
	if err != nil {
		return fmt.Errorf("refresh: revoke refresh token: %w", err)
	}
	return nil
}

// RevokeUser revokes every refresh family of the user.
func (r *Refresher) RevokeUser(ctx context.Context, userID string) error {
	if err := r.store.RevokeUserRefresh(ctx, userID); err != nil {
		return fmt.Errorf("refresh: revoke user refresh tokens: %w", err)
	}
	return nil
}

// Family returns the family that secret belongs to (its current token or an already rotated
// one), without rotating anything; found is false for a malformed or unknown secret.
func (r *Refresher) Family(ctx context.Context, secret string) (f *gatehouse.RefreshFamily, found bool, err error) {
	if !gatehouse.ValidSecret(secret) {
		return nil, false, nil
	}
	f, found, err = r.store.RefreshFamilyByToken(ctx, gatehouse.HashSecret(secret))
	if err != nil {
		return nil, false, fmt.Errorf("refresh: find refresh family: %w", err)
	}
	return f, found, nil
}
