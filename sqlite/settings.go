package sqlite

import (
	"context"

	"github.com/gatehouse-auth/gatehouse"
)

var _ gatehouse.IssuerRecorder = (*UserStore)(nil)

// RecordIssuer records iss as the issuer of the tokens when none is recorded, and returns the
// recorded one.
func (s *UserStore) RecordIssuer(ctx context.Context, iss string) (string, error) {
	if _, err := s.db.db.ExecContext(ctx, `INSERT INTO settings (name, value) VALUES ('issuer', ?)
		ON CONFLICT (name) DO NOTHING`, iss); err != nil {
		return "", storeErr("record issuer", err)
	}
	var recorded string
	if err := s.db.db.QueryRowContext(ctx, `SELECT value FROM settings WHERE name = 'issuer'`).Scan(&recorded); err != nil {
		return "", storeErr("record issuer", err)
	}
	return recorded, nil
}

// ReplaceIssuer records iss as the issuer of the tokens, in place of the recorded one.
func (s *UserStore) ReplaceIssuer(ctx context.Context, iss string) error {
	_, err := s.db.db.ExecContext(ctx, `INSERT INTO settings (name, value) VALUES ('issuer', ?)
		ON CONFLICT (name) DO UPDATE SET value = excluded.value`, iss)
	return storeErr("replace issuer", err)
}
