package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/gatehouse-auth/gatehouse"
)

var _ gatehouse.ClientStore = (*ClientStore)(nil)

// ClientStore is a gatehouse.ClientStore on the table clients (migration 9), shared by every
// instance.
type ClientStore struct {
	db *DB
}

// NewClientStore returns a ClientStore on db.
func NewClientStore(db *DB) *ClientStore { return &ClientStore{db: db} }

const clientColumns = `id, name, public, first_party, redirect_uris, scopes, secret_hash, created_at, post_logout_redirect_uris, backchannel_logout_uri, id_token_alg`

// CreateClient stores c; gatehouse.ErrConflict if its id exists.
func (s *ClientStore) CreateClient(ctx context.Context, c *gatehouse.Client) error {
	ctx, cancel := s.db.bound(ctx)
	defer cancel()
	_, err := s.db.pool.Exec(ctx, `INSERT INTO clients (`+clientColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
		c.ID, c.Name, c.Public, c.FirstParty, nonNil(c.RedirectURIs), nonNil(c.Scopes), secretBytes(c), nanos(c.CreatedAt),
		nonNil(c.PostLogoutRedirectURIs), c.BackchannelLogoutURI, c.IDTokenAlg)
	return storeErr("create client", err)
}

func secretBytes(c *gatehouse.Client) []byte {
	if c.SecretHash == (gatehouse.Hash{}) {
		return nil
	}
	return c.SecretHash[:]
}

// UpdateClient replaces the stored client's fields but its id and creation time;
// gatehouse.ErrNotFound if unknown.
func (s *ClientStore) UpdateClient(ctx context.Context, c *gatehouse.Client) error {
	ctx, cancel := s.db.bound(ctx)
	defer cancel()
	tag, err := s.db.pool.Exec(ctx, `UPDATE clients SET name = $1, public = $2, first_party = $3, redirect_uris = $4,
		scopes = $5, secret_hash = $6, post_logout_redirect_uris = $7, backchannel_logout_uri = $8, id_token_alg = $9 WHERE id = $10`,
		c.Name, c.Public, c.FirstParty, nonNil(c.RedirectURIs), nonNil(c.Scopes), secretBytes(c),
		nonNil(c.PostLogoutRedirectURIs), c.BackchannelLogoutURI, c.IDTokenAlg, c.ID)
	if err != nil {
		return storeErr("update client", err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("postgres: update client: %w", gatehouse.ErrNotFound)
	}
	return nil
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func scanClient(row pgx.Row) (*gatehouse.Client, error) {
	var c gatehouse.Client
	var secret []byte
	var created int64
	if err := row.Scan(&c.ID, &c.Name, &c.Public, &c.FirstParty, &c.RedirectURIs, &c.Scopes, &secret, &created,
		&c.PostLogoutRedirectURIs, &c.BackchannelLogoutURI, &c.IDTokenAlg); err != nil {
		return nil, err
	}
	copy(c.SecretHash[:], secret)
	c.CreatedAt = fromNanos(created)
	return &c, nil
}

// ClientByID returns the client; gatehouse.ErrNotFound if unknown.
func (s *ClientStore) ClientByID(ctx context.Context, id string) (*gatehouse.Client, error) {
	ctx, cancel := s.db.bound(ctx)
	defer cancel()
	c, err := scanClient(s.db.pool.QueryRow(ctx, `SELECT `+clientColumns+` FROM clients WHERE id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("postgres: client: %w", gatehouse.ErrNotFound)
	}
	if err != nil {
		return nil, storeErr("client", err)
	}
	return c, nil
}

// ListClients returns up to limit clients ordered by id (bytewise), after the id after.
func (s *ClientStore) ListClients(ctx context.Context, after string, limit int) ([]*gatehouse.Client, error) {
	out := []*gatehouse.Client{}
	if limit <= 0 {
		return out, nil
	}
	ctx, cancel := s.db.bound(ctx)
	defer cancel()
	rows, err := s.db.pool.Query(ctx, `SELECT `+clientColumns+` FROM clients WHERE id > $1 ORDER BY id LIMIT $2`, after, limit)
	if err != nil {
		return nil, storeErr("list clients", err)
	}
	defer rows.Close()
	for rows.Next() {
		c, err := scanClient(rows)
		if err != nil {
			return nil, storeErr("list clients", err)
		}
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, storeErr("list clients", err)
	}
	return out, nil
}

// DeleteClient removes the client; gatehouse.ErrNotFound if unknown.
func (s *ClientStore) DeleteClient(ctx context.Context, id string) error {
	ctx, cancel := s.db.bound(ctx)
	defer cancel()
	tag, err := s.db.pool.Exec(ctx, `DELETE FROM clients WHERE id = $1`, id)
	if err != nil {
		return storeErr("delete client", err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("postgres: delete client: %w", gatehouse.ErrNotFound)
	}
	return nil
}
