package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/gatehouse-auth/gatehouse"
)

var _ gatehouse.FactorStore = (*FactorStore)(nil)

// FactorStore is a gatehouse.FactorStore on the tables totp_factors, recovery_codes and
// webauthn_credentials (migration 5). Each compare-and-set (a TOTP step, a recovery code) is
// one UPDATE or DELETE with the condition in its WHERE clause: SQLite runs writes one at a
// time, so of concurrent calls exactly one changes the row. A user's factors go with the user
// (ON DELETE CASCADE).
type FactorStore struct {
	db *DB
}

// NewFactorStore returns a FactorStore on db.
func NewFactorStore(db *DB) *FactorStore { return &FactorStore{db: db} }

// changed runs an INSERT, UPDATE or DELETE and reports whether it changed a row.
func (s *FactorStore) changed(ctx context.Context, op, query string, args ...any) (bool, error) {
	res, err := s.db.db.ExecContext(ctx, query, args...)
	if err != nil {
		return false, storeErr(op, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, storeErr(op, err)
	}
	return n > 0, nil
}

// PutPendingTOTP stores f as the user's pending enrolment; gatehouse.ErrConflict when the user
// has a confirmed factor.
func (s *FactorStore) PutPendingTOTP(ctx context.Context, f *gatehouse.TOTPFactor) error {
	ok, err := s.changed(ctx, "put pending TOTP", `INSERT INTO totp_factors (user_id, id, sealed, created_at)
		VALUES (?, ?, ?, ?)
		ON CONFLICT (user_id) DO UPDATE SET id = excluded.id, sealed = excluded.sealed, created_at = excluded.created_at,
			confirmed_at = 0, last_step = 0
		WHERE totp_factors.confirmed = 0`, f.UserID, f.ID, f.Sealed, nanos(f.CreatedAt))
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("sqlite: put pending TOTP: the user has a confirmed factor: %w", gatehouse.ErrConflict)
	}
	return nil
}

