package postgres

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/gatehouse-auth/gatehouse"
)

var (
	_ gatehouse.RevocationStore  = (*RevocationStore)(nil)
	_ gatehouse.RevocationLister = (*RevocationStore)(nil)
	_ gatehouse.Expirer          = (*RevocationStore)(nil)
)

// RevocationStore is a gatehouse.RevocationStore on the revoked_tokens and user_not_before
// tables: the durable record of revocations. Every read is a query; on the request path put a
// store that answers from memory in front of it (redis.RevocationStore with this store as its
// Durable, or a revocation.Mirror for a single instance).
//
// It has no clock: a revoked token id stays reported as revoked until DeleteExpired drops it
// (the token itself no longer verifies after its expiry anyway).
type RevocationStore struct {
	db *DB
}

// NewRevocationStore returns a RevocationStore on db.
func NewRevocationStore(db *DB) *RevocationStore { return &RevocationStore{db: db} }

// RevokeToken denies jti until exp. Revoking a token id again never shortens its revocation.
func (st *RevocationStore) RevokeToken(ctx context.Context, jti string, exp time.Time) error {
	ctx, cancel := st.db.bound(ctx)
	defer cancel()
	_, err := st.db.pool.Exec(ctx, `INSERT INTO revoked_tokens (jti, expires_at) VALUES ($1, $2)
		ON CONFLICT (jti) DO UPDATE SET expires_at = greatest(revoked_tokens.expires_at, excluded.expires_at)`, jti, nanos(exp))
	return storeErr("revoke token", err)
}

// TokenRevoked reports whether jti was revoked (and not yet dropped by DeleteExpired).
func (st *RevocationStore) TokenRevoked(ctx context.Context, jti string) (bool, error) {
	ctx, cancel := st.db.bound(ctx)
	defer cancel()
	var revoked bool
	err := st.db.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM revoked_tokens WHERE jti = $1)`, jti).Scan(&revoked)
	return revoked, storeErr("token revoked", err)
}

// SetNotBefore rejects everything of the user issued before t. The stored time never moves
// backwards, whatever the order in which concurrent instances write.
func (st *RevocationStore) SetNotBefore(ctx context.Context, userID string, t time.Time) error {
	ctx, cancel := st.db.bound(ctx)
	defer cancel()
	_, err := st.db.pool.Exec(ctx, `INSERT INTO user_not_before (user_id, not_before) VALUES ($1, $2)
		ON CONFLICT (user_id) DO UPDATE SET not_before = greatest(user_not_before.not_before, excluded.not_before)`,
		userID, nanos(t))
	return storeErr("set not before", err)
}

// NotBefore returns the user's "not before" time, or the zero time if there is none.
func (st *RevocationStore) NotBefore(ctx context.Context, userID string) (time.Time, error) {
	ctx, cancel := st.db.bound(ctx)
	defer cancel()
	var n int64
	err := st.db.pool.QueryRow(ctx, `SELECT not_before FROM user_not_before WHERE user_id = $1`, userID).Scan(&n)
	if errors.Is(err, pgx.ErrNoRows) {
		return time.Time{}, nil
	}
	if err != nil {
		return time.Time{}, storeErr("not before", err)
	}
	return fromNanos(n), nil
}

// ListRevocations returns every token revocation whose expiry is after now and every
// not-before time.
func (st *RevocationStore) ListRevocations(ctx context.Context, now time.Time) (tokens, notBefore map[string]time.Time, err error) {
	ctx, cancel := context.WithTimeout(ctx, 10*st.db.timeout)
	defer cancel()
	tokens, err = st.listTimes(ctx, `SELECT jti, expires_at FROM revoked_tokens WHERE expires_at > $1`, nanos(now))
	if err != nil {
		return nil, nil, err
	}
	notBefore, err = st.listTimes(ctx, `SELECT user_id, not_before FROM user_not_before`)
	if err != nil {
		return nil, nil, err
	}
	return tokens, notBefore, nil
}

// DeleteExpired drops the token revocations whose expiry is not after now and returns how many.
// Not-before times are kept: they are one small row per user.
func (st *RevocationStore) DeleteExpired(ctx context.Context, now time.Time) (int, error) {
	ctx, cancel := st.db.bound(ctx)
	defer cancel()
	tag, err := st.db.pool.Exec(ctx, `DELETE FROM revoked_tokens WHERE expires_at <= $1`, nanos(now))
	if err != nil {
		return 0, storeErr("delete expired revocations", err)
	}
	return int(tag.RowsAffected()), nil
}

// listTimes runs a query of (key, nanoseconds) rows into a map.
func (st *RevocationStore) listTimes(ctx context.Context, query string, args ...any) (map[string]time.Time, error) {
	rows, err := st.db.pool.Query(ctx, query, args...)
	if err != nil {
		return nil, storeErr("list revocations", err)
	}
	defer rows.Close()
	out := make(map[string]time.Time)
	for rows.Next() {
		var (
			k string
			n int64
		)
		if err := rows.Scan(&k, &n); err != nil {
			return nil, storeErr("list revocations", err)
		}
		out[k] = fromNanos(n)
	}
	return out, storeErr("list revocations", rows.Err())
}
