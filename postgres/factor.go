package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/gatehouse-auth/gatehouse"
)

var _ gatehouse.FactorStore = (*FactorStore)(nil)

// FactorStore is a gatehouse.FactorStore on the tables totp_factors, recovery_codes and
// webauthn_credentials (migration 7). Each compare-and-set (a TOTP step, a recovery code) is
// one UPDATE or DELETE with the condition in its WHERE clause: a concurrent statement on the
// same row, from any instance, waits for the first one's commit and then re-checks the
// condition on the new row (READ COMMITTED), so exactly one of them changes it. A user's
// factors go with the user (ON DELETE CASCADE).
type FactorStore struct {
	db *DB
}

// NewFactorStore returns a FactorStore on db.
func NewFactorStore(db *DB) *FactorStore { return &FactorStore{db: db} }

// changed runs an INSERT, UPDATE or DELETE and reports whether it changed a row.
func (s *FactorStore) changed(ctx context.Context, op, query string, args ...any) (bool, error) {
	ctx, cancel := s.db.bound(ctx)
	defer cancel()
	tag, err := s.db.pool.Exec(ctx, query, args...)
	if err != nil {
		return false, storeErr(op, err)
	}
	return tag.RowsAffected() > 0, nil
}

// PutPendingTOTP stores f as the user's pending enrolment; gatehouse.ErrConflict when the user
// has a confirmed factor.
func (s *FactorStore) PutPendingTOTP(ctx context.Context, f *gatehouse.TOTPFactor) error {
	ok, err := s.changed(ctx, "put pending TOTP", `INSERT INTO totp_factors (user_id, id, sealed, created_at)
		VALUES ($1, $2, $3, $4)
		ON CONFLICT (user_id) DO UPDATE SET id = EXCLUDED.id, sealed = EXCLUDED.sealed, created_at = EXCLUDED.created_at,
			confirmed_at = 0, last_step = 0
		WHERE NOT totp_factors.confirmed`, f.UserID, f.ID, f.Sealed, nanos(f.CreatedAt))
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("postgres: put pending TOTP: the user has a confirmed factor: %w", gatehouse.ErrConflict)
	}
	return nil
}

// TOTP returns the user's TOTP factor.
func (s *FactorStore) TOTP(ctx context.Context, userID string) (*gatehouse.TOTPFactor, bool, error) {
	ctx, cancel := s.db.bound(ctx)
	defer cancel()
	f := gatehouse.TOTPFactor{UserID: userID}
	var created, confirmed int64
	err := s.db.pool.QueryRow(ctx, `SELECT id, sealed, confirmed, created_at, confirmed_at, last_step
		FROM totp_factors WHERE user_id = $1`, userID).Scan(&f.ID, &f.Sealed, &f.Confirmed, &created, &confirmed, &f.LastStep)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, storeErr("TOTP", err)
	}
	f.CreatedAt, f.ConfirmedAt = fromNanos(created), fromNanos(confirmed)
	return &f, true, nil
}

// ConfirmTOTP confirms the pending enrolment id.
func (s *FactorStore) ConfirmTOTP(ctx context.Context, userID, id string, step int64, at time.Time) (bool, error) {
	return s.changed(ctx, "confirm TOTP", `UPDATE totp_factors SET confirmed = true, confirmed_at = $1, last_step = $2
		WHERE user_id = $3 AND id = $4 AND NOT confirmed`, nanos(at), step, userID, id)
}

// UseTOTPStep records step if it is later than the last accepted one.
func (s *FactorStore) UseTOTPStep(ctx context.Context, userID, id string, step int64) (bool, error) {
	return s.changed(ctx, "use TOTP step", `UPDATE totp_factors SET last_step = $1
		WHERE user_id = $2 AND id = $3 AND confirmed AND last_step < $1`, step, userID, id)
}

// DeleteTOTP removes the user's TOTP factor.
func (s *FactorStore) DeleteTOTP(ctx context.Context, userID string) (bool, error) {
	return s.changed(ctx, "delete TOTP", `DELETE FROM totp_factors WHERE user_id = $1`, userID)
}

// ReplaceRecoveryCodes makes hashes the user's recovery codes, in one transaction.
func (s *FactorStore) ReplaceRecoveryCodes(ctx context.Context, userID string, hashes []gatehouse.Hash) error {
	ctx, cancel := s.db.bound(ctx)
	defer cancel()
	raw := make([][]byte, len(hashes))
	for i := range hashes {
		raw[i] = hashes[i][:]
	}
	return s.db.tx(ctx, "replace recovery codes", func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `DELETE FROM recovery_codes WHERE user_id = $1`, userID); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `INSERT INTO recovery_codes (user_id, hash) SELECT $1, h FROM unnest($2::bytea[]) AS h
			ON CONFLICT DO NOTHING`, userID, raw)
		return err
	})
}

// UseRecoveryCode removes the user's code whose hash is h.
func (s *FactorStore) UseRecoveryCode(ctx context.Context, userID string, h gatehouse.Hash) (bool, error) {
	return s.changed(ctx, "use recovery code", `DELETE FROM recovery_codes WHERE user_id = $1 AND hash = $2`, userID, h[:])
}

