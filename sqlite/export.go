package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"

	"github.com/gatehouse-auth/gatehouse"
)

var _ gatehouse.RefreshExporter = (*RefreshStore)(nil)

// ExportRefreshFamilies returns up to limit families with every token they hold, ordered by
// id, starting after the id after, read in one transaction.
func (s *RefreshStore) ExportRefreshFamilies(ctx context.Context, after string, limit int) ([]*gatehouse.RefreshFamilyRecord, error) {
	rows, err := s.db.db.QueryContext(ctx, `
		SELECT f.id, f.user_id, f.created_at, f.expires_at, f.amr, t.hash, t.current, t.rotated_at, t.sealed
		FROM (SELECT * FROM refresh_families WHERE id > ? ORDER BY id LIMIT ?) f
		LEFT JOIN refresh_tokens t ON t.family_id = f.id
		ORDER BY f.id`, after, limit)
	if err != nil {
		return nil, storeErr("export refresh families", err)
	}
	defer rows.Close()
	var out []*gatehouse.RefreshFamilyRecord
	for rows.Next() {
		var f gatehouse.RefreshFamily
		var created, expires, amr int64
		var hash, sealed []byte
		var current sql.NullBool
		var rotated sql.NullInt64
		if err := rows.Scan(&f.ID, &f.UserID, &created, &expires, &amr, &hash, &current, &rotated, &sealed); err != nil {
			return nil, storeErr("export refresh families", err)
		}
		if len(out) == 0 || out[len(out)-1].Family.ID != f.ID {
			f.CreatedAt, f.ExpiresAt, f.AMR = fromNanos(created), fromNanos(expires), gatehouse.AuthMethods(amr)
			out = append(out, &gatehouse.RefreshFamilyRecord{Family: f})
		}
		if hash == nil {
			continue // a family without tokens (the LEFT JOIN keeps it, so that paging goes on)
		}
		if len(hash) != len(gatehouse.Hash{}) {
			return nil, fmt.Errorf("sqlite: export refresh families: a token of family %s has a %d-byte hash", f.ID, len(hash))
		}
		rec := out[len(out)-1]
		rec.Tokens = append(rec.Tokens, gatehouse.RefreshTokenRecord{Hash: gatehouse.Hash(hash),
			Current: current.Bool, RotatedAt: fromNanos(rotated.Int64), Sealed: sealed})
	}
	return out, storeErr("export refresh families", rows.Err())
}

// ID returns an identifier of the database that copies keep (a backup, a restored backup):
// the time its schema was first created. gatehouse migrate records it in the target, so that
// a copy from the same database resumes instead of being refused.
func (d *DB) ID(ctx context.Context) (string, error) {
	var created int64
	if err := d.db.QueryRowContext(ctx, `SELECT applied_at FROM schema_migrations ORDER BY version LIMIT 1`).Scan(&created); err != nil {
		return "", storeErr("database id", err)
	}
	return "sqlite:" + strconv.FormatInt(created, 10), nil
}
