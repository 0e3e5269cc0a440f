package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/gatehouse-auth/gatehouse"
	"github.com/gatehouse-auth/gatehouse/mfa"
	"github.com/gatehouse-auth/gatehouse/postgres"
	"github.com/gatehouse-auth/gatehouse/sqlite"
)

// factorCopy copies one user's second factors from the SQLite source to PostgreSQL. TOTP
// secrets are opened with the source's factor key and sealed again with the cluster's (they
// may differ: the cluster derives its key from the key-encryption key); recovery codes are
// copied as the hashes they are; WebAuthn credentials hold no secret.
type factorCopy struct {
	from     *sqlite.FactorStore
	to       gatehouse.FactorStore
	src, tgt *mfa.Sealer
	t        tally
}

// copyFactors copies every user's confirmed TOTP factor (with its last accepted step, so that
// a code used before is still refused), recovery codes and WebAuthn credentials. What the
// target holds already is left as it is (a resumed copy).
func (m *migration) copyFactors(ctx context.Context) (string, error) {
	fc := &factorCopy{from: sqlite.NewFactorStore(m.src), to: postgres.NewFactorStore(m.tgt.shared.pg)}
	err := m.eachUser(ctx, func(u *gatehouse.User) error { return fc.copyUser(ctx, m, u.ID) })
	return fc.t.String(), err
}

func (fc *factorCopy) copyUser(ctx context.Context, m *migration, userID string) error {
	if err := fc.copyTOTP(ctx, m, userID); err != nil {
		return err
	}
	if err := fc.copyRecoveryCodes(ctx, userID); err != nil {
		return err
	}
	creds, err := fc.from.WebAuthnCredentials(ctx, userID)
	if err != nil {
		return err
	}
	for _, c := range creds {
		fc.count(fc.to.CreateWebAuthnCredential(ctx, c))
	}
	return nil
}

// count tallies one copied record: ErrConflict means the target has it.
func (fc *factorCopy) count(err error) {
	if errors.Is(err, gatehouse.ErrConflict) {
		fc.t.present++
	} else if err == nil {
		fc.t.copied++
	}
}

func (fc *factorCopy) copyTOTP(ctx context.Context, m *migration, userID string) error {
	f, found, err := fc.from.TOTP(ctx, userID)
	if err != nil || !found || !f.Confirmed {
		return err // a pending enrolment is not a factor: the user starts it again
	}
	if there, found, err := fc.to.TOTP(ctx, userID); err != nil || found && there.Confirmed {
		if err == nil {
			fc.t.present++
		}
		return err
	}
	if err := fc.sealers(m); err != nil {
		return err
	}
	secret, _, err := fc.src.Open(userID, f.Sealed)
	if err != nil {
		return fmt.Errorf("the TOTP secret of user %s does not open with the source's factor key: %w", userID, err)
	}
	c := *f
	c.Sealed, c.Confirmed, c.ConfirmedAt = fc.tgt.Seal(userID, secret), false, f.ConfirmedAt
	if err := fc.to.PutPendingTOTP(ctx, &c); err != nil {
		return err
	}
	if ok, err := fc.to.ConfirmTOTP(ctx, userID, c.ID, f.LastStep, f.ConfirmedAt); err != nil || !ok {
		return errors.Join(err, fmt.Errorf("the TOTP factor of user %s changed during the copy", userID))
	}
	fc.t.copied++
	return nil
}

func (fc *factorCopy) copyRecoveryCodes(ctx context.Context, userID string) error {
	hashes, err := fc.from.RecoveryCodeHashes(ctx, userID)
	if err != nil || len(hashes) == 0 {
		return err
	}
	if n, err := fc.to.CountRecoveryCodes(ctx, userID); err != nil || n > 0 {
		if err == nil {
			fc.t.present++
		}
		return err
	}
	fc.t.copied++
	return fc.to.ReplaceRecoveryCodes(ctx, userID, hashes)
}

// sealers opens the source's factor key (<data>/factor.key, else --factor-key-file) and the
// cluster's (--factor-key-file, or derived from the key-encryption key), once.
func (fc *factorCopy) sealers(m *migration) error {
	if fc.src != nil {
		return nil
	}
	srcPath := filepath.Join(m.cfg.Data, factorKeyName)
	if _, err := os.Stat(srcPath); err != nil && m.cfg.mfa.FactorKeyFile != "" {
		srcPath = m.cfg.mfa.FactorKeyFile
	}
	srcKey, err := readKeyFile(srcPath)
	if err != nil {
		return fmt.Errorf("the source's factor key: %w", err)
	}
	tgtKey, _, err := m.tgt.factorKey()
	if err != nil {
		return err
	}
	if tgtKey == nil {
		return errors.New("the source has authenticator apps: give the instances' factor key (--factor-key-file, or --key-store postgres with its key-encryption key) so that their secrets can be sealed for the cluster")
	}
	if fc.src, err = mfa.NewSealer(srcKey); err == nil {
		fc.tgt, err = mfa.NewSealer(tgtKey)
	}
	return err
}
