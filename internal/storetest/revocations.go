package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse"
)

// TestRevocationStore runs the gatehouse.RevocationStore contract. newStore must return an empty
// store for each subtest. ListRevocations is tested when the store is a
// gatehouse.RevocationLister, and DeleteExpired when it is a gatehouse.Expirer.
//
// Token expiries are an hour around the real current time, so that a store which compares them
// with its own clock (such as revocation.Mirror) passes too.
func TestRevocationStore(t *testing.T, newStore func(t *testing.T) gatehouse.RevocationStore) {
	tests := []struct {
		name string
		fn   func(*testing.T, gatehouse.RevocationStore)
	}{
		{"RevokeToken", testRevokeToken},
		{"NotBefore", testNotBefore},
		{"NotBeforeNeverMovesBack", testNotBeforeMonotonic},
		{"ListRevocations", testListRevocations},
		{"DeleteExpired", testRevocationDeleteExpired},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel() // each case has a store of its own
			tt.fn(t, newStore(t))
		})
	}
}

// revocationBase returns the current second with nanoseconds that a store of lesser precision
// would lose.
func revocationBase() time.Time {
	return time.Unix(time.Now().Unix(), 123456789).UTC()
}

func testRevokeToken(t *testing.T, st gatehouse.RevocationStore) {
	ctx := context.Background()
	if err := st.RevokeToken(ctx, "jti-1", revocationBase().Add(time.Hour)); err != nil {
		t.Fatalf("RevokeToken: %v", err)
	}
	for jti, want := range map[string]bool{"jti-1": true, "jti-2": false, "": false, "JTI-1": false} {
		if got, err := st.TokenRevoked(ctx, jti); err != nil || got != want {
			t.Errorf("TokenRevoked(%q) = %v, %v; want %v, nil", jti, got, err, want)
		}
	}
	// Revoking twice is not an error and keeps the token revoked.
	if err := st.RevokeToken(ctx, "jti-1", revocationBase().Add(2*time.Hour)); err != nil {
		t.Fatalf("second RevokeToken: %v", err)
	}
	if got, err := st.TokenRevoked(ctx, "jti-1"); err != nil || !got {
		t.Fatalf("TokenRevoked after second revoke = %v, %v", got, err)
	}
}

func testNotBefore(t *testing.T, st gatehouse.RevocationStore) {
	ctx := context.Background()
	if nb, err := st.NotBefore(ctx, "u1"); err != nil || !nb.IsZero() {
		t.Fatalf("NotBefore of an unknown user = %v, %v; want zero", nb, err)
	}
	t1 := revocationBase()
	if err := st.SetNotBefore(ctx, "u1", t1); err != nil {
		t.Fatalf("SetNotBefore: %v", err)
	}
	if nb, err := st.NotBefore(ctx, "u1"); err != nil || !nb.Equal(t1) {
		t.Fatalf("NotBefore = %v, %v; want exactly %v", nb, err, t1)
	}
	if nb, err := st.NotBefore(ctx, "u2"); err != nil || !nb.IsZero() {
		t.Fatalf("NotBefore of another user = %v, %v; want zero", nb, err)
	}
}

func testNotBeforeMonotonic(t *testing.T, st gatehouse.RevocationStore) {
	ctx := context.Background()
	t1 := revocationBase()
	steps := []struct{ set, want time.Time }{
		{t1, t1},
		{t1.Add(-time.Nanosecond), t1},
		{time.Time{}, t1},
		{t1.Add(time.Nanosecond), t1.Add(time.Nanosecond)},
	}
	for i, s := range steps {
		if err := st.SetNotBefore(ctx, "u1", s.set); err != nil {
			t.Fatalf("step %d: SetNotBefore: %v", i, err)
		}
		if nb, err := st.NotBefore(ctx, "u1"); err != nil || !nb.Equal(s.want) {
			t.Fatalf("step %d: NotBefore = %v, %v; want %v", i, nb, err, s.want)
		}
	}
}

func testListRevocations(t *testing.T, st gatehouse.RevocationStore) {
	lister, ok := st.(gatehouse.RevocationLister)
	if !ok {
		t.Skip("store is not a gatehouse.RevocationLister")
	}
	ctx := context.Background()
	now := revocationBase()
	live, dead, atNow := now.Add(time.Hour), now.Add(-time.Hour), now
	mustRevoke(t, st, "live", live)
	mustRevoke(t, st, "dead", dead)
	mustRevoke(t, st, "at-now", atNow)
	nb1, nb2 := now.Add(-time.Minute), now.Add(time.Nanosecond)
	mustSetNotBefore(t, st, "u1", nb1)
	mustSetNotBefore(t, st, "u2", nb2)
	tokens, notBefore, err := lister.ListRevocations(ctx, now)
	if err != nil {
		t.Fatalf("ListRevocations: %v", err)
	}
	if len(tokens) != 1 || !tokens["live"].Equal(live) {
		t.Fatalf("tokens = %v; want only live until exactly %v", tokens, live)
	}
	if len(notBefore) != 2 || !notBefore["u1"].Equal(nb1) || !notBefore["u2"].Equal(nb2) {
		t.Fatalf("notBefore = %v; want u1 %v and u2 %v exactly", notBefore, nb1, nb2)
	}
}

func testRevocationDeleteExpired(t *testing.T, st gatehouse.RevocationStore) {
	ex, ok := st.(gatehouse.Expirer)
	if !ok {
		t.Skip("store is not a gatehouse.Expirer")
	}
	ctx := context.Background()
	now := revocationBase()
	mustRevoke(t, st, "live", now.Add(time.Hour))
	mustRevoke(t, st, "dead", now.Add(-time.Hour))
	mustSetNotBefore(t, st, "u1", now.Add(-2*time.Hour))
	n, err := ex.DeleteExpired(ctx, now)
	if err != nil || n != 1 {
		t.Fatalf("DeleteExpired = %d, %v; want 1, nil", n, err)
	}
	if got, err := st.TokenRevoked(ctx, "dead"); err != nil || got {
		t.Fatalf("TokenRevoked(dead) after DeleteExpired = %v, %v; want false", got, err)
	}
	if got, err := st.TokenRevoked(ctx, "live"); err != nil || !got {
		t.Fatalf("TokenRevoked(live) after DeleteExpired = %v, %v; want true", got, err)
	}
	if nb, err := st.NotBefore(ctx, "u1"); err != nil || !nb.Equal(now.Add(-2*time.Hour)) {
		t.Fatalf("DeleteExpired dropped a not-before time: %v, %v", nb, err)
	}
}

func mustRevoke(t *testing.T, st gatehouse.RevocationStore, jti string, exp time.Time) {
	t.Helper()
	if err := st.RevokeToken(context.Background(), jti, exp); err != nil {
		t.Fatalf("RevokeToken(%s): %v", jti, err)
	}
}

func mustSetNotBefore(t *testing.T, st gatehouse.RevocationStore, userID string, nb time.Time) {
	t.Helper()
	if err := st.SetNotBefore(context.Background(), userID, nb); err != nil {
		t.Fatalf("SetNotBefore(%s): %v", userID, err)
	}
}
