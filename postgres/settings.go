package postgres

import (
	"context"

	"github.com/gatehouse-auth/gatehouse"
)

var _ gatehouse.IssuerRecorder = (*UserStore)(nil)

// RecordIssuer records iss as the issuer of the tokens when none is recorded, and returns the
// recorded one. Of several instances starting at once, the first insert wins and every one
// reads the winner.
func (s *UserStore) RecordIssuer(ctx context.Context, iss string) (string, error) {
	ctx, cancel := s.db.bound(ctx)
	defer cancel()
	var recorded string
	// DO UPDATE (to the same value) rather than DO NOTHING plus a SELECT: when another instance
	// inserts the row concurrently, the SELECT's snapshot predates that commit and finds no row,
	// whereas DO UPDATE locks the committed row and returns it.
	err := s.db.pool.QueryRow(ctx, `INSERT INTO settings (name, value) VALUES ('issuer', $1)
		ON CONFLICT (name) DO UPDATE SET value = settings.value RETURNING value`, iss).Scan(&recorded)
	return recorded, storeErr("record issuer", err)
}

// ReplaceIssuer records iss as the issuer of the tokens, in place of the recorded one.
func (s *UserStore) ReplaceIssuer(ctx context.Context, iss string) error {
	ctx, cancel := s.db.bound(ctx)
	defer cancel()
	_, err := s.db.pool.Exec(ctx, `INSERT INTO settings (name, value) VALUES ('issuer', $1)
		ON CONFLICT (name) DO UPDATE SET value = EXCLUDED.value`, iss)
	return storeErr("replace issuer", err)
}
