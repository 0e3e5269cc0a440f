package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/gatehouse-auth/gatehouse"
)

var _ gatehouse.ClientStore = (*ClientStore)(nil)

// ClientStore is a gatehouse.ClientStore on the table clients (migration 7).
type ClientStore struct {
	db *DB
}

// NewClientStore returns a ClientStore on db.
func NewClientStore(db *DB) *ClientStore { return &ClientStore{db: db} }

const clientColumns = `id, name, public, first_party, redirect_uris, scopes, secret_hash, created_at, post_logout_redirect_uris, backchannel_logout_uri, id_token_alg`

// jsonList encodes a list of strings as a JSON array ([] for nil).
func jsonList(l []string) string {
	if l == nil {
		return "[]"
	}
	b, _ := json.Marshal(l) // a []string always encodes
	return string(b)
}

func secretBytes(c *gatehouse.Client) []byte {
	if c.SecretHash == (gatehouse.Hash{}) {
		return nil
	}
	return c.SecretHash[:]
}

// CreateClient stores c; gatehouse.ErrConflict if its id exists.
func (s *ClientStore) CreateClient(ctx context.Context, c *gatehouse.Client) error {
	_, err := s.db.db.ExecContext(ctx, `INSERT INTO clients (`+clientColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		c.ID, c.Name, c.Public, c.FirstParty, jsonList(c.RedirectURIs), jsonList(c.Scopes), secretBytes(c), nanos(c.CreatedAt),
		jsonList(c.PostLogoutRedirectURIs), c.BackchannelLogoutURI, c.IDTokenAlg)
	return storeErr("create client", err)
}

// UpdateClient replaces the stored client's fields but its id and creation time;
// gatehouse.ErrNotFound if unknown.
func (s *ClientStore) UpdateClient(ctx context.Context, c *gatehouse.Client) error {
	res, err := s.db.db.ExecContext(ctx, `UPDATE clients SET name = ?, public = ?, first_party = ?, redirect_uris = ?,
		scopes = ?, secret_hash = ?, post_logout_redirect_uris = ?, backchannel_logout_uri = ?, id_token_alg = ? WHERE id = ?`,
		c.Name, c.Public, c.FirstParty, jsonList(c.RedirectURIs), jsonList(c.Scopes), secretBytes(c),
		jsonList(c.PostLogoutRedirectURIs), c.BackchannelLogoutURI, c.IDTokenAlg, c.ID)
	if err != nil {
		return storeErr("update client", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return storeErr("update client", err)
	} else if n == 0 {
		return fmt.Errorf("sqlite: update client: %w", gatehouse.ErrNotFound)
	}
	return nil
}

func scanClient(row scanner) (*gatehouse.Client, error) {
	var c gatehouse.Client
	var uris, scopes, logout string
	var secret []byte
	var created int64
	if err := row.Scan(&c.ID, &c.Name, &c.Public, &c.FirstParty, &uris, &scopes, &secret, &created,
		&logout, &c.BackchannelLogoutURI, &c.IDTokenAlg); err != nil {
		return nil, err
	}
	for _, l := range []struct {
		raw string
		to  *[]string
	}{{uris, &c.RedirectURIs}, {scopes, &c.Scopes}, {logout, &c.PostLogoutRedirectURIs}} {
		if err := json.Unmarshal([]byte(l.raw), l.to); err != nil {
			return nil, err
		}
	}
	copy(c.SecretHash[:], secret)
	c.CreatedAt = fromNanos(created)
	return &c, nil
}

// ClientByID returns the client; gatehouse.ErrNotFound if unknown.
func (s *ClientStore) ClientByID(ctx context.Context, id string) (*gatehouse.Client, error) {
	c, err := scanClient(s.db.db.QueryRowContext(ctx, `SELECT `+clientColumns+` FROM clients WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("sqlite: client: %w", gatehouse.ErrNotFound)
	}
	if err != nil {
		return nil, storeErr("client", err)
	}
	return c, nil
}

// ListClients returns up to limit clients ordered by id, after the id after.
func (s *ClientStore) ListClients(ctx context.Context, after string, limit int) ([]*gatehouse.Client, error) {
	out := []*gatehouse.Client{}
	if limit <= 0 {
		return out, nil
	}
	rows, err := s.db.db.QueryContext(ctx, `SELECT `+clientColumns+` FROM clients WHERE id > ? ORDER BY id LIMIT ?`, after, limit)
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
	res, err := s.db.db.ExecContext(ctx, `DELETE FROM clients WHERE id = ?`, id)
	if err != nil {
		return storeErr("delete client", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return storeErr("delete client", err)
	} else if n == 0 {
		return fmt.Errorf("sqlite: delete client: %w", gatehouse.ErrNotFound)
	}
	return nil
}
