package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/gatehouse-auth/gatehouse"
)

var (
	_ gatehouse.RevocationStore  = (*RevocationStore)(nil)
	_ gatehouse.RevocationLister = (*RevocationStore)(nil)
	_ gatehouse.Expirer          = (*RevocationStore)(nil)
)

// RevocationStore is a gatehouse.RevocationStore on the revoked_tokens and user_not_before
// tables. Every read is a database query: put a revocation.Mirror in front of it on the request
// path.
//
// It has no clock: a revoked token id stays reported as revoked until DeleteExpired drops it
// (the token itself no longer verifies after its expiry anyway).
type RevocationStore struct {
	db      *DB
	revoked *preparedQuery
	nb      *preparedQuery
}

// NewRevocationStore returns a RevocationStore on db.
func NewRevocationStore(db *DB) *RevocationStore {
	return &RevocationStore{
		db:      db,
		revoked: &preparedQuery{db: db.db, query: `SELECT 1 FROM revoked_tokens WHERE jti = ?`},
		nb:      &preparedQuery{db: db.db, query: `SELECT not_before FROM user_not_before WHERE user_id = ?`},
	}
}

// RevokeToken denies jti until exp. Revoking a token id again never shortens its revocation.
func (st *RevocationStore) RevokeToken(ctx context.Context, jti string, exp time.Time) error {
	_, err := st.db.db.ExecContext(ctx, `INSERT INTO revoked_tokens (jti, expires_at) VALUES (?, ?)
		ON CONFLICT (jti) DO UPDATE SET expires_at = max(expires_at, excluded.expires_at)`, jti, nanos(exp))
	return storeErr("revoke token", err)
}

// TokenRevoked reports whether jti was revoked (and not yet dropped by DeleteExpired).
func (st *RevocationStore) TokenRevoked(ctx context.Context, jti string) (bool, error) {
	stmt, err := st.revoked.get(ctx)
	if err != nil {
		return false, storeErr("token revoked", err)
	}
	var one int
	err = stmt.QueryRowContext(ctx, jti).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	return err == nil, storeErr("token revoked", err)
}

// SetNotBefore rejects everything of the user issued before t. The stored time never moves
// backwards: an earlier t is ignored (an UPSERT keeping the maximum).
func (st *RevocationStore) SetNotBefore(ctx context.Context, userID string, t time.Time) error {
	_, err := st.db.db.ExecContext(ctx, `INSERT INTO user_not_before (user_id, not_before) VALUES (?, ?)
		ON CONFLICT (user_id) DO UPDATE SET not_before = max(not_before, excluded.not_before)`, userID, nanos(t))
	return storeErr("set not before", err)
}

// NotBefore returns the user's "not before" time, or the zero time if there is none.
func (st *RevocationStore) NotBefore(ctx context.Context, userID string) (time.Time, error) {
	stmt, err := st.nb.get(ctx)
	if err != nil {
		return time.Time{}, storeErr("not before", err)
	}
	var n int64
	err = stmt.QueryRowContext(ctx, userID).Scan(&n)
	if errors.Is(err, sql.ErrNoRows) {
		return time.Time{}, nil
	}
	if err != nil {
		return time.Time{}, storeErr("not before", err)
	}
	return fromNanos(n), nil
}

// ListRevocations returns every token revocation whose expiry is after now and every not-before
// time.
func (st *RevocationStore) ListRevocations(ctx context.Context, now time.Time) (tokens, notBefore map[string]time.Time, err error) {
	tokens, err = st.listTimes(ctx, `SELECT jti, expires_at FROM revoked_tokens WHERE expires_at > ?`, nanos(now))
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
	res, err := st.db.db.ExecContext(ctx, `DELETE FROM revoked_tokens WHERE expires_at <= ?`, nanos(now))
	if err != nil {
		return 0, storeErr("delete expired revocations", err)
	}
	n, err := res.RowsAffected()
	return int(n), storeErr("delete expired revocations", err)
}

// listTimes runs a query of (key TEXT, time INTEGER) rows into a map.
func (st *RevocationStore) listTimes(ctx context.Context, query string, args ...any) (map[string]time.Time, error) {
	rows, err := st.db.db.QueryContext(ctx, query, args...)
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
