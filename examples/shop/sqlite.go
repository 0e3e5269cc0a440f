package shop

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/gatehouse-auth/gatehouse"
)

// SQLiteCarts is a CartStore in a table of gatehouse's SQLite database (shop_carts), beside the
// sessions: carts survive restarts and live wherever the sessions do.
type SQLiteCarts struct {
	db *sql.DB
}

var _ CartStore = (*SQLiteCarts)(nil)

// NewSQLiteCarts creates the shop_carts table if needed. db should be gatehouse's own database
// (sqlite.DB.SQL()), opened with immediate transactions so that updates serialise.
func NewSQLiteCarts(ctx context.Context, db *sql.DB) (*SQLiteCarts, error) {
	_, err := db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS shop_carts (
		user_id    TEXT PRIMARY KEY,
		cart       TEXT NOT NULL,
		updated_at INTEGER NOT NULL
	) STRICT`)
	if err != nil {
		return nil, fmt.Errorf("shop: create shop_carts: %w", err)
	}
	return &SQLiteCarts{db: db}, nil
}

// Cart implements CartStore.
func (s *SQLiteCarts) Cart(ctx context.Context, userID string) (*Cart, error) {
	return readCart(ctx, s.db, userID)
}

type querier interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

func readCart(ctx context.Context, q querier, userID string) (*Cart, error) {
	var raw string
	var updated int64
	err := q.QueryRowContext(ctx, `SELECT cart, updated_at FROM shop_carts WHERE user_id = ?`, userID).Scan(&raw, &updated)
	if errors.Is(err, sql.ErrNoRows) {
		return &Cart{}, nil
	}
	if err != nil {
		return nil, gatehouse.Unavailable("shop: read cart", err)
	}
	c := &Cart{}
	if err := json.Unmarshal([]byte(raw), c); err != nil {
		return nil, fmt.Errorf("shop: decode cart: %w", err)
	}
	c.UpdatedAt = time.Unix(0, updated)
	return c, nil
}

// UpdateCart implements CartStore in one transaction; the database's immediate transactions
// take the write lock at BEGIN, so concurrent updates of one cart run one after the other.
func (s *SQLiteCarts) UpdateCart(ctx context.Context, userID string, now time.Time, f func(*Cart) error) (*Cart, error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, gatehouse.Unavailable("shop: begin", err)
	}
	defer tx.Rollback()
	c, err := readCart(ctx, tx, userID)
	if err != nil {
		return nil, err
	}
	if err := f(c); err != nil {
		return nil, err
	}
	c.UpdatedAt = now
	if c.empty() {
		_, err = tx.ExecContext(ctx, `DELETE FROM shop_carts WHERE user_id = ?`, userID)
	} else {
		raw, _ := json.Marshal(c) // plain structs: cannot fail
		_, err = tx.ExecContext(ctx, `INSERT INTO shop_carts (user_id, cart, updated_at) VALUES (?, ?, ?)
			ON CONFLICT (user_id) DO UPDATE SET cart = excluded.cart, updated_at = excluded.updated_at`,
			userID, string(raw), now.UnixNano())
	}
	if err != nil {
		return nil, gatehouse.Unavailable("shop: write cart", err)
	}
	if err := tx.Commit(); err != nil {
		return nil, gatehouse.Unavailable("shop: commit", err)
	}
	return c, nil
}

// DeleteStaleCarts implements CartStore.
func (s *SQLiteCarts) DeleteStaleCarts(ctx context.Context, t time.Time) (int, error) {
	res, err := s.db.ExecContext(ctx, `DELETE FROM shop_carts WHERE updated_at < ?`, t.UnixNano())
	if err != nil {
		return 0, gatehouse.Unavailable("shop: delete stale carts", err)
	}
	n, _ := res.RowsAffected()
	return int(n), nil
}