// CountRecoveryCodes returns the number of the user's unused codes.
func (s *FactorStore) CountRecoveryCodes(ctx context.Context, userID string) (int, error) {
	ctx, cancel := s.db.bound(ctx)
	defer cancel()
	var n int
	if err := s.db.pool.QueryRow(ctx, `SELECT count(*) FROM recovery_codes WHERE user_id = $1`, userID).Scan(&n); err != nil {
		return 0, storeErr("count recovery codes", err)
	}
	return n, nil
}

const credentialColumns = `id, user_id, name, public_key, attestation_type, transports, aaguid, sign_count,
	discoverable, user_verified, backup_eligible, backup_state, created_at, last_used_at`

// CreateWebAuthnCredential stores c; gatehouse.ErrConflict when its id is known.
func (s *FactorStore) CreateWebAuthnCredential(ctx context.Context, c *gatehouse.WebAuthnCredential) error {
	transports := c.Transports
	if transports == nil {
		transports = []string{}
	}
	aaguid := c.AAGUID
	if aaguid == nil {
		aaguid = []byte{}
	}
	_, err := s.changed(ctx, "create WebAuthn credential", `INSERT INTO webauthn_credentials (`+credentialColumns+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)`,
		c.ID, c.UserID, c.Name, c.PublicKey, c.AttestationType, transports, aaguid, int64(c.SignCount),
		c.Discoverable, c.UserVerified, c.BackupEligible, c.BackupState, nanos(c.CreatedAt), nanos(c.LastUsedAt))
	return err
}

func scanCredential(row pgx.Row) (*gatehouse.WebAuthnCredential, error) {
	var c gatehouse.WebAuthnCredential
	var count, created, used int64
	if err := row.Scan(&c.ID, &c.UserID, &c.Name, &c.PublicKey, &c.AttestationType, &c.Transports, &c.AAGUID, &count,
		&c.Discoverable, &c.UserVerified, &c.BackupEligible, &c.BackupState, &created, &used); err != nil {
		return nil, err
	}
	if len(c.Transports) == 0 {
		c.Transports = nil
	}
	c.SignCount, c.CreatedAt, c.LastUsedAt = uint32(count), fromNanos(created), fromNanos(used)
	return &c, nil
}

// WebAuthnCredentials returns the user's credentials, oldest first.
func (s *FactorStore) WebAuthnCredentials(ctx context.Context, userID string) ([]*gatehouse.WebAuthnCredential, error) {
	ctx, cancel := s.db.bound(ctx)
	defer cancel()
	rows, err := s.db.pool.Query(ctx, `SELECT `+credentialColumns+` FROM webauthn_credentials
		WHERE user_id = $1 ORDER BY created_at, id`, userID)
	if err != nil {
		return nil, storeErr("WebAuthn credentials", err)
	}
	defer rows.Close()
	var out []*gatehouse.WebAuthnCredential
	for rows.Next() {
		c, err := scanCredential(rows)
		if err != nil {
			return nil, storeErr("WebAuthn credentials", err)
		}
		out = append(out, c)
	}
	return out, storeErr("WebAuthn credentials", rows.Err())
}

// WebAuthnCredentialByID returns the credential with that id.
func (s *FactorStore) WebAuthnCredentialByID(ctx context.Context, id []byte) (*gatehouse.WebAuthnCredential, bool, error) {
	ctx, cancel := s.db.bound(ctx)
	defer cancel()
	c, err := scanCredential(s.db.pool.QueryRow(ctx, `SELECT `+credentialColumns+` FROM webauthn_credentials WHERE id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, storeErr("WebAuthn credential", err)
	}
	return c, true, nil
}

// RecordWebAuthnUse records an assertion with the user's credential id.
func (s *FactorStore) RecordWebAuthnUse(ctx context.Context, userID string, id []byte, use gatehouse.WebAuthnUse) (bool, error) {
	return s.changed(ctx, "record WebAuthn use", `UPDATE webauthn_credentials
		SET sign_count = $1, backup_state = $2, last_used_at = $3 WHERE id = $4 AND user_id = $5`,
		int64(use.SignCount), use.BackupState, nanos(use.At), id, userID)
}

// RenameWebAuthnCredential renames the user's credential id.
func (s *FactorStore) RenameWebAuthnCredential(ctx context.Context, userID string, id []byte, name string) (bool, error) {
	return s.changed(ctx, "rename WebAuthn credential",
		`UPDATE webauthn_credentials SET name = $1 WHERE id = $2 AND user_id = $3`, name, id, userID)
}

// DeleteWebAuthnCredential removes the user's credential id.
func (s *FactorStore) DeleteWebAuthnCredential(ctx context.Context, userID string, id []byte) (bool, error) {
	return s.changed(ctx, "delete WebAuthn credential",
		`DELETE FROM webauthn_credentials WHERE id = $1 AND user_id = $2`, id, userID)
}

// DeleteUserFactors removes every factor of the user, in one transaction.
func (s *FactorStore) DeleteUserFactors(ctx context.Context, userID string) error {
	ctx, cancel := s.db.bound(ctx)
	defer cancel()
	return s.db.tx(ctx, "delete user factors", func(tx pgx.Tx) error {
		for _, table := range []string{"totp_factors", "recovery_codes", "webauthn_credentials"} {
			if _, err := tx.Exec(ctx, `DELETE FROM `+table+` WHERE user_id = $1`, userID); err != nil {
				return err
			}
		}
		return nil
	})
}
