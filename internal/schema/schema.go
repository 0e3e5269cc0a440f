// Package schema applies the versioned SQL migrations that the SQLite and PostgreSQL stores embed.
// Both stores share the runner; a Dialect holds what differs between them.
//
// A migration is a file named NNN_description.sql. Each runs in a transaction of its own,
// together with the row that records its version in the table schema_migrations (version,
// applied_at in Unix nanoseconds), so that a migration is either applied and recorded, or
// neither. A version already recorded is skipped: opening a database twice migrates it once.
package schema

import (
	"context"
	"database/sql"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Dialect is what the runner needs to know of a database engine.
type Dialect struct {
	// Placeholder returns the n-th (from 1) query parameter: "?" or "$1".
	Placeholder func(n int) string
	// Int64 is the column type of a 64-bit integer: applied_at holds Unix nanoseconds.
	Int64 string
	// Lock, when set, is run first in every migration's transaction and holds a lock until the
	// transaction ends, so that concurrent processes migrating one database wait for each other.
	Lock string
	// LockArgs are the parameters of Lock.
	LockArgs []any
	// Timeout, when positive, bounds each migration, waiting for Lock included.
	Timeout time.Duration
}

// SQLite is the dialect of SQLite, where one process owns the database (a transaction begun
// with BEGIN IMMEDIATE already excludes other writers).
var SQLite = Dialect{Placeholder: func(int) string { return "?" }, Int64: "INTEGER"}

// PostgreSQL returns the dialect of PostgreSQL. Each migration takes the transaction-scoped
// advisory lock (lockKey, hashtext(current_schema())): instances of one deployment wait for
// each other, deployments in other schemas of the same database do not. timeout bounds each
// migration.
func PostgreSQL(lockKey int32, timeout time.Duration) Dialect {
	return Dialect{
		Placeholder: func(n int) string { return "$" + strconv.Itoa(n) },
		Int64:       "BIGINT",
		Lock:        `SELECT pg_advisory_xact_lock($1, hashtext(current_schema()))`,
		LockArgs:    []any{lockKey},
		Timeout:     timeout,
	}
}

// Migration is one migration file.
type Migration struct {
	Version int
	Name    string // the file name, for messages
	SQL     string
}

// Load reads the migrations *.sql in dir of fsys, sorted by version. A file whose name does not
// start with a number and an underscore, or two files with one version, are an error.
func Load(fsys fs.FS, dir string) ([]Migration, error) {
	names, err := fs.Glob(fsys, path.Join(dir, "*.sql"))
	if err != nil {
		return nil, err
	}
	var ms []Migration
	seen := map[int]string{}
	for _, name := range names {
		base := path.Base(name)
		version, err := strconv.Atoi(strings.SplitN(base, "_", 2)[0])
		if err != nil {
			return nil, fmt.Errorf("migration %s: bad version prefix", base)
		}
		if other, dup := seen[version]; dup {
			return nil, fmt.Errorf("migrations %s and %s: same version %d", other, base, version)
		}
		seen[version] = base
		body, err := fs.ReadFile(fsys, name)
		if err != nil {
			return nil, err
		}
		ms = append(ms, Migration{Version: version, Name: base, SQL: string(body)})
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].Version < ms[j].Version })
	return ms, nil
}

// Migrate applies, in order, each migration whose version schema_migrations does not record,
// creating that table if needed. It returns the first error, naming the migration; the
// migrations before it stay applied.
func Migrate(ctx context.Context, db *sql.DB, d Dialect, ms []Migration) error {
	for _, m := range ms {
		if err := apply(ctx, db, d, m); err != nil {
			return fmt.Errorf("migration %s: %w", m.Name, err)
		}
	}
	return nil
}

// apply runs m and records its version in one transaction, unless the version is recorded.
func apply(ctx context.Context, db *sql.DB, d Dialect, m Migration) error {
	if d.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, d.Timeout)
		defer cancel()
	}
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if d.Lock != "" {
		if _, err := tx.ExecContext(ctx, d.Lock, d.LockArgs...); err != nil {
			return err
		}
	}
	// Created inside the locked transaction: concurrent first starts do not race to create it.
	if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version INTEGER PRIMARY KEY, applied_at `+d.Int64+` NOT NULL)`); err != nil {
		return err
	}
	var n int
	if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM schema_migrations WHERE version = `+d.Placeholder(1), m.Version).Scan(&n); err != nil {
		return err
	}
	if n > 0 {
		return nil
	}
	if _, err := tx.ExecContext(ctx, m.SQL); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, applied_at) VALUES (`+
		d.Placeholder(1)+`, `+d.Placeholder(2)+`)`, m.Version, time.Now().UnixNano()); err != nil {
		return err
	}
	return tx.Commit()
}
