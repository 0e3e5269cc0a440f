// Package postgres implements gatehouse's durable shared stores on PostgreSQL with
// github.com/jackc/pgx/v5: users, refresh-token families, revocations (the token denylist
// and per-user "not before" times) and the audit trail. Any number of gatehouse instances share one database.
//
// All times are stored as BIGINT Unix nanoseconds, so that comparisons with "not before" times
// are exact. The schema is created and upgraded by embedded, versioned migrations when the
// database is opened; concurrent instances serialise them with an advisory lock.
//
// Every call is bounded by Options.Timeout. A database that cannot be reached, or answers with
// anything but a constraint violation, gives gatehouse.ErrUnavailable; a unique violation gives
// gatehouse.ErrConflict.
package postgres

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/gatehouse-auth/gatehouse"
	"github.com/gatehouse-auth/gatehouse/internal/schema"
)

//go:embed migrations/*.sql
var migrations embed.FS

// DefaultTimeout bounds each call to the database.
const DefaultTimeout = 2 * time.Second

// Options configures a DB. Zero fields take the defaults.
type Options struct {
	// Timeout bounds each call to the database. Default DefaultTimeout.
	Timeout time.Duration
}

// DB is a PostgreSQL database with gatehouse's schema, on a ready pgx pool.
type DB struct {
	pool    *pgxpool.Pool
	timeout time.Duration
}

// Open migrates the database behind pool to the current schema and returns it. The caller
// keeps ownership of the pool (and closes it). It returns an error wrapping
// gatehouse.ErrUnavailable if the database cannot be reached.
func Open(ctx context.Context, pool *pgxpool.Pool, opts Options) (*DB, error) {
	if opts.Timeout <= 0 {
		opts.Timeout = DefaultTimeout
	}
	d := &DB{pool: pool, timeout: opts.Timeout}
	if err := d.migrate(ctx); err != nil {
		return nil, err
	}
	return d, nil
}

// Pool returns the underlying pool (for tests and maintenance).
func (d *DB) Pool() *pgxpool.Pool { return d.pool }

// Ping checks that the database answers, within the timeout.
func (d *DB) Ping(ctx context.Context) error {
	ctx, cancel := d.bound(ctx)
	defer cancel()
	return storeErr("ping", d.pool.Ping(ctx))
}

func (d *DB) bound(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, d.timeout)
}

// migrateTimeout bounds each migration (waiting for another instance's included). Start-up is
// not the request path: migrations get time of their own.
const migrateTimeout = 30 * time.Second

// migrationLock is the first half of the advisory lock key that serialises the migrations of
// concurrent instances; the second half is a hash of the schema, so that deployments (and test
// runs) in other schemas of the same database do not wait for each other.
const migrationLock = 0x67617465 // "gate"

// migrate applies the pending migrations through a database/sql view of the pool (the shared
// runner speaks database/sql; the stores keep pgx's own interface).
func (d *DB) migrate(ctx context.Context) error {
	ms, err := schema.Load(migrations, "migrations")
	if err != nil {
		return fmt.Errorf("postgres: %w", err)
	}
	sdb := stdlib.OpenDBFromPool(d.pool)
	defer sdb.Close()
	return storeErr("migrate", schema.Migrate(ctx, sdb, schema.PostgreSQL(migrationLock, migrateTimeout), ms))
}

// tx runs fn in a transaction and commits it if fn succeeds. Errors go through storeErr, except
// gatehouse errors that fn returns, which are kept.
func (d *DB) tx(ctx context.Context, op string, fn func(tx pgx.Tx) error) error {
	tx, err := d.pool.Begin(ctx)
	if err != nil {
		return storeErr(op, err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	if err := fn(tx); err != nil {
		var ge *gatehouse.Error
		if errors.As(err, &ge) {
			return err
		}
		return storeErr(op, err)
	}
	return storeErr(op, tx.Commit(ctx))
}

// storeErr maps a driver error to gatehouse's errors: a unique violation becomes ErrConflict,
// and anything else (no connection, a terminated backend, a timeout, a server error) becomes
// ErrUnavailable, so that the request fails closed with 503.
func storeErr(op string, err error) error {
	if err == nil {
		return nil
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) && pe.Code == "23505" {
		return fmt.Errorf("postgres: %s: %w", op, gatehouse.ErrConflict)
	}
	return gatehouse.Unavailable("postgres: "+op, err)
}

func nanos(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

func fromNanos(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n).UTC()
}
