// Package sqlite implements gatehouse's stores on an embedded SQLite database
// (modernc.org/sqlite, pure Go, no cgo) in WAL mode. It is the single-node default: one
// gatehouse process owns the database file.
//
// All times are stored as INTEGER Unix nanoseconds, so that comparisons with "not before"
// times are exact.
package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strconv"
	"time"

	"github.com/gatehouse-auth/gatehouse"
	"github.com/gatehouse-auth/gatehouse/internal/schema"
	sqlite3 "modernc.org/sqlite"
	sqlite3lib "modernc.org/sqlite/lib"
)

//go:embed migrations/*.sql
var migrations embed.FS

// DefaultBusyTimeout is how long a statement waits for a lock held by another connection
// before the store reports gatehouse.ErrUnavailable.
const DefaultBusyTimeout = 5 * time.Second

// DB is an open gatehouse SQLite database with its schema migrated.
type DB struct {
	db *sql.DB
}

// Open opens (creating if needed) the database at path, sets WAL mode, foreign keys and the busy
// timeout, and applies pending migrations. busyTimeout <= 0 means DefaultBusyTimeout.
//
// A new database file is created with mode 0600, whatever the umask and the directory's mode:
// it holds password hashes. SQLite gives its -wal and -shm files the database file's mode, so
// they are 0600 too. An existing file keeps its mode.
func Open(ctx context.Context, path string, busyTimeout time.Duration) (*DB, error) {
	if busyTimeout <= 0 {
		busyTimeout = DefaultBusyTimeout
	}
	if err := createPrivate(path); err != nil {
		return nil, err
	}
	q := url.Values{}
	q.Add("_pragma", "busy_timeout("+strconv.FormatInt(busyTimeout.Milliseconds(), 10)+")")
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "synchronous(NORMAL)")
	q.Add("_pragma", "foreign_keys(ON)")
	q.Add("_txlock", "immediate")
	sdb, err := sql.Open("sqlite", "file:"+path+"?"+q.Encode())
	if err != nil {
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	sdb.SetMaxOpenConns(8)
	sdb.SetMaxIdleConns(8)
	sdb.SetConnMaxIdleTime(0)
	d := &DB{db: sdb}
	if err := d.migrate(ctx); err != nil {
		sdb.Close()
		return nil, err
	}
	return d, nil
}

// createPrivate creates the file at path, empty and readable by its owner only, unless it
// exists (SQLite takes an empty file as a new database).
func createPrivate(path string) error {
	fh, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, os.ErrExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("sqlite: create %s: %w", path, err)
	}
	return fh.Close()
}

// Close closes the database.
func (d *DB) Close() error { return d.db.Close() }

// SQL returns the underlying *sql.DB (for tests and maintenance commands).
func (d *DB) SQL() *sql.DB { return d.db }

// Ping checks that the database answers.
func (d *DB) Ping(ctx context.Context) error {
	var one int
	if err := d.db.QueryRowContext(ctx, "SELECT 1").Scan(&one); err != nil {
		return storeErr("ping", err)
	}
	return nil
}

func (d *DB) migrate(ctx context.Context) error {
	ms, err := schema.Load(migrations, "migrations")
	if err != nil {
		return fmt.Errorf("sqlite: %w", err)
	}
	if err := schema.Migrate(ctx, d.db, schema.SQLite, ms); err != nil {
		return fmt.Errorf("sqlite: %w", err)
	}
	return nil
}

// storeErr maps a driver error to gatehouse's errors: a unique-constraint violation becomes
// ErrConflict, a cancelled context stays what it is, and anything else (busy, I/O, a closed
// database) becomes ErrUnavailable so that the request fails closed with 503.
func storeErr(op string, err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return gatehouse.Unavailable("sqlite: "+op, err)
	}
	var se *sqlite3.Error
	if errors.As(err, &se) {
		switch se.Code() {
		case sqlite3lib.SQLITE_CONSTRAINT_UNIQUE, sqlite3lib.SQLITE_CONSTRAINT_PRIMARYKEY:
			return fmt.Errorf("sqlite: %s: %w", op, gatehouse.ErrConflict)
		}
	}
	return gatehouse.Unavailable("sqlite: "+op, err)
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
