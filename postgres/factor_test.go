package postgres_test

import (
	"context"
	"testing"

	"github.com/gatehouse-auth/gatehouse"
	"github.com/gatehouse-auth/gatehouse/internal/storetest"
	"github.com/gatehouse-auth/gatehouse/postgres"
)

func TestFactorStore(t *testing.T) {
	t.Parallel()
	storetest.TestFactorStore(t, func(t *testing.T) storetest.FactorStores {
		db := MustOpen(t, slowPG)
		return storetest.FactorStores{Factors: postgres.NewFactorStore(db), Users: postgres.NewUserStore(db)}
	})
}

func TestChallengeStore(t *testing.T) {
	t.Parallel()
	storetest.TestChallengeStore(t, func(t *testing.T) gatehouse.ChallengeStore {
		return postgres.NewChallengeStore(MustOpen(t, slowPG))
	})
}

// TestFactorsGoWithTheUser deletes a user: the user's factors go with it.
func TestFactorsGoWithTheUser(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := MustOpen(t, slowPG)
	users, factors := postgres.NewUserStore(db), postgres.NewFactorStore(db)
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
		if err := db.Pool().QueryRow(ctx, "SELECT count(*) FROM "+table).Scan(&n); err != nil || n != 0 {
			t.Fatalf("%s holds %d rows of a deleted user (%v)", table, n, err)
		}
	}
}
