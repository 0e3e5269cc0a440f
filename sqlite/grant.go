package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"

	"github.com/gatehouse-auth/gatehouse"
)

var _ gatehouse.GrantStore = (*GrantStore)(nil)

// GrantStore is a gatehouse.GrantStore on the table grants (migration 10).
type GrantStore struct {
	db *DB
}

// NewGrantStore returns a GrantStore on db.
func NewGrantStore(db *DB) *GrantStore { return &GrantStore{db: db} }

// SaveGrant stores g, or replaces the scopes and update time of the existing grant.
func (s *GrantStore) SaveGrant(ctx context.Context, g *gatehouse.Grant) error {
	_, err := s.db.db.ExecContext(ctx, `INSERT INTO grants (user_id, client_id, scopes, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?) ON CONFLICT (user_id, client_id) DO UPDATE SET scopes = excluded.scopes, updated_at = excluded.updated_at`,
		g.UserID, g.ClientID, jsonList(g.Scopes), nanos(g.CreatedAt), nanos(g.UpdatedAt))
	return storeErr("save grant", err)
}

const grantColumns = `user_id, client_id, scopes, created_at, updated_at`

func scanGrant(row scanner) (*gatehouse.Grant, error) {
	var g gatehouse.Grant
	var scopes string
	var created, updated int64
	if err := row.Scan(&g.UserID, &g.ClientID, &scopes, &created, &updated); err != nil {
		return nil, err
	}
	if err := json.Unmarshal([]byte(scopes), &g.Scopes); err != nil {
		return nil, err
	}
	g.CreatedAt, g.UpdatedAt = fromNanos(created), fromNanos(updated)
	return &g, nil
}

// Grant returns the user's grant to the client.
func (s *GrantStore) Grant(ctx context.Context, userID, clientID string) (*gatehouse.Grant, bool, error) {
	g, err := scanGrant(s.db.db.QueryRowContext(ctx, `SELECT `+grantColumns+` FROM grants WHERE user_id = ? AND client_id = ?`, userID, clientID))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, storeErr("grant", err)
	}
	return g, true, nil
}

// ListGrants returns the user's grants ordered by client id.
func (s *GrantStore) ListGrants(ctx context.Context, userID string) ([]*gatehouse.Grant, error) {
	rows, err := s.db.db.QueryContext(ctx, `SELECT `+grantColumns+` FROM grants WHERE user_id = ? ORDER BY client_id`, userID)
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
	res, err := s.db.db.ExecContext(ctx, `DELETE FROM grants WHERE user_id = ? AND client_id = ?`, userID, clientID)
	if err != nil {
		return false, storeErr("delete grant", err)
	}
	n, err := res.RowsAffected()
	return n > 0, storeErr("delete grant", err)
}
