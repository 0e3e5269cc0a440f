package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"time"

	"github.com/gatehouse-auth/gatehouse"
)

var (
	_ gatehouse.ChallengeStore = (*ChallengeStore)(nil)
	_ gatehouse.Expirer        = (*ChallengeStore)(nil)
)

// ChallengeStore is a gatehouse.ChallengeStore on the table challenges (migration 5). A take is
// one DELETE ... RETURNING, so of concurrent takes exactly one gets the row.
type ChallengeStore struct {
	db *DB
}

// NewChallengeStore returns a ChallengeStore on db.
func NewChallengeStore(db *DB) *ChallengeStore { return &ChallengeStore{db: db} }

// PutChallenge stores c; gatehouse.ErrConflict if its hash exists.
func (s *ChallengeStore) PutChallenge(ctx context.Context, c *gatehouse.Challenge) error {
	_, err := s.db.db.ExecContext(ctx, `INSERT INTO challenges (hash, purpose, user_id, mode, amr, data, expires_at)
		VALUES (?, ?, ?, ?, ?, ?, ?)`, c.Hash[:], c.Purpose, c.UserID, c.Mode, strings.Join(c.AMR, ","), nullBlob(c.Data), nanos(c.ExpiresAt))
	return storeErr("put challenge", err)
}

const challengeColumns = `hash, purpose, user_id, mode, amr, data, expires_at`

func scanChallenge(row scanner) (*gatehouse.Challenge, error) {
	var c gatehouse.Challenge
	var hash []byte
	var amr string
	var expires int64
	if err := row.Scan(&hash, &c.Purpose, &c.UserID, &c.Mode, &amr, &c.Data, &expires); err != nil {
		return nil, err
	}
	copy(c.Hash[:], hash)
	if amr != "" {
		c.AMR = strings.Split(amr, ",")
	}
	c.ExpiresAt = fromNanos(expires)
	return &c, nil
}

func (s *ChallengeStore) one(ctx context.Context, op, query string, h gatehouse.Hash, now time.Time) (*gatehouse.Challenge, bool, error) {
	c, err := scanChallenge(s.db.db.QueryRowContext(ctx, query, h[:], nanos(now)))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, storeErr(op, err)
	}
	return c, true, nil
}

// FindChallenge returns the live challenge h.
func (s *ChallengeStore) FindChallenge(ctx context.Context, h gatehouse.Hash, now time.Time) (*gatehouse.Challenge, bool, error) {
	return s.one(ctx, "find challenge", `SELECT `+challengeColumns+` FROM challenges WHERE hash = ? AND expires_at > ?`, h, now)
}

// TakeChallenge removes and returns the live challenge h.
func (s *ChallengeStore) TakeChallenge(ctx context.Context, h gatehouse.Hash, now time.Time) (*gatehouse.Challenge, bool, error) {
	return s.one(ctx, "take challenge", `DELETE FROM challenges WHERE hash = ? AND expires_at > ? RETURNING `+challengeColumns, h, now)
}

// DeleteExpired removes the challenges that expired at now.
func (s *ChallengeStore) DeleteExpired(ctx context.Context, now time.Time) (int, error) {
	res, err := s.db.db.ExecContext(ctx, `DELETE FROM challenges WHERE expires_at <= ?`, nanos(now))
	if err != nil {
		return 0, storeErr("delete expired challenges", err)
	}
	n, err := res.RowsAffected()
	return int(n), storeErr("delete expired challenges", err)
}
