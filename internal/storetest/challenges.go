package storetest

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse"
)

// TestChallengeStore runs the gatehouse.ChallengeStore contract. newStore must return an empty
// store for each subtest.
func TestChallengeStore(t *testing.T, newStore func(t *testing.T) gatehouse.ChallengeStore) {
	tests := []struct {
		name string
		fn   func(*testing.T, gatehouse.ChallengeStore)
	}{
		{"PutFindTake", testChallengePutFindTake},
		{"Expiry", testChallengeExpiry},
		{"ConcurrentTakeOneWins", testChallengeConcurrentTake},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.fn(t, newStore(t))
		})
	}
}

func newChallenge(now time.Time) (*gatehouse.Challenge, string) {
	secret := gatehouse.NewSecret()
	return &gatehouse.Challenge{
		Hash: gatehouse.HashSecret(secret), Purpose: "login_second_factor", UserID: gatehouse.NewID(now),
		Mode: "token", AMR: []string{gatehouse.AMRPassword}, Data: []byte{0, 1, 2, 0xff},
		ExpiresAt: now.Add(5 * time.Minute),
	}, secret
}

func sameChallenge(t *testing.T, got, want *gatehouse.Challenge) {
	t.Helper()
	if got.Hash != want.Hash || got.Purpose != want.Purpose || got.UserID != want.UserID || got.Mode != want.Mode ||
		!slices.Equal(got.AMR, want.AMR) || string(got.Data) != string(want.Data) || !got.ExpiresAt.Equal(want.ExpiresAt) {
		t.Fatalf("challenge read back as\n%+v\nwant\n%+v", got, want)
	}
}

func testChallengePutFindTake(t *testing.T, st gatehouse.ChallengeStore) {
	ctx := context.Background()
	now := time.Now().UTC().Truncate(time.Millisecond)
	c, _ := newChallenge(now)
	if err := st.PutChallenge(ctx, c); err != nil {
		t.Fatal(err)
	}
	if err := st.PutChallenge(ctx, c); !errors.Is(err, gatehouse.ErrConflict) {
		t.Fatalf("PutChallenge with a known hash = %v, want ErrConflict", err)
	}
	for range 2 { // finding changes nothing
		got, found, err := st.FindChallenge(ctx, c.Hash, now)
		if err != nil || !found {
			t.Fatalf("FindChallenge = %v, %v", found, err)
		}
		sameChallenge(t, got, c)
	}
	got, found, err := st.TakeChallenge(ctx, c.Hash, now)
	if err != nil || !found {
		t.Fatalf("TakeChallenge = %v, %v", found, err)
	}
	sameChallenge(t, got, c)
	if _, found, err := st.TakeChallenge(ctx, c.Hash, now); err != nil || found {
		t.Fatalf("second TakeChallenge: found=%v, %v; want not found", found, err)
	}
	if _, found, err := st.FindChallenge(ctx, c.Hash, now); err != nil || found {
		t.Fatalf("FindChallenge after take: found=%v, %v", found, err)
	}
	// A passkey sign-in's challenge names no user and no methods yet.
	anon, _ := newChallenge(now)
	anon.UserID, anon.AMR, anon.Data, anon.Mode = "", nil, nil, ""
	if err := st.PutChallenge(ctx, anon); err != nil {
		t.Fatal(err)
	}
	got, found, err = st.TakeChallenge(ctx, anon.Hash, now)
	if err != nil || !found {
		t.Fatalf("TakeChallenge = %v, %v", found, err)
	}
	sameChallenge(t, got, anon)
}

func testChallengeExpiry(t *testing.T, st gatehouse.ChallengeStore) {
	ctx := context.Background()
	now := time.Now().UTC().Truncate(time.Millisecond)
	c, _ := newChallenge(now)
	if err := st.PutChallenge(ctx, c); err != nil {
		t.Fatal(err)
	}
	if _, found, err := st.FindChallenge(ctx, c.Hash, c.ExpiresAt.Add(-time.Millisecond)); err != nil || !found {
		t.Fatalf("FindChallenge just before expiry: found=%v, %v", found, err)
	}
	for _, at := range []time.Time{c.ExpiresAt, c.ExpiresAt.Add(time.Hour)} {
		if _, found, err := st.FindChallenge(ctx, c.Hash, at); err != nil || found {
			t.Fatalf("FindChallenge at %v after expiry: found=%v, %v", at.Sub(c.ExpiresAt), found, err)
		}
		if _, found, err := st.TakeChallenge(ctx, c.Hash, at); err != nil || found {
			t.Fatalf("TakeChallenge at %v after expiry: found=%v, %v", at.Sub(c.ExpiresAt), found, err)
		}
	}
	if exp, ok := st.(gatehouse.Expirer); ok {
		live, _ := newChallenge(now)
		live.ExpiresAt = now.Add(time.Hour)
		if err := st.PutChallenge(ctx, live); err != nil {
			t.Fatal(err)
		}
		if _, err := exp.DeleteExpired(ctx, c.ExpiresAt.Add(time.Second)); err != nil {
			t.Fatal(err)
		}
		if _, found, err := st.FindChallenge(ctx, live.Hash, now); err != nil || !found {
			t.Fatalf("DeleteExpired removed a live challenge: found=%v, %v", found, err)
		}
	}
}

func testChallengeConcurrentTake(t *testing.T, st gatehouse.ChallengeStore) {
	now := time.Now().UTC()
	for range 3 {
		c, _ := newChallenge(now)
		if err := st.PutChallenge(context.Background(), c); err != nil {
			t.Fatal(err)
		}
		if wins := race(t, 8, func() (bool, error) {
			_, found, err := st.TakeChallenge(context.Background(), c.Hash, now)
			return found, err
		}); wins != 1 {
			t.Fatalf("%d concurrent takes of one challenge succeeded, want exactly 1", wins)
		}
	}
}
