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
		return fmt.Errorf("token: refresh reuse grace %v: must be between 0 and %v", grace, MaxReuseGrace)
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

// IssueFunc issues the access token that goes with a new refresh token of family f (checking,
// say, that f's user may still have one). Rotate returns its error as is.
type IssueFunc func(ctx context.Context, f *gatehouse.RefreshFamily) (Issued, error)

// Rotation is the result of Rotate: the new refresh token and the access token issued with it.
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

// Rotate exchanges secret for the next refresh token of its family and an access token from
// issue. Without a reuse grace it rotates first and calls issue for the family after. With one
// it finds the family, calls issue, and rotates while sealing the pair with the old token (see
// sealRotation), so that a replay within the grace, even a concurrent one, opens the same pair.
//
// It returns gatehouse.ErrInvalidToken for a malformed secret (without asking the store) or an
// unknown one, gatehouse.ErrRefreshReuse when secret was already rotated (the store has then
// revoked the family), gatehouse.ErrTokenExpired when the family is past its lifetime, issue's
// error, and the store's error (such as gatehouse.ErrUnavailable) otherwise.
func (r *Refresher) Rotate(ctx context.Context, secret string, issue IssueFunc) (Rotation, error) {
	if !gatehouse.ValidSecret(secret) {
		return Rotation{}, fmt.Errorf("token: malformed refresh token: %w", gatehouse.ErrInvalidToken)
	}
	if r.grace > 0 {
		return r.rotateWithGrace(ctx, secret, issue)
	}
	next := gatehouse.NewSecret()
	f, _, err := r.store.RotateRefresh(ctx, gatehouse.RefreshRotation{
		Old: gatehouse.HashSecret(secret), Next: gatehouse.HashSecret(next), Now: r.now(),
	})
	if err != nil {
		return Rotation{Family: f}, rotateErr(err)
	}
	iss, err := issue(ctx, f)
	if err != nil {
		return Rotation{}, err
	}
	return Rotation{Issued: iss, RefreshToken: next, Family: f}, nil
}

// rotateWithGrace is Rotate with a reuse grace. The access token is issued before the store
// decides, because a rotation must hand the store its whole sealed result in the same atomic
// step: a concurrent replay then finds it already there. A presentation that the store answers
// as a replay or as reuse throws its own access token away unsent.
func (r *Refresher) rotateWithGrace(ctx context.Context, secret string, issue IssueFunc) (Rotation, error) {
	old := gatehouse.HashSecret(secret)
	f, found, err := r.store.RefreshFamilyByToken(ctx, old)
	switch {
	case err != nil:
		return Rotation{}, fmt.Errorf("token: rotate refresh token: %w", err)
	case !found:
		return Rotation{}, fmt.Errorf("token: unknown refresh token: %w", gatehouse.ErrInvalidToken)
	}
	iss, err := issue(ctx, f)
	if err != nil {
		return Rotation{}, err
	}
	rot := Rotation{Issued: iss, RefreshToken: gatehouse.NewSecret(), Family: f}
	sealed, err := sealRotation(secret, rot)
	if err != nil {
		return Rotation{}, err
	}
	f, replay, err := r.store.RotateRefresh(ctx, gatehouse.RefreshRotation{
		Old: old, Next: gatehouse.HashSecret(rot.RefreshToken), Now: r.now(), Grace: r.grace, Sealed: sealed,
	})
	switch {
	case err != nil:
		return Rotation{Family: f}, rotateErr(err)
	case replay != nil:
		return openRotation(secret, f, replay)
	}
	rot.Family = f
	return rot, nil
}

// rotateErr maps the store's error of a rotation.
func rotateErr(err error) error {
	if errors.Is(err, gatehouse.ErrNotFound) {
		return fmt.Errorf("token: unknown refresh token: %w", gatehouse.ErrInvalidToken)
	}
	return fmt.Errorf("token: rotate refresh token: %w", err)
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
