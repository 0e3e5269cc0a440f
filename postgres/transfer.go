package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/gatehouse-auth/gatehouse"
)

// What gatehouse migrate needs of the database it copies a deployment into: refresh families
// stored as they are, a record of the copy, and how much the database holds already.

var _ gatehouse.RefreshImporter = (*RefreshStore)(nil)

// ImportRefreshFamilies stores each family with its tokens as they are, in one transaction,
// skipping a family whose id is stored already. A token hash stored under another family is an
// error (gatehouse.ErrConflict), and nothing of the call is stored.
func (s *RefreshStore) ImportRefreshFamilies(ctx context.Context, fams []*gatehouse.RefreshFamilyRecord) (int, error) {
	ctx, cancel := s.db.bound(ctx)
	defer cancel()
	stored := 0
	err := s.db.tx(ctx, "import refresh families", func(tx pgx.Tx) error {
		stored = 0
		for _, rec := range fams {
			ok, err := importFamily(ctx, tx, rec)
			if err != nil {
				return err
			}
			if ok {
				stored++
			}
		}
		return nil
	})
	return stored, err
}

func importFamily(ctx context.Context, tx pgx.Tx, rec *gatehouse.RefreshFamilyRecord) (bool, error) {
	f := rec.Family
	tag, err := tx.Exec(ctx, `INSERT INTO refresh_families (id, user_id, created_at, expires_at, amr) VALUES ($1, $2, $3, $4, $5)
		ON CONFLICT (id) DO NOTHING`, f.ID, f.UserID, nanos(f.CreatedAt), nanos(f.ExpiresAt), int16(f.AMR))
	if err != nil || tag.RowsAffected() == 0 {
		return false, err
	}
	for _, t := range rec.Tokens {
		var rotated *int64
		if !t.RotatedAt.IsZero() {
			n := nanos(t.RotatedAt)
			rotated = &n
		}
		if _, err := tx.Exec(ctx, `INSERT INTO refresh_tokens (hash, family_id, current, rotated_at, sealed) VALUES ($1, $2, $3, $4, $5)`,
			t.Hash[:], f.ID, t.Current, rotated, t.Sealed); err != nil {
			return false, err
		}
	}
	return true, nil
}

// Import is the record of a copy into this database.
type Import struct {
	Source     string
	StartedAt  time.Time
	FinishedAt time.Time // the zero time while the copy is unfinished
	Summary    string
}

// ImportOf returns the record of the copy from source, or nil if there was none.
func (d *DB) ImportOf(ctx context.Context, source string) (*Import, error) {
	ctx, cancel := d.bound(ctx)
	defer cancel()
	var started int64
	var finished *int64
	imp := &Import{Source: source}
	err := d.pool.QueryRow(ctx, `SELECT started_at, finished_at, summary FROM imports WHERE source = $1`, source).Scan(&started, &finished, &imp.Summary)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, storeErr("import record", err)
	}
	imp.StartedAt = fromNanos(started)
	if finished != nil {
		imp.FinishedAt = fromNanos(*finished)
	}
	return imp, nil
}

// BeginImport records that a copy from source begins at now; a copy begun before is marked
// unfinished again until FinishImport.
func (d *DB) BeginImport(ctx context.Context, source string, now time.Time) error {
	ctx, cancel := d.bound(ctx)
	defer cancel()
	_, err := d.pool.Exec(ctx, `INSERT INTO imports (source, started_at) VALUES ($1, $2)
		ON CONFLICT (source) DO UPDATE SET finished_at = NULL`, source, nanos(now))
	return storeErr("begin import", err)
}

// FinishImport records that the copy from source finished at now, with a summary of it.
func (d *DB) FinishImport(ctx context.Context, source string, now time.Time, summary string) error {
	ctx, cancel := d.bound(ctx)
	defer cancel()
	tag, err := d.pool.Exec(ctx, `UPDATE imports SET finished_at = $2, summary = $3 WHERE source = $1`, source, nanos(now), summary)
	if err == nil && tag.RowsAffected() != 1 {
		return fmt.Errorf("postgres: finish import: no copy from %s was begun: %w", source, gatehouse.ErrNotFound)
	}
	return storeErr("finish import", err)
}

// Tables are the gatehouse tables that hold a deployment's data.
var Tables = []string{"users", "refresh_families", "refresh_tokens", "revoked_tokens", "user_not_before", "audit_events", "signing_keys"}

// RowCounts returns how many rows each of Tables holds.
func (d *DB) RowCounts(ctx context.Context) (map[string]int, error) {
	ctx, cancel := d.bound(ctx)
	defer cancel()
	counts := make(map[string]int, len(Tables))
	for _, t := range Tables {
		var n int
		if err := d.pool.QueryRow(ctx, `SELECT count(*) FROM `+t).Scan(&n); err != nil {
			return nil, storeErr("count "+t, err)
		}
		counts[t] = n
	}
	return counts, nil
}
