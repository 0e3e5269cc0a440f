package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/gatehouse-auth/gatehouse"
)

var (
	_ gatehouse.RefreshStore = (*RefreshStore)(nil)
	_ gatehouse.Expirer      = (*RefreshStore)(nil)
)

// RefreshStore is a gatehouse.RefreshStore on the refresh_families and refresh_tokens tables.
// A family's tokens go with it (ON DELETE CASCADE). Rotation runs in one transaction opened
// with BEGIN IMMEDIATE, so concurrent rotations of one token are serialised and exactly one
// of them wins.
type RefreshStore struct {
	db *DB
}

// NewRefreshStore returns a RefreshStore on db.
func NewRefreshStore(db *DB) *RefreshStore { return &RefreshStore{db: db} }

// CreateRefreshFamily stores f with h as its current token. It returns gatehouse.ErrConflict
// when the family id or the token hash exists.
func (s *RefreshStore) CreateRefreshFamily(ctx context.Context, f *gatehouse.RefreshFamily, h gatehouse.Hash) error {
	return s.refreshTx(ctx, "create refresh family", func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO refresh_families (id, user_id, created_at, expires_at) VALUES (?, ?, ?, ?)`,
			f.ID, f.UserID, nanos(f.CreatedAt), nanos(f.ExpiresAt)); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO refresh_tokens (hash, family_id, current) VALUES (?, ?, 1)`, h[:], f.ID)
		return err
	})
}

// RotateRefresh makes next the current token of the family whose current token is old, in one
// transaction. It returns gatehouse.ErrNotFound for an unknown old, gatehouse.ErrTokenExpired
// (deleting the family) when the family is past ExpiresAt at now, gatehouse.ErrRefreshReuse
// (deleting the family) when old was already rotated, and gatehouse.ErrConflict when next
// exists.
func (s *RefreshStore) RotateRefresh(ctx context.Context, old, next gatehouse.Hash, now time.Time) (*gatehouse.RefreshFamily, error) {
	var f *gatehouse.RefreshFamily
	var outcome error // ErrTokenExpired or ErrRefreshReuse, after the deletion is committed
	err := s.refreshTx(ctx, "rotate refresh token", func(tx *sql.Tx) error {
		var current bool
		var err error
		f, current, err = refreshLookup(ctx, tx, old)
		if err != nil {
			return err
		}
		switch {
		case !now.Before(f.ExpiresAt):
			outcome = gatehouse.ErrTokenExpired
		case !current:
			outcome = gatehouse.ErrRefreshReuse
		default:
			return refreshAdvance(ctx, tx, f.ID, old, next)
		}
		_, err = tx.ExecContext(ctx, `DELETE FROM refresh_families WHERE id = ?`, f.ID)
		return err
	})
	if err != nil {
		return nil, err
	}
	if outcome == gatehouse.ErrRefreshReuse {
		return f, fmt.Errorf("sqlite: refresh family %s: %w", f.ID, outcome) // the revoked family, for the audit trail
	}
	if outcome != nil {
		return nil, fmt.Errorf("sqlite: refresh family %s: %w", f.ID, outcome)
	}
	return f, nil
}

// errRefreshUnknown marks an unknown token inside a transaction; refreshTx maps it to
// gatehouse.ErrNotFound.
var errRefreshUnknown = errors.New("unknown refresh token")

// refreshLookup returns the family of token h and whether h is its current token.
func refreshLookup(ctx context.Context, tx *sql.Tx, h gatehouse.Hash) (*gatehouse.RefreshFamily, bool, error) {
	var f gatehouse.RefreshFamily
	var created, expires int64
	var current bool
	err := tx.QueryRowContext(ctx, `SELECT f.id, f.user_id, f.created_at, f.expires_at, t.current
		FROM refresh_tokens t JOIN refresh_families f ON f.id = t.family_id WHERE t.hash = ?`, h[:]).
		Scan(&f.ID, &f.UserID, &created, &expires, &current)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, false, errRefreshUnknown
	}
	if err != nil {
		return nil, false, err
	}
	f.CreatedAt, f.ExpiresAt = fromNanos(created), fromNanos(expires)
	return &f, current, nil
}

// refreshAdvance retires old and makes next the family's current token.
func refreshAdvance(ctx context.Context, tx *sql.Tx, familyID string, old, next gatehouse.Hash) error {
	if _, err := tx.ExecContext(ctx, `UPDATE refresh_tokens SET current = 0 WHERE hash = ?`, old[:]); err != nil {
		return err
	}
	_, err := tx.ExecContext(ctx, `INSERT INTO refresh_tokens (hash, family_id, current) VALUES (?, ?, 1)`, next[:], familyID)
	return err
}

// RevokeRefreshFamily deletes the family and its tokens; found is false if it is unknown.
func (s *RefreshStore) RevokeRefreshFamily(ctx context.Context, familyID string) (bool, error) {
	res, err := s.db.db.ExecContext(ctx, `DELETE FROM refresh_families WHERE id = ?`, familyID)
	if err != nil {
		return false, storeErr("revoke refresh family", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, storeErr("revoke refresh family", err)
	}
	return n > 0, nil
}

// RefreshFamilyByToken returns the family that h belongs to, current or rotated.
func (s *RefreshStore) RefreshFamilyByToken(ctx context.Context, h gatehouse.Hash) (*gatehouse.RefreshFamily, bool, error) {
	var f gatehouse.RefreshFamily
	var created, expires int64
	err := s.db.db.QueryRowContext(ctx, `SELECT f.id, f.user_id, f.created_at, f.expires_at
		FROM refresh_tokens t JOIN refresh_families f ON f.id = t.family_id WHERE t.hash = ?`, h[:]).
		Scan(&f.ID, &f.UserID, &created, &expires)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, storeErr("refresh family by token", err)
	}
	f.CreatedAt, f.ExpiresAt = fromNanos(created), fromNanos(expires)
	return &f, true, nil
}

// RevokeUserRefresh deletes every family of the user.
func (s *RefreshStore) RevokeUserRefresh(ctx context.Context, userID string) error {
	if _, err := s.db.db.ExecContext(ctx, `DELETE FROM refresh_families WHERE user_id = ?`, userID); err != nil {
		return storeErr("revoke user refresh families", err)
	}
	return nil
}

// DeleteExpired deletes the families whose expires_at is not after now (and, by cascade, their
// tokens) and returns how many families it deleted.
func (s *RefreshStore) DeleteExpired(ctx context.Context, now time.Time) (int, error) {
	res, err := s.db.db.ExecContext(ctx, `DELETE FROM refresh_families WHERE expires_at <= ?`, nanos(now))
	if err != nil {
		return 0, storeErr("delete expired refresh families", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, storeErr("delete expired refresh families", err)
	}
	return int(n), nil
}

// refreshTx runs fn in a transaction (BEGIN IMMEDIATE, see Open) and commits it when fn
// succeeds. Driver errors go through storeErr; errRefreshUnknown becomes gatehouse.ErrNotFound.
func (s *RefreshStore) refreshTx(ctx context.Context, op string, fn func(tx *sql.Tx) error) error {
	tx, err := s.db.db.BeginTx(ctx, nil)
	if err != nil {
		return storeErr(op, err)
	}
	defer tx.Rollback()
	if err := fn(tx); err != nil {
		if errors.Is(err, errRefreshUnknown) {
			return fmt.Errorf("sqlite: %s: %w", op, gatehouse.ErrNotFound)
		}
		return storeErr(op, err)
	}
	return storeErr(op, tx.Commit())
}
