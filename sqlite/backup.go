package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"
)

// ErrNoDatabase reports that the database to copy or check does not exist.
var ErrNoDatabase = errors.New("sqlite: no database")

// Backup writes a consistent copy of the database at src to dst, which must not exist, while
// the server (or any other process) goes on reading and writing src. It runs VACUUM INTO on a
// read-only connection: the copy is made in one read transaction, so it is the database as of
// one instant, every committed transaction up to it included (in WAL mode a reader never
// waits for writers, nor they for it). It opens src without migrating it, so a newer
// gatehouse backs up an older server's database as it is. dst is written with mode 0600.
func Backup(ctx context.Context, src, dst string) error {
	db, err := openExisting(src, busyForBackup)
	if err != nil {
		return err
	}
	defer db.Close()
	if _, err := os.Stat(dst); !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("sqlite: backup: %s already exists", dst)
	}
	// The copy is written by SQLite with the process umask: make it private first.
	fh, err := os.OpenFile(dst, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return fmt.Errorf("sqlite: backup: %w", err)
	}
	fh.Close()
	if err := os.Remove(dst); err != nil { // VACUUM INTO refuses a non-empty file, and wants none
		return fmt.Errorf("sqlite: backup: %w", err)
	}
	if _, err := db.ExecContext(ctx, `VACUUM INTO ?`, dst); err != nil {
		os.Remove(dst)
		return fmt.Errorf("sqlite: backup of %s: %w", src, err)
	}
	return os.Chmod(dst, 0o600)
}

// busyForBackup is how long the copy waits for a lock; in WAL mode a reader waits only while
// a checkpoint resets the log, which is brief.
const busyForBackup = 30 * time.Second

// Facts are what Check found in a database: its schema version and how many rows its tables
// hold.
type Facts struct {
	// SchemaVersion is the highest migration applied.
	SchemaVersion int
	// Rows counts the rows of each gatehouse table.
	Rows map[string]int
}

// Tables are the gatehouse tables of the schema, in an order that respects their references.
var Tables = []string{"users", "sessions", "refresh_families", "refresh_tokens", "revoked_tokens", "user_not_before", "audit_events"}

// Check runs PRAGMA integrity_check on the database at path and returns what it holds; any
// problem the check reports is an error. It does not migrate the database.
func Check(ctx context.Context, path string) (Facts, error) {
	db, err := openExisting(path, busyForBackup)
	if err != nil {
		return Facts{}, err
	}
	defer db.Close()
	rows, err := db.QueryContext(ctx, `PRAGMA integrity_check`)
	if err != nil {
		return Facts{}, fmt.Errorf("sqlite: integrity check of %s: %w", path, err)
	}
	var problems []string
	for rows.Next() {
		var line string
		if err := rows.Scan(&line); err != nil {
			rows.Close()
			return Facts{}, fmt.Errorf("sqlite: integrity check of %s: %w", path, err)
		}
		if line != "ok" {
			problems = append(problems, line)
		}
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return Facts{}, fmt.Errorf("sqlite: integrity check of %s: %w", path, err)
	}
	if len(problems) > 0 {
		return Facts{}, fmt.Errorf("sqlite: integrity check of %s failed: %s", path, strings.Join(problems, "; "))
	}
	return facts(ctx, db)
}

func facts(ctx context.Context, db *sql.DB) (Facts, error) {
	f := Facts{Rows: make(map[string]int, len(Tables))}
	if err := db.QueryRowContext(ctx, `SELECT coalesce(max(version), 0) FROM schema_migrations`).Scan(&f.SchemaVersion); err != nil {
		return Facts{}, fmt.Errorf("sqlite: not a gatehouse database: %w", err)
	}
	for _, t := range Tables {
		var n int
		if err := db.QueryRowContext(ctx, `SELECT count(*) FROM `+t).Scan(&n); err != nil {
			return Facts{}, fmt.Errorf("sqlite: not a gatehouse database (table %s): %w", t, err)
		}
		f.Rows[t] = n
	}
	return f, nil
}

// openExisting opens the database at path read-only, without creating or migrating it.
func openExisting(path string, busy time.Duration) (*sql.DB, error) {
	st, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w at %s", ErrNoDatabase, path)
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: %w", err)
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("sqlite: %s is not a regular file", path)
	}
	q := url.Values{}
	q.Add("mode", "ro")
	q.Add("_pragma", "busy_timeout("+strconv.FormatInt(busy.Milliseconds(), 10)+")")
	db, err := sql.Open("sqlite", "file:"+path+"?"+q.Encode())
	if err != nil {
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	db.SetMaxOpenConns(1)
	return db, nil
}
