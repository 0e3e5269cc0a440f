package gatehouse

import (
	"context"
	"time"
)

// Token is what a verified access token says about its bearer.
// The user's groups at issue ("groups" claim) are the Principal's Groups.
type Token struct {
	Principal
	// ID is the token's jti, the key of its revocation.
	ID string
	// Family is the id of the refresh-token family the token was issued with ("sid" claim).
	Family string
	// AMR is how the user signed in to get the token or its refresh family ("amr" claim).
	AMR       AuthMethods
	IssuedAt  time.Time
	ExpiresAt time.Time
}

// RefreshFamily is the chain of refresh tokens that one token login starts. Each refresh
// rotates the current token; presenting a token of the chain that was already rotated revokes
// the whole family.
type RefreshFamily struct {
	ID        string
	UserID    string
	CreatedAt time.Time
	// ExpiresAt is the family's absolute lifetime; no rotation extends it.
	ExpiresAt time.Time
	// AMR is how the user signed in when the family started; every access token issued with
	// the family carries it.
	AMR AuthMethods
}

// RefreshRotation is one rotation of a refresh token, as RefreshStore.RotateRefresh takes it.
type RefreshRotation struct {
	// Old is the hash of the presented token; Next the hash of the token that replaces it.
	Old, Next Hash
	// Now is the time of the rotation: it is checked against the family's ExpiresAt and, when
	// Old is rotated, recorded as Old's rotation time.
	Now time.Time
	// Grace is the reuse grace: a replay of Old at most Grace after Old's rotation gets that
	// rotation's Sealed back instead of revoking the family. Zero (the default) means none.
	Grace time.Duration
	// Sealed is an opaque blob kept with Old once Old is rotated, until the family rotates
	// again (or dies); nil keeps nothing. The store never looks inside it. (The token package
	// puts the rotation's result there, encrypted under a key that only a holder of Old's
	// secret can derive, so the store still holds no usable token.)
	Sealed []byte
}

// ReplayWithinGrace reports whether rot, presenting a token that is no longer current, is a
// replay within its grace of the rotation that retired rot.Old at rotatedAt and kept sealed:
// the grace is on, that rotation kept a blob, and rot.Now is at most rot.Grace after it.
// Stores keep a blob only with the token their latest rotation retired, so an older token
// never qualifies.
func (rot RefreshRotation) ReplayWithinGrace(rotatedAt time.Time, sealed []byte) bool {
	return rot.Grace > 0 && sealed != nil && !rot.Now.After(rotatedAt.Add(rot.Grace))
}

// RefreshStore keeps refresh-token families and the hashes of their tokens.
type RefreshStore interface {
	// CreateRefreshFamily stores f with h as its current token.
	CreateRefreshFamily(ctx context.Context, f *RefreshFamily, h Hash) error
	// RotateRefresh atomically makes rot.Next the current token of the family whose current
	// token is rot.Old, keeps rot.Sealed with rot.Old, and returns the family. Of concurrent
	// calls with the same old token exactly one rotates.
	//
	// A replay within the grace (rot.Grace > 0; rot.Old is the token the family's latest
	// rotation retired, that rotation kept a Sealed blob, and rot.Now is at most rot.Grace
	// after it) changes nothing: it returns the family and that rotation's blob as replay,
	// and drops rot.Next and rot.Sealed. A token retired by an earlier rotation never
	// qualifies.
	//
	// It returns ErrNotFound when rot.Old is unknown (or its family was revoked),
	// ErrTokenExpired when the family is past ExpiresAt at rot.Now (after deleting it), and
	// ErrRefreshReuse when rot.Old was already rotated and is not a replay within the grace,
	// after revoking the family. With ErrRefreshReuse a store also returns the revoked family:
	// the caller denies the access tokens issued from it (RevokeFamilyTokens) and audits it.
	RotateRefresh(ctx context.Context, rot RefreshRotation) (f *RefreshFamily, replay []byte, err error)
	// RevokeRefreshFamily deletes a family and all its tokens; found=false if unknown.
	RevokeRefreshFamily(ctx context.Context, familyID string) (found bool, err error)
	// RefreshFamilyByToken returns the family that h belongs to (current or rotated);
	// found=false if none.
	RefreshFamilyByToken(ctx context.Context, h Hash) (f *RefreshFamily, found bool, err error)
	// RevokeUserRefresh deletes every family of the user.
	RevokeUserRefresh(ctx context.Context, userID string) error
}

// RefreshFamilyRecord is a refresh-token family with every token it ever had, as one store
// exports it and another imports it when a deployment moves between stores: the tokens'
// hashes, which one is current and the reuse grace's state, so that each token goes on
// working, or tripping reuse detection, exactly as before.
type RefreshFamilyRecord struct {
	Family RefreshFamily
	Tokens []RefreshTokenRecord
}

// RefreshTokenRecord is one token of an exported family.
type RefreshTokenRecord struct {
	Hash    Hash
	Current bool
	// RotatedAt is when a rotation retired the token; the zero time if none did.
	RotatedAt time.Time
	// Sealed is what that rotation kept with the token for the reuse grace, or nil.
	Sealed []byte
}

