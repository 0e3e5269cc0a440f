package postgres

import (
	"context"
	"errors"

	"github.com/jackc/pgx/v5"

	"github.com/gatehouse-auth/gatehouse"
)

var _ gatehouse.GrantStore = (*GrantStore)(nil)

// GrantStore is a gatehouse.GrantStore on the table grants (migration 12), shared by every
// instance.
type GrantStore struct {
	db *DB
}

// NewGrantStore returns a GrantStore on db.
func NewGrantStore(db *DB) *GrantStore { return &GrantStore{db: db} }

// SaveGrant stores g, or replaces the scopes and update time of the existing grant.
func (s *GrantStore) SaveGrant(ctx context.Context, g *gatehouse.Grant) error {
	ctx, cancel := s.db.bound(ctx)
	defer cancel()
	_, err := s.db.pool.Exec(ctx, `INSERT INTO grants (user_id, client_id, scopes, created_at, updated_at)
		VALUES ($1, $2, $3, $4, $5) ON CONFLICT (user_id, client_id) DO UPDATE SET scopes = EXCLUDED.scopes, updated_at = EXCLUDED.updated_at`,
		g.UserID, g.ClientID, nonNil(g.Scopes), nanos(g.CreatedAt), nanos(g.UpdatedAt))
	return storeErr("save grant", err)
}

const grantColumns = `user_id, client_id, scopes, created_at, updated_at`

func scanGrant(row pgx.Row) (*gatehouse.Grant, error) {
	var g gatehouse.Grant
	var created, updated int64
	if err := row.Scan(&g.UserID, &g.ClientID, &g.Scopes, &created, &updated); err != nil {
		return nil, err
	}
	g.CreatedAt, g.UpdatedAt = fromNanos(created), fromNanos(updated)
	return &g, nil
}

// Grant returns the user's grant to the client.
func (s *GrantStore) Grant(ctx context.Context, userID, clientID string) (*gatehouse.Grant, bool, error) {
	ctx, cancel := s.db.bound(ctx)
	defer cancel()
	g, err := scanGrant(s.db.pool.QueryRow(ctx, `SELECT `+grantColumns+` FROM grants WHERE user_id = $1 AND client_id = $2`, userID, clientID))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, storeErr("grant", err)
	}
	return g, true, nil
}

// ListGrants returns the user's grants ordered by client id.
func (s *GrantStore) ListGrants(ctx context.Context, userID string) ([]*gatehouse.Grant, error) {
	ctx, cancel := s.db.bound(ctx)
	defer cancel()
	rows, err := s.db.pool.Query(ctx, `SELECT `+grantColumns+` FROM grants WHERE user_id = $1 ORDER BY client_id`, userID)
	if err != nil {
		return nil, storeErr("list grants", err)
	}
	defer rows.Close()
	out := []*gatehouse.Grant{}
	for rows.Next() {
		g, err := scanGrant(rows)
		if err != nil {
			return nil, storeErr("list grants", err)
		}
		out = append(out, g)
	}
	return out, storeErr("list grants", rows.Err())
}

// DeleteGrant removes the user's grant to the client.
func (s *GrantStore) DeleteGrant(ctx context.Context, userID, clientID string) (bool, error) {
	ctx, cancel := s.db.bound(ctx)
	defer cancel()
	tag, err := s.db.pool.Exec(ctx, `DELETE FROM grants WHERE user_id = $1 AND client_id = $2`, userID, clientID)
	if err != nil {
		return false, storeErr("delete grant", err)
	}
	return tag.RowsAffected() > 0, nil
}
