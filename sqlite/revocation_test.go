package sqlite_test

import (
	"context"
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse"
	"github.com/gatehouse-auth/gatehouse/internal/storetest"
	"github.com/gatehouse-auth/gatehouse/sqlite"
)

func TestRevocationStore(t *testing.T) {
	storetest.TestRevocationStore(t, func(t *testing.T) gatehouse.RevocationStore {
		return sqlite.NewRevocationStore(MustOpen(t))
	})
}

func TestRevocationStoreClosed(t *testing.T) {
	ctx := context.Background()
	db := MustOpen(t)
	st := sqlite.NewRevocationStore(db)
	db.Close()
	if _, err := st.TokenRevoked(ctx, "jti"); !errors.Is(err, gatehouse.ErrUnavailable) {
		t.Errorf("TokenRevoked on a closed database = %v, want ErrUnavailable", err)
	}
	if _, err := st.NotBefore(ctx, "u1"); !errors.Is(err, gatehouse.ErrUnavailable) {
		t.Errorf("NotBefore on a closed database = %v, want ErrUnavailable", err)
	}
	if err := st.SetNotBefore(ctx, "u1", time.Now()); !errors.Is(err, gatehouse.ErrUnavailable) {
		t.Errorf("SetNotBefore on a closed database = %v, want ErrUnavailable", err)
	}
	if _, _, err := st.ListRevocations(ctx, time.Now()); !errors.Is(err, gatehouse.ErrUnavailable) {
		t.Errorf("ListRevocations on a closed database = %v, want ErrUnavailable", err)
	}
}

// TestRevokeTokenNeverShortens checks the UPSERT keeps the later expiry, which keeps a
// revocation.Mirror in front of this store exact under concurrent writers.
func TestRevokeTokenNeverShortens(t *testing.T) {
	ctx := context.Background()
	st := sqlite.NewRevocationStore(MustOpen(t))
	now := time.Now()
	st.RevokeToken(ctx, "jti", now.Add(time.Hour))
	st.RevokeToken(ctx, "jti", now.Add(time.Minute))
	tokens, _, err := st.ListRevocations(ctx, now)
	if err != nil || !tokens["jti"].Equal(now.Add(time.Hour)) {
		t.Fatalf("tokens = %v, %v; want the later expiry kept", tokens, err)
	}
}

// BenchmarkTokenRevoked reads a revocation from SQLite among 10,000, what every request with a
// token would cost without revocation.Mirror (compare BenchmarkTokenRevoked in revocation/).
func BenchmarkTokenRevoked(b *testing.B) {
	ctx := context.Background()
	st := sqlite.NewRevocationStore(MustOpen(b))
	exp := time.Now().Add(time.Hour)
	for i := range 10_000 {
		if err := st.RevokeToken(ctx, "jti-"+strconv.Itoa(i), exp); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	for b.Loop() {
		if ok, err := st.TokenRevoked(ctx, "jti-5000"); !ok || err != nil {
			b.Fatal(ok, err)
		}
	}
}
