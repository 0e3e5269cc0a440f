package sqlite_test

import (
	"context"
	"testing"

	"github.com/gatehouse-auth/gatehouse"
	"github.com/gatehouse-auth/gatehouse/internal/storetest"
	"github.com/gatehouse-auth/gatehouse/sqlite"
)

func TestFactorStore(t *testing.T) {
	storetest.TestFactorStore(t, func(t *testing.T) storetest.FactorStores {
		db := MustOpen(t)
		return storetest.FactorStores{Factors: sqlite.NewFactorStore(db), Users: sqlite.NewUserStore(db)}
	})
}

func TestChallengeStore(t *testing.T) {
	storetest.TestChallengeStore(t, func(t *testing.T) gatehouse.ChallengeStore { return sqlite.NewChallengeStore(MustOpen(t)) })
}

// TestFactorsGoWithTheUser deletes a user: the user's factors go with it.
func TestFactorsGoWithTheUser(t *testing.T) {
	ctx := context.Background()
	db := MustOpen(t)
	users, factors := sqlite.NewUserStore(db), sqlite.NewFactorStore(db)
	u := storetest.NewTestUser("gone", gatehouse.Now().UTC())
	if err := users.CreateUser(ctx, u); err != nil {
		t.Fatal(err)
	}
	if err := factors.PutPendingTOTP(ctx, &gatehouse.TOTPFactor{ID: gatehouse.NewID(u.CreatedAt), UserID: u.ID, Sealed: []byte("s"), CreatedAt: u.CreatedAt}); err != nil {
		t.Fatal(err)
	}
	if err := factors.ReplaceRecoveryCodes(ctx, u.ID, []gatehouse.Hash{gatehouse.HashSecret("a")}); err != nil {
		t.Fatal(err)
	}
	if err := factors.CreateWebAuthnCredential(ctx, &gatehouse.WebAuthnCredential{ID: []byte("k"), UserID: u.ID, PublicKey: []byte{1}, CreatedAt: u.CreatedAt}); err != nil {
		t.Fatal(err)
	}
	if err := users.DeleteUser(ctx, u.ID); err != nil {
		t.Fatal(err)
	}
	for _, table := range []string{"totp_factors", "recovery_codes", "webauthn_credentials"} {
		var n int
		if err := db.SQL().QueryRowContext(ctx, "SELECT count(*) FROM "+table).Scan(&n); err != nil || n != 0 {
			t.Fatalf("%s holds %d rows of a deleted user (%v)", table, n, err)
		}
	}
}
