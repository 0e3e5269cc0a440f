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
		if _, err := tx.ExecContext(ctx, `INSERT INTO refresh_families (id, user_id, created_at, expires_at, amr) VALUES (?, ?, ?, ?, ?)`,
			f.ID, f.UserID, nanos(f.CreatedAt), nanos(f.ExpiresAt), int64(f.AMR)); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO refresh_tokens (hash, family_id, current) VALUES (?, ?, 1)`, h[:], f.ID)
		return err
	})
}

// RotateRefresh makes rot.Next the current token of the family whose current token is rot.Old,
// or answers a replay within rot.Grace with the sealed blob of the latest rotation (see
// gatehouse.RefreshStore), in one transaction. It returns gatehouse.ErrNotFound for an unknown
// old, gatehouse.ErrTokenExpired (deleting the family) when the family is past ExpiresAt at
// now, gatehouse.ErrRefreshReuse (deleting the family) when old was already rotated, and
// gatehouse.ErrConflict when next exists.
func (s *RefreshStore) RotateRefresh(ctx context.Context, rot gatehouse.RefreshRotation) (*gatehouse.RefreshFamily, []byte, error) {
	var f *gatehouse.RefreshFamily
	var replay []byte
	var outcome error // ErrTokenExpired or ErrRefreshReuse, after the deletion is committed
	err := s.refreshTx(ctx, "rotate refresh token", func(tx *sql.Tx) error {
		var st refreshTokenState
		var err error
		if f, st, err = refreshLookup(ctx, tx, rot.Old); err != nil {
			return err
		}
		switch {
		case !rot.Now.Before(f.ExpiresAt):
			outcome = gatehouse.ErrTokenExpired
		case st.current:
			return refreshAdvance(ctx, tx, f.ID, rot)
		case rot.ReplayWithinGrace(st.rotatedAt, st.sealed):
			replay = st.sealed
			return nil
		default:
			outcome = gatehouse.ErrRefreshReuse
		}
		_, err = tx.ExecContext(ctx, `DELETE FROM refresh_families WHERE id = ?`, f.ID)
		return err
	})
	switch {
	case err != nil:
		return nil, nil, err
	case outcome == gatehouse.ErrRefreshReuse:
		return f, nil, fmt.Errorf("sqlite: refresh family %s: %w", f.ID, outcome) // the revoked family, for the audit trail
	case outcome != nil:
		return nil, nil, fmt.Errorf("sqlite: refresh family %s: %w", f.ID, outcome)
	}
	return f, replay, nil
}

// errRefreshUnknown marks an unknown token inside a transaction; refreshTx maps it to
// gatehouse.ErrNotFound.
var errRefreshUnknown = errors.New("unknown refresh token")

// refreshTokenState is what a rotation needs to know of the presented token: whether it is
// its family's current token and, if a rotation retired it, when and with what sealed blob.
type refreshTokenState struct {
	current   bool
	rotatedAt time.Time
	sealed    []byte
}

// refreshLookup returns the family of token h and the token's state.
func refreshLookup(ctx context.Context, tx *sql.Tx, h gatehouse.Hash) (*gatehouse.RefreshFamily, refreshTokenState, error) {
	var f gatehouse.RefreshFamily
	var st refreshTokenState
	var created, expires, amr int64
	var rotated sql.NullInt64
	err := tx.QueryRowContext(ctx, `SELECT f.id, f.user_id, f.created_at, f.expires_at, f.amr, t.current, t.rotated_at, t.sealed
		FROM refresh_tokens t JOIN refresh_families f ON f.id = t.family_id WHERE t.hash = ?`, h[:]).
		Scan(&f.ID, &f.UserID, &created, &expires, &amr, &st.current, &rotated, &st.sealed)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, st, errRefreshUnknown
	}
	if err != nil {
		return nil, st, err
	}
	f.CreatedAt, f.ExpiresAt, f.AMR = fromNanos(created), fromNanos(expires), gatehouse.AuthMethods(amr)
	if rotated.Valid {
		st.rotatedAt = fromNanos(rotated.Int64)
	}
	return &f, st, nil
}

// refreshAdvance retires rot.Old, keeping the rotation's time and sealed blob with it (and
// clearing the blob the previous rotation kept), and makes rot.Next the current token.
func refreshAdvance(ctx context.Context, tx *sql.Tx, familyID string, rot gatehouse.RefreshRotation) error {
	if _, err := tx.ExecContext(ctx, `UPDATE refresh_tokens SET sealed = NULL WHERE family_id = ? AND sealed IS NOT NULL`, familyID); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `UPDATE refresh_tokens SET current = 0, rotated_at = ?, sealed = ? WHERE hash = ?`,
		nanos(rot.Now), nullBlob(rot.Sealed), rot.Old[:]); err != nil {
		return err
	}
	_, err := tx.ExecContext(ctx, `INSERT INTO refresh_tokens (hash, family_id, current) VALUES (?, ?, 1)`, rot.Next[:], familyID)
	return err
}

// nullBlob binds b as a BLOB, or nil as NULL (not as an empty BLOB, which would read back as
// a blob).
func nullBlob(b []byte) any {
	if b == nil {
		return nil
	}
	return b
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
	var created, expires, amr int64
	err := s.db.db.QueryRowContext(ctx, `SELECT f.id, f.user_id, f.created_at, f.expires_at, f.amr
		FROM refresh_tokens t JOIN refresh_families f ON f.id = t.family_id WHERE t.hash = ?`, h[:]).
		Scan(&f.ID, &f.UserID, &created, &expires, &amr)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, storeErr("refresh family by token", err)
	}
	f.CreatedAt, f.ExpiresAt, f.AMR = fromNanos(created), fromNanos(expires), gatehouse.AuthMethods(amr)
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
