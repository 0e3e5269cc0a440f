package main

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"

	"github.com/gatehouse-auth/gatehouse"
	"github.com/gatehouse-auth/gatehouse/internal/testkit"
	"github.com/gatehouse-auth/gatehouse/mfa"
	"github.com/gatehouse-auth/gatehouse/sqlite"
	"github.com/gatehouse-auth/gatehouse/token"
)

// factorService opens the second factors of the data directory dir with the factor key at
// keyPath, on the clock.
func factorService(t *testing.T, dir, keyPath string, clock *testkit.Clock) (*mfa.Service, *sqlite.DB) {
	t.Helper()
	db, err := sqlite.Open(context.Background(), filepath.Join(dir, "gatehouse.db"), 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	key, err := readKeyFile(keyPath)
	if err != nil {
		t.Fatal(err)
	}
	sealer, err := mfa.NewSealer(key)
	if err != nil {
		t.Fatal(err)
	}
	svc, err := mfa.New(mfa.Config{Factors: sqlite.NewFactorStore(db), Challenges: sqlite.NewChallengeStore(db), Sealer: sealer, Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	return svc, db
}

func codeAt(t *testing.T, secret string, at time.Time) string {
	t.Helper()
	c, err := totp.GenerateCodeCustom(secret, at, totp.ValidateOpts{Period: 30, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestBackupKeepsFactorKey: a backup holds the factor key, so that the TOTP secrets sealed in
// the copied database open after a restore (a code passes on the restored directory, and the
// replay rule came along: the code used before the backup is refused). A restore never writes
// over a factor key that exists.
func TestBackupKeepsFactorKey(t *testing.T) {
	ctx := context.Background()
	clock := testkit.NewClock()
	dir := t.TempDir()
	cfg := &config{Data: dir}
	if _, err := token.LoadKeySet(cfg.keysPath(), token.KeyOptions{Alg: "EdDSA", Now: clock.Now}); err != nil {
		t.Fatal(err)
	}
	if err := createKeyFile(cfg.factorKeyPath()); err != nil {
		t.Fatal(err)
	}
	svc, db := factorService(t, dir, cfg.factorKeyPath(), clock)
	u := &gatehouse.User{ID: gatehouse.NewID(clock.Now()), Username: "tess", Role: gatehouse.RoleUser, CreatedAt: clock.Now()}
	if err := sqlite.NewUserStore(db).CreateUser(ctx, u); err != nil {
		t.Fatal(err)
	}
	en, err := svc.BeginTOTP(ctx, u)
	if err != nil {
		t.Fatal(err)
	}
	used := codeAt(t, en.Secret, clock.Now())
	if _, err := svc.ConfirmTOTP(ctx, u.ID, used); err != nil {
		t.Fatal(err)
	}

	archive := filepath.Join(t.TempDir(), "backup.tar.gz")
	var out bytes.Buffer
	if err := backup(ctx, cfg, archive, &out); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "the factor key") {
		t.Fatalf("backup said %q", out.String())
	}
	target := &config{Data: filepath.Join(t.TempDir(), "restored")}
	if err := restore(ctx, target, archive, &out); err != nil {
		t.Fatal(err)
	}
	checkPrivate(t, target.factorKeyPath())
	restored, _ := factorService(t, target.Data, target.factorKeyPath(), clock)
	if err := restored.VerifyTOTP(ctx, u.ID, used); err == nil {
		t.Fatal("the code used before the backup passed again on the restored directory")
	}
	clock.Advance(30 * time.Second)
	if err := restored.VerifyTOTP(ctx, u.ID, codeAt(t, en.Secret, clock.Now())); err != nil {
		t.Fatalf("a code on the restored directory: %v", err)
	}

	// A factor key file where the restore would put its own: refused, nothing written.
	other := &config{Data: filepath.Join(t.TempDir(), "other"), mfa: mfaConfig{FactorKeyFile: filepath.Join(t.TempDir(), "factor.key")}}
	if err := createKeyFile(other.factorKeyPath()); err != nil {
		t.Fatal(err)
	}
	if err := restore(ctx, other, archive, &out); err == nil || !strings.Contains(err.Error(), "factor key") {
		t.Fatalf("restore over an existing factor key: %v", err)
	}
}
