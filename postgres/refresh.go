package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/gatehouse-auth/gatehouse"
)

var (
	_ gatehouse.RefreshStore = (*RefreshStore)(nil)
	_ gatehouse.Expirer      = (*RefreshStore)(nil)
)

// RefreshStore is a gatehouse.RefreshStore on the refresh_families and refresh_tokens tables.
// A family's tokens go with it (ON DELETE CASCADE). A rotation locks the family's row (SELECT
// ... FOR UPDATE) before it reads whether the token is current, so concurrent rotations of one
// token, from any number of instances, are serialised and exactly one of them wins.
type RefreshStore struct {
	db *DB
}

// NewRefreshStore returns a RefreshStore on db.
func NewRefreshStore(db *DB) *RefreshStore { return &RefreshStore{db: db} }

// CreateRefreshFamily stores f with h as its current token. It returns gatehouse.ErrConflict
// when the family id or the token hash exists.
func (s *RefreshStore) CreateRefreshFamily(ctx context.Context, f *gatehouse.RefreshFamily, h gatehouse.Hash) error {
	ctx, cancel := s.db.bound(ctx)
	defer cancel()
	return s.db.tx(ctx, "create refresh family", func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO refresh_families (id, user_id, created_at, expires_at, amr) VALUES ($1, $2, $3, $4, $5)`,
			f.ID, f.UserID, nanos(f.CreatedAt), nanos(f.ExpiresAt), int16(f.AMR)); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `INSERT INTO refresh_tokens (hash, family_id, current) VALUES ($1, $2, true)`, h[:], f.ID)
		return err
	})
}

// errUnknown marks an unknown refresh token inside a transaction.
var errUnknown = fmt.Errorf("postgres: unknown refresh token: %w", gatehouse.ErrNotFound)

// RotateRefresh makes rot.Next the current token of the family whose current token is rot.Old,
// or answers a replay within rot.Grace with the sealed blob of the latest rotation (see
// gatehouse.RefreshStore), in one transaction. It returns gatehouse.ErrNotFound for an unknown
// old, gatehouse.ErrTokenExpired (deleting the family) when the family is past ExpiresAt at
// now, gatehouse.ErrRefreshReuse (deleting the family) when old was already rotated, and
// gatehouse.ErrConflict when next exists.
func (s *RefreshStore) RotateRefresh(ctx context.Context, rot gatehouse.RefreshRotation) (*gatehouse.RefreshFamily, []byte, error) {
	ctx, cancel := s.db.bound(ctx)
	defer cancel()
	var f *gatehouse.RefreshFamily
	var replay []byte
	var outcome error // ErrTokenExpired or ErrRefreshReuse, returned after the deletion commits
	err := s.db.tx(ctx, "rotate refresh token", func(tx pgx.Tx) error {
		var st tokenState
		var err error
		if f, st, err = lockFamilyOf(ctx, tx, rot.Old); err != nil {
			return err
		}
		switch {
		case !rot.Now.Before(f.ExpiresAt):
			outcome = gatehouse.ErrTokenExpired
		case st.current:
			return advance(ctx, tx, f.ID, rot)
		case rot.ReplayWithinGrace(st.rotatedAt, st.sealed):
			replay = st.sealed
			return nil
		default:
			outcome = gatehouse.ErrRefreshReuse
		}
		_, err = tx.Exec(ctx, `DELETE FROM refresh_families WHERE id = $1`, f.ID)
		return err
	})
	if err != nil {
		return nil, nil, err
	}
	switch {
	case outcome == gatehouse.ErrRefreshReuse:
		return f, nil, fmt.Errorf("postgres: refresh family %s: %w", f.ID, outcome) // the revoked family: its access tokens are denied next
	case outcome != nil:
		return nil, nil, fmt.Errorf("postgres: refresh family %s: %w", f.ID, outcome)
	}
	return f, replay, nil
}

// advance retires rot.Old, keeping the rotation's time and sealed blob with it (and clearing
// the blob the previous rotation kept), and makes rot.Next the current token. The family lock
// makes this the only writer; "AND current" keeps a second winner impossible even so.
func advance(ctx context.Context, tx pgx.Tx, familyID string, rot gatehouse.RefreshRotation) error {
	if _, err := tx.Exec(ctx, `UPDATE refresh_tokens SET sealed = NULL WHERE family_id = $1 AND sealed IS NOT NULL`, familyID); err != nil {
		return err
	}
	tag, err := tx.Exec(ctx, `UPDATE refresh_tokens SET current = false, rotated_at = $2, sealed = $3 WHERE hash = $1 AND current`,
		rot.Old[:], nanos(rot.Now), rot.Sealed)
	if err != nil {
		return err
	}
	if tag.RowsAffected() != 1 {
		return fmt.Errorf("postgres: refresh token rotated concurrently: %w", gatehouse.ErrRefreshReuse)
	}
	_, err = tx.Exec(ctx, `INSERT INTO refresh_tokens (hash, family_id, current) VALUES ($1, $2, true)`, rot.Next[:], familyID)
	return err
}

// tokenState is what a rotation needs to know of the presented token: whether it is its
// family's current token and, if a rotation retired it, when and with what sealed blob.
type tokenState struct {
	current   bool
	rotatedAt time.Time
	sealed    []byte
}

// lockFamilyOf locks the family of token h and then reads the token's state. Every change to a
// family's tokens happens under that lock (a rotation) or deletes the family, so what it reads
// cannot change before the transaction ends.
func lockFamilyOf(ctx context.Context, tx pgx.Tx, h gatehouse.Hash) (*gatehouse.RefreshFamily, tokenState, error) {
	var st tokenState
	var familyID string
	err := tx.QueryRow(ctx, `SELECT family_id FROM refresh_tokens WHERE hash = $1`, h[:]).Scan(&familyID)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, st, errUnknown
	}
	if err != nil {
		return nil, st, err
	}
	f := &gatehouse.RefreshFamily{ID: familyID}
	var created, expires int64
	var amr int16
	err = tx.QueryRow(ctx, `SELECT user_id, created_at, expires_at, amr FROM refresh_families WHERE id = $1 FOR UPDATE`, familyID).
		Scan(&f.UserID, &created, &expires, &amr)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, st, errUnknown // deleted meanwhile
	}
	if err != nil {
		return nil, st, err
	}
	f.CreatedAt, f.ExpiresAt, f.AMR = fromNanos(created), fromNanos(expires), gatehouse.AuthMethods(amr)
	var rotated *int64
	err = tx.QueryRow(ctx, `SELECT current, rotated_at, sealed FROM refresh_tokens WHERE hash = $1`, h[:]).Scan(&st.current, &rotated, &st.sealed)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, st, errUnknown
	}
	if rotated != nil {
		st.rotatedAt = fromNanos(*rotated)
	}
	return f, st, err
}

// RevokeRefreshFamily deletes the family and its tokens; found is false if it is unknown.
func (s *RefreshStore) RevokeRefreshFamily(ctx context.Context, familyID string) (bool, error) {
	ctx, cancel := s.db.bound(ctx)
	defer cancel()
	tag, err := s.db.pool.Exec(ctx, `DELETE FROM refresh_families WHERE id = $1`, familyID)
	if err != nil {
		return false, storeErr("revoke refresh family", err)
	}
	return tag.RowsAffected() > 0, nil
}

// RefreshFamilyByToken returns the family that h belongs to, current or rotated.
func (s *RefreshStore) RefreshFamilyByToken(ctx context.Context, h gatehouse.Hash) (*gatehouse.RefreshFamily, bool, error) {
	ctx, cancel := s.db.bound(ctx)
	defer cancel()
	var f gatehouse.RefreshFamily
	var created, expires int64
	var amr int16
	err := s.db.pool.QueryRow(ctx, `SELECT f.id, f.user_id, f.created_at, f.expires_at, f.amr
		FROM refresh_tokens t JOIN refresh_families f ON f.id = t.family_id WHERE t.hash = $1`, h[:]).
		Scan(&f.ID, &f.UserID, &created, &expires, &amr)
	if errors.Is(err, pgx.ErrNoRows) {
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
	ctx, cancel := s.db.bound(ctx)
	defer cancel()
	_, err := s.db.pool.Exec(ctx, `DELETE FROM refresh_families WHERE user_id = $1`, userID)
	return storeErr("revoke user refresh families", err)
}

// DeleteExpired deletes the families whose expires_at is not after now (and, by cascade, their
// tokens) and returns how many families it deleted.
func (s *RefreshStore) DeleteExpired(ctx context.Context, now time.Time) (int, error) {
	ctx, cancel := s.db.bound(ctx)
	defer cancel()
	tag, err := s.db.pool.Exec(ctx, `DELETE FROM refresh_families WHERE expires_at <= $1`, nanos(now))
	if err != nil {
		return 0, storeErr("delete expired refresh families", err)
	}
	return int(tag.RowsAffected()), nil
}