// TOTP returns the user's TOTP factor.
func (s *FactorStore) TOTP(ctx context.Context, userID string) (*gatehouse.TOTPFactor, bool, error) {
	f := gatehouse.TOTPFactor{UserID: userID}
	var created, confirmed int64
	err := s.db.db.QueryRowContext(ctx, `SELECT id, sealed, confirmed, created_at, confirmed_at, last_step
		FROM totp_factors WHERE user_id = ?`, userID).Scan(&f.ID, &f.Sealed, &f.Confirmed, &created, &confirmed, &f.LastStep)
	if errors.Is(err, sql.ErrNoRows) {
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
	return s.changed(ctx, "confirm TOTP", `UPDATE totp_factors SET confirmed = 1, confirmed_at = ?, last_step = ?
		WHERE user_id = ? AND id = ? AND confirmed = 0`, nanos(at), step, userID, id)
}

// UseTOTPStep records step if it is later than the last accepted one.
func (s *FactorStore) UseTOTPStep(ctx context.Context, userID, id string, step int64) (bool, error) {
	return s.changed(ctx, "use TOTP step", `UPDATE totp_factors SET last_step = ?
		WHERE user_id = ? AND id = ? AND confirmed = 1 AND last_step < ?`, step, userID, id, step)
}

// DeleteTOTP removes the user's TOTP factor.
func (s *FactorStore) DeleteTOTP(ctx context.Context, userID string) (bool, error) {
	return s.changed(ctx, "delete TOTP", `DELETE FROM totp_factors WHERE user_id = ?`, userID)
}

// ReplaceRecoveryCodes makes hashes the user's recovery codes, in one transaction.
func (s *FactorStore) ReplaceRecoveryCodes(ctx context.Context, userID string, hashes []gatehouse.Hash) error {
	return s.tx(ctx, "replace recovery codes", func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM recovery_codes WHERE user_id = ?`, userID); err != nil {
			return err
		}
		for _, h := range hashes {
			if _, err := tx.ExecContext(ctx, `INSERT OR IGNORE INTO recovery_codes (user_id, hash) VALUES (?, ?)`, userID, h[:]); err != nil {
				return err
			}
		}
		return nil
	})
}

// UseRecoveryCode removes the user's code whose hash is h.
func (s *FactorStore) UseRecoveryCode(ctx context.Context, userID string, h gatehouse.Hash) (bool, error) {
	return s.changed(ctx, "use recovery code", `DELETE FROM recovery_codes WHERE user_id = ? AND hash = ?`, userID, h[:])
}

// CountRecoveryCodes returns the number of the user's unused codes.
func (s *FactorStore) CountRecoveryCodes(ctx context.Context, userID string) (int, error) {
	var n int
	if err := s.db.db.QueryRowContext(ctx, `SELECT count(*) FROM recovery_codes WHERE user_id = ?`, userID).Scan(&n); err != nil {
		return 0, storeErr("count recovery codes", err)
	}
	return n, nil
}

const credentialColumns = `id, user_id, name, public_key, attestation_type, transports, aaguid, sign_count,
	discoverable, user_verified, backup_eligible, backup_state, created_at, last_used_at`

// CreateWebAuthnCredential stores c; gatehouse.ErrConflict when its id is known.
func (s *FactorStore) CreateWebAuthnCredential(ctx context.Context, c *gatehouse.WebAuthnCredential) error {
	_, err := s.db.db.ExecContext(ctx, `INSERT INTO webauthn_credentials (`+credentialColumns+`)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		c.ID, c.UserID, c.Name, c.PublicKey, c.AttestationType, strings.Join(c.Transports, ","), nonNil(c.AAGUID),
		int64(c.SignCount), c.Discoverable, c.UserVerified, c.BackupEligible, c.BackupState, nanos(c.CreatedAt), nanos(c.LastUsedAt))
	return storeErr("create WebAuthn credential", err)
}

// nonNil binds a nil slice as an empty BLOB (the column is NOT NULL).
func nonNil(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}

type scanner interface{ Scan(dest ...any) error }

func scanCredential(row scanner) (*gatehouse.WebAuthnCredential, error) {
	var c gatehouse.WebAuthnCredential
	var transports string
	var count, created, used int64
	if err := row.Scan(&c.ID, &c.UserID, &c.Name, &c.PublicKey, &c.AttestationType, &transports, &c.AAGUID, &count,
		&c.Discoverable, &c.UserVerified, &c.BackupEligible, &c.BackupState, &created, &used); err != nil {
		return nil, err
	}
	if transports != "" {
		c.Transports = strings.Split(transports, ",")
	}
	c.SignCount, c.CreatedAt, c.LastUsedAt = uint32(count), fromNanos(created), fromNanos(used)
	return &c, nil
}

// WebAuthnCredentials returns the user's credentials, oldest first.
func (s *FactorStore) WebAuthnCredentials(ctx context.Context, userID string) ([]*gatehouse.WebAuthnCredential, error) {
	rows, err := s.db.db.QueryContext(ctx, `SELECT `+credentialColumns+` FROM webauthn_credentials
		WHERE user_id = ? ORDER BY created_at, id`, userID)
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
	c, err := scanCredential(s.db.db.QueryRowContext(ctx, `SELECT `+credentialColumns+` FROM webauthn_credentials WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
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
		SET sign_count = ?, backup_state = ?, last_used_at = ? WHERE id = ? AND user_id = ?`,
		int64(use.SignCount), use.BackupState, nanos(use.At), id, userID)
}

// RenameWebAuthnCredential renames the user's credential id.
func (s *FactorStore) RenameWebAuthnCredential(ctx context.Context, userID string, id []byte, name string) (bool, error) {
	return s.changed(ctx, "rename WebAuthn credential", `UPDATE webauthn_credentials SET name = ? WHERE id = ? AND user_id = ?`, name, id, userID)
}

// DeleteWebAuthnCredential removes the user's credential id.
func (s *FactorStore) DeleteWebAuthnCredential(ctx context.Context, userID string, id []byte) (bool, error) {
	return s.changed(ctx, "delete WebAuthn credential", `DELETE FROM webauthn_credentials WHERE id = ? AND user_id = ?`, id, userID)
}

// DeleteUserFactors removes every factor of the user, in one transaction.
func (s *FactorStore) DeleteUserFactors(ctx context.Context, userID string) error {
	return s.tx(ctx, "delete user factors", func(tx *sql.Tx) error {
		for _, table := range []string{"totp_factors", "recovery_codes", "webauthn_credentials"} {
			if _, err := tx.ExecContext(ctx, `DELETE FROM `+table+` WHERE user_id = ?`, userID); err != nil {
				return err
			}
		}
		return nil
	})
}

func (s *FactorStore) tx(ctx context.Context, op string, fn func(tx *sql.Tx) error) error {
	tx, err := s.db.db.BeginTx(ctx, nil)
	if err != nil {
		return storeErr(op, err)
	}
	defer tx.Rollback()
	if err := fn(tx); err != nil {
		return storeErr(op, err)
	}
	return storeErr(op, tx.Commit())
}

// RecoveryCodeHashes returns the hashes of the user's unused recovery codes, for gatehouse
// migrate (which copies them as they are: only their hashes are ever stored).
func (s *FactorStore) RecoveryCodeHashes(ctx context.Context, userID string) ([]gatehouse.Hash, error) {
	rows, err := s.db.db.QueryContext(ctx, `SELECT hash FROM recovery_codes WHERE user_id = ? ORDER BY hash`, userID)
	if err != nil {
		return nil, storeErr("recovery code hashes", err)
	}
	defer rows.Close()
	var out []gatehouse.Hash
	for rows.Next() {
		var b []byte
		if err := rows.Scan(&b); err != nil {
			return nil, storeErr("recovery code hashes", err)
		}
		if len(b) != len(gatehouse.Hash{}) {
			return nil, gatehouse.Unavailable("sqlite: read hash", fmt.Errorf("corrupt recovery code hash of %d bytes", len(b)))
		}
		out = append(out, gatehouse.Hash(b))
	}
	return out, storeErr("recovery code hashes", rows.Err())
}
