package postgres

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/gatehouse-auth/gatehouse"
)

var (
	_ gatehouse.ChallengeStore = (*ChallengeStore)(nil)
	_ gatehouse.Expirer        = (*ChallengeStore)(nil)
)

// ChallengeStore is a gatehouse.ChallengeStore on the table challenges (migration 7), shared by
// every instance. A take is one DELETE ... RETURNING, so of concurrent takes, from any number
// of instances, exactly one gets the row.
type ChallengeStore struct {
	db *DB
}

// NewChallengeStore returns a ChallengeStore on db.
func NewChallengeStore(db *DB) *ChallengeStore { return &ChallengeStore{db: db} }

// PutChallenge stores c; gatehouse.ErrConflict if its hash exists.
func (s *ChallengeStore) PutChallenge(ctx context.Context, c *gatehouse.Challenge) error {
	ctx, cancel := s.db.bound(ctx)
	defer cancel()
	amr := c.AMR
	if amr == nil {
		amr = []string{}
	}
	_, err := s.db.pool.Exec(ctx, `INSERT INTO challenges (hash, purpose, user_id, mode, amr, data, expires_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7)`, c.Hash[:], c.Purpose, c.UserID, c.Mode, amr, c.Data, nanos(c.ExpiresAt))
	return storeErr("put challenge", err)
}

const challengeColumns = `hash, purpose, user_id, mode, amr, data, expires_at`

func (s *ChallengeStore) one(ctx context.Context, op, query string, h gatehouse.Hash, now time.Time) (*gatehouse.Challenge, bool, error) {
	ctx, cancel := s.db.bound(ctx)
	defer cancel()
	var c gatehouse.Challenge
	var hash []byte
	var expires int64
	err := s.db.pool.QueryRow(ctx, query, h[:], nanos(now)).Scan(&hash, &c.Purpose, &c.UserID, &c.Mode, &c.AMR, &c.Data, &expires)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, storeErr(op, err)
	}
	copy(c.Hash[:], hash)
	if len(c.AMR) == 0 {
		c.AMR = nil
	}
	c.ExpiresAt = fromNanos(expires)
	return &c, true, nil
}

// FindChallenge returns the live challenge h.
func (s *ChallengeStore) FindChallenge(ctx context.Context, h gatehouse.Hash, now time.Time) (*gatehouse.Challenge, bool, error) {
	return s.one(ctx, "find challenge", `SELECT `+challengeColumns+` FROM challenges WHERE hash = $1 AND expires_at > $2`, h, now)
}

// TakeChallenge removes and returns the live challenge h.
func (s *ChallengeStore) TakeChallenge(ctx context.Context, h gatehouse.Hash, now time.Time) (*gatehouse.Challenge, bool, error) {
	return s.one(ctx, "take challenge", `DELETE FROM challenges WHERE hash = $1 AND expires_at > $2 RETURNING `+challengeColumns, h, now)
}

// DeleteExpired removes the challenges that expired at now.
func (s *ChallengeStore) DeleteExpired(ctx context.Context, now time.Time) (int, error) {
	ctx, cancel := s.db.bound(ctx)
	defer cancel()
	tag, err := s.db.pool.Exec(ctx, `DELETE FROM challenges WHERE expires_at <= $1`, nanos(now))
	if err != nil {
		return 0, storeErr("delete expired challenges", err)
	}
	return int(tag.RowsAffected()), nil
}