// RefreshExporter is an optional RefreshStore capability: up to limit families with their
// tokens, ordered by id, starting after the id after ("" for the first page).
type RefreshExporter interface {
	ExportRefreshFamilies(ctx context.Context, after string, limit int) ([]*RefreshFamilyRecord, error)
}

// RefreshImporter is an optional RefreshStore capability: it stores each family with its
// tokens as they are, skipping a family whose id it holds already, and returns how many it
// stored.
type RefreshImporter interface {
	ImportRefreshFamilies(ctx context.Context, fams []*RefreshFamilyRecord) (int, error)
}

// RevocationStore records revocations that outlive a single request: access-token ids (jti)
// denied until the token's own expiry, refresh-family ids denied until every access token
// issued from the family has expired (RevokeFamilyTokens: the same list, keyed by the
// family's id), and per-user "not before" times that reject every session and token issued
// earlier. Implementations used on the request path answer reads
// without a store round trip (an in-process mirror, or Redis client-side caching).
type RevocationStore interface {
	// RevokeToken denies the token id until exp.
	RevokeToken(ctx context.Context, jti string, exp time.Time) error
	// TokenRevoked reports whether jti is denied.
	TokenRevoked(ctx context.Context, jti string) (bool, error)
	// SetNotBefore rejects every session and token of the user issued before t. It never
	// moves an existing time backwards.
	SetNotBefore(ctx context.Context, userID string, t time.Time) error
	// NotBefore returns the user's "not before" time, or the zero time if there is none.
	NotBefore(ctx context.Context, userID string) (time.Time, error)
}

// RevocationLister is an optional RevocationStore capability used to fill an in-process
// mirror at start: every token revocation still in force at now, and every not-before time.
type RevocationLister interface {
	ListRevocations(ctx context.Context, now time.Time) (tokens, notBefore map[string]time.Time, err error)
}

// StampPrecision is the resolution of issue times: sessions and access tokens ("iat", written
// with milliseconds) are stamped at it, and not-before times are multiples of it.
const StampPrecision = time.Millisecond

// IssueStamp is the issue time to record for a session or token created at now for a user
// whose not-before time is nb: now truncated to StampPrecision, or nb if that is later (nb is
// at most a StampPrecision ahead of the revocation that set it), so that a login right after
// a revocation is not caught by it.
func IssueStamp(now, nb time.Time) time.Time {
	t := now.Truncate(StampPrecision)
	if nb.After(t) {
		return nb
	}
	return t
}

// NextNotBefore returns the not-before time that revokes everything issued up to now: one
// StampPrecision after now (truncated) and after the previous not-before time prev, because a
// credential issued before this call may carry a stamp equal to either.
func NextNotBefore(now, prev time.Time) time.Time {
	t := now.Truncate(StampPrecision)
	if prev.After(t) {
		t = prev
	}
	return t.Add(StampPrecision)
}

// IssuedBefore reports whether a credential stamped issued is revoked by the not-before
// time nb.
func IssuedBefore(issued, nb time.Time) bool { return !nb.IsZero() && issued.Before(nb) }

// RevocationView is what the revocation rule of access tokens reads: a RevocationStore, or
// any other view of the same revocations (the verify package's copy of the revocation stream).
type RevocationView interface {
	// TokenRevoked reports whether jti is denied.
	TokenRevoked(ctx context.Context, jti string) (bool, error)
	// NotBefore returns the user's "not before" time, or the zero time if there is none.
	NotBefore(ctx context.Context, userID string) (time.Time, error)
}

// AccessTokenRevoked is the revocation rule of access tokens, written here once for the
// server, introspection and the verify SDK: t is revoked when its jti is denied, when the id
// of its refresh family ("sid") is denied (RevokeFamilyTokens), or when it was issued before
// its user's not-before time. Each read is made only when the previous one did not revoke.
// Errors are v's (a store that cannot answer): callers fail closed.
func AccessTokenRevoked(ctx context.Context, v RevocationView, t *Token) (bool, error) {
	denied, err := v.TokenRevoked(ctx, t.ID)
	if err != nil || denied {
		return denied, err
	}
	if t.Family != "" {
		if denied, err = v.TokenRevoked(ctx, t.Family); err != nil || denied {
			return denied, err
		}
	}
	nb, err := v.NotBefore(ctx, t.UserID)
	if err != nil {
		return false, err
	}
	return IssuedBefore(t.IssuedAt, nb), nil
}

// RevokeFamilyTokens denies every access token issued from the refresh family familyID until
// until, which must be at least the expiry of the latest of them (plus the verifiers' clock
// skew). It is written to the same denial list as token ids, under the family's id: family
// ids and token ids are both made by NewID (48 bits of time, 80 random), so they never name
// each other, and every store, in-process mirror, cache, barrier and revocation stream that
// carries token denials carries family denials with no change. AccessTokenRevoked checks it.
func RevokeFamilyTokens(ctx context.Context, s RevocationStore, familyID string, until time.Time) error {
	return s.RevokeToken(ctx, familyID, until)
}
