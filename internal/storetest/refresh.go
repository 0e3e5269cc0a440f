package storetest

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse"
	"github.com/gatehouse-auth/gatehouse/internal/testkit"
)

// TestRefreshStore runs the gatehouse.RefreshStore contract against the stores newStore
// returns (a fresh, empty one for each subtest). DeleteExpired is tested when the store
// implements gatehouse.Expirer.
func TestRefreshStore(t *testing.T, newStore func(t *testing.T) gatehouse.RefreshStore) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s gatehouse.RefreshStore)
	}{
		{"CreateAndFind", refreshCreateAndFind},
		{"CreateConflict", refreshCreateConflict},
		{"RotateChain", refreshRotateChain},
		{"ReuseRevokesFamily", refreshReuseRevokesFamily},
		{"UnknownToken", refreshUnknownToken},
		{"Expiry", refreshExpiry},
		{"RevokeFamily", refreshRevokeFamily},
		{"RevokeByToken", refreshRevokeByToken},
		{"RevokeUser", refreshRevokeUser},
		{"DeleteExpired", refreshDeleteExpired},
		{"ConcurrentRotation", refreshConcurrentRotation},
		{"GraceReplay", refreshGraceReplay},
		{"GraceWindowEnds", refreshGraceWindowEnds},
		{"GraceOnlyLatestRotation", refreshGraceOnlyLatest},
		{"GraceNeedsGraceAndBlob", refreshGraceNeedsGraceAndBlob},
		{"GraceExpiredOrRevokedFamily", refreshGraceDeadFamily},
		{"GraceConcurrentRotation", refreshGraceConcurrentRotation},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel() // each case has a store of its own
			tc.fn(t, newStore(t))
		})
	}
}

// refreshT0 is the clock of the refresh tests: a whole-microsecond time so that every store
// can represent it exactly.
var refreshT0 = testkit.Start().Add(6 * time.Microsecond)

// refreshHash returns a distinct hash for each label.
func refreshHash(label string) gatehouse.Hash { return gatehouse.HashSecret("refresh-test:" + label) }

// refreshNewFamily stores a family of userID that lives ttl, with first as its token, started
// by a sign-in with a password and a security key.
func refreshNewFamily(t *testing.T, s gatehouse.RefreshStore, userID string, first gatehouse.Hash, ttl time.Duration) *gatehouse.RefreshFamily {
	t.Helper()
	f := &gatehouse.RefreshFamily{ID: gatehouse.NewID(refreshT0), UserID: userID, CreatedAt: refreshT0, ExpiresAt: refreshT0.Add(ttl),
		AMR: gatehouse.MethodPassword | gatehouse.MethodHardwareKey}
	if err := s.CreateRefreshFamily(context.Background(), f, first); err != nil {
		t.Fatalf("CreateRefreshFamily: %v", err)
	}
	return f
}

// refreshSameFamily fails unless got describes want.
func refreshSameFamily(t *testing.T, got, want *gatehouse.RefreshFamily) {
	t.Helper()
	if got == nil || got.ID != want.ID || got.UserID != want.UserID ||
		!got.CreatedAt.Equal(want.CreatedAt) || !got.ExpiresAt.Equal(want.ExpiresAt) || got.AMR != want.AMR {
		t.Fatalf("family = %+v, want %+v", got, want)
	}
}

// refreshFind asserts whether h belongs to a family, and to which.
func refreshFind(t *testing.T, s gatehouse.RefreshStore, h gatehouse.Hash, want *gatehouse.RefreshFamily) {
	t.Helper()
	f, found, err := s.RefreshFamilyByToken(context.Background(), h)
	if err != nil {
		t.Fatalf("RefreshFamilyByToken: %v", err)
	}
	if want == nil {
		if found {
			t.Fatalf("RefreshFamilyByToken found %+v, want none", f)
		}
		return
	}
	if !found {
		t.Fatalf("RefreshFamilyByToken: not found, want %+v", want)
	}
	refreshSameFamily(t, f, want)
}

// refreshRotate rotates old to next at now without a grace, as a server without
// --refresh-reuse-grace does: no rotation may be answered as a replay. It is safe to call from
// several goroutines.
func refreshRotate(t *testing.T, s gatehouse.RefreshStore, old, next gatehouse.Hash, now time.Time) (*gatehouse.RefreshFamily, error) {
	t.Helper()
	f, replay, err := s.RotateRefresh(context.Background(), gatehouse.RefreshRotation{Old: old, Next: next, Now: now})
	if replay != nil {
		t.Errorf("RotateRefresh without a grace answered a replay: %q, %v", replay, err)
	}
	return f, err
}

// refreshRotateErr asserts that rotating old fails with want.
func refreshRotateErr(t *testing.T, s gatehouse.RefreshStore, old, next gatehouse.Hash, now time.Time, want error) {
	t.Helper()
	f, err := refreshRotate(t, s, old, next, now)
	if !errors.Is(err, want) {
		t.Fatalf("RotateRefresh = %+v, %v; want %v", f, err, want)
	}
}

func refreshCreateAndFind(t *testing.T, s gatehouse.RefreshStore) {
	f := refreshNewFamily(t, s, "u1", refreshHash("a"), time.Hour)
	refreshFind(t, s, refreshHash("a"), f)
	refreshFind(t, s, refreshHash("other"), nil)
}

func refreshCreateConflict(t *testing.T, s gatehouse.RefreshStore) {
	f := refreshNewFamily(t, s, "u1", refreshHash("a"), time.Hour)
	again := *f
	if err := s.CreateRefreshFamily(context.Background(), &again, refreshHash("b")); !errors.Is(err, gatehouse.ErrConflict) {
		t.Fatalf("same family id: %v, want ErrConflict", err)
	}
	other := &gatehouse.RefreshFamily{ID: gatehouse.NewID(refreshT0), UserID: "u1", CreatedAt: refreshT0, ExpiresAt: refreshT0.Add(time.Hour)}
	if err := s.CreateRefreshFamily(context.Background(), other, refreshHash("a")); !errors.Is(err, gatehouse.ErrConflict) {
		t.Fatalf("same token hash: %v, want ErrConflict", err)
	}
	refreshFind(t, s, refreshHash("a"), f)
}

func refreshRotateChain(t *testing.T, s gatehouse.RefreshStore) {
	f := refreshNewFamily(t, s, "u1", refreshHash("0"), time.Hour)
	for i, pair := range [][2]string{{"0", "1"}, {"1", "2"}, {"2", "3"}} {
		got, err := refreshRotate(t, s, refreshHash(pair[0]), refreshHash(pair[1]), refreshT0.Add(time.Duration(i)*time.Minute))
		if err != nil {
			t.Fatalf("rotation %d: %v", i, err)
		}
		refreshSameFamily(t, got, f)
	}
	// Every token of the chain, current or rotated, still names the family.
	for _, label := range []string{"0", "1", "2", "3"} {
		refreshFind(t, s, refreshHash(label), f)
	}
}

func refreshReuseRevokesFamily(t *testing.T, s gatehouse.RefreshStore) {
	f := refreshNewFamily(t, s, "u1", refreshHash("0"), time.Hour)
	other := refreshNewFamily(t, s, "u1", refreshHash("x"), time.Hour)
	if _, err := refreshRotate(t, s, refreshHash("0"), refreshHash("1"), refreshT0); err != nil {
		t.Fatalf("rotate: %v", err)
	}
	// The store names the family it revoked: its access tokens are denied next.
	if got, err := refreshRotate(t, s, refreshHash("0"), refreshHash("evil"), refreshT0); !errors.Is(err, gatehouse.ErrRefreshReuse) || got == nil || got.ID != f.ID {
		t.Fatalf("RotateRefresh of a rotated token = %+v, %v; want family %s and ErrRefreshReuse", got, err, f.ID)
	}
	// The family is gone: its current token fails too, and no token names it any more.
	refreshRotateErr(t, s, refreshHash("1"), refreshHash("2"), refreshT0, gatehouse.ErrNotFound)
	for _, label := range []string{"0", "1", "evil", "2"} {
		refreshFind(t, s, refreshHash(label), nil)
	}
	if found, err := s.RevokeRefreshFamily(context.Background(), f.ID); err != nil || found {
		t.Fatalf("RevokeRefreshFamily after reuse = %v, %v; want false, nil", found, err)
	}
	// Another family of the same user is untouched.
	refreshFind(t, s, refreshHash("x"), other)
}

func refreshUnknownToken(t *testing.T, s gatehouse.RefreshStore) {
	refreshRotateErr(t, s, refreshHash("nope"), refreshHash("next"), refreshT0, gatehouse.ErrNotFound)
	refreshFind(t, s, refreshHash("next"), nil)
}

func refreshExpiry(t *testing.T, s gatehouse.RefreshStore) {
	f := refreshNewFamily(t, s, "u1", refreshHash("0"), time.Hour)
	almost := f.ExpiresAt.Add(-time.Microsecond)
	if _, err := refreshRotate(t, s, refreshHash("0"), refreshHash("1"), almost); err != nil {
		t.Fatalf("rotate just before expiry: %v", err)
	}
	refreshRotateErr(t, s, refreshHash("1"), refreshHash("2"), f.ExpiresAt, gatehouse.ErrTokenExpired)
	// The expired family is deleted.
	refreshFind(t, s, refreshHash("1"), nil)
	refreshRotateErr(t, s, refreshHash("1"), refreshHash("3"), refreshT0, gatehouse.ErrNotFound)
}

func refreshRevokeFamily(t *testing.T, s gatehouse.RefreshStore) {
	f := refreshNewFamily(t, s, "u1", refreshHash("0"), time.Hour)
	other := refreshNewFamily(t, s, "u1", refreshHash("x"), time.Hour)
	if _, err := refreshRotate(t, s, refreshHash("0"), refreshHash("1"), refreshT0); err != nil {
		t.Fatalf("rotate: %v", err)
	}
	if found, err := s.RevokeRefreshFamily(context.Background(), f.ID); err != nil || !found {
		t.Fatalf("RevokeRefreshFamily = %v, %v; want true, nil", found, err)
	}
	refreshRotateErr(t, s, refreshHash("1"), refreshHash("2"), refreshT0, gatehouse.ErrNotFound)
	refreshFind(t, s, refreshHash("0"), nil)
	refreshFind(t, s, refreshHash("1"), nil)
	refreshFind(t, s, refreshHash("x"), other)
	if found, err := s.RevokeRefreshFamily(context.Background(), "unknown"); err != nil || found {
		t.Fatalf("RevokeRefreshFamily(unknown) = %v, %v; want false, nil", found, err)
	}
}

// refreshRevokeByToken revokes through a rotated (old) token, as a logout or RFC 7009 request
// holding any token of the chain does.
func refreshRevokeByToken(t *testing.T, s gatehouse.RefreshStore) {
	f := refreshNewFamily(t, s, "u1", refreshHash("0"), time.Hour)
	if _, err := refreshRotate(t, s, refreshHash("0"), refreshHash("1"), refreshT0); err != nil {
		t.Fatalf("rotate: %v", err)
	}
	got, found, err := s.RefreshFamilyByToken(context.Background(), refreshHash("0"))
	if err != nil || !found {
		t.Fatalf("RefreshFamilyByToken(old) = %v, %v", found, err)
	}
	refreshSameFamily(t, got, f)
	if found, err := s.RevokeRefreshFamily(context.Background(), got.ID); err != nil || !found {
		t.Fatalf("RevokeRefreshFamily = %v, %v", found, err)
	}
	refreshRotateErr(t, s, refreshHash("1"), refreshHash("2"), refreshT0, gatehouse.ErrNotFound)
}

func refreshRevokeUser(t *testing.T, s gatehouse.RefreshStore) {
	refreshNewFamily(t, s, "u1", refreshHash("a"), time.Hour)
	refreshNewFamily(t, s, "u1", refreshHash("b"), time.Hour)
	keep := refreshNewFamily(t, s, "u2", refreshHash("c"), time.Hour)
	if err := s.RevokeUserRefresh(context.Background(), "u1"); err != nil {
		t.Fatalf("RevokeUserRefresh: %v", err)
	}
	refreshRotateErr(t, s, refreshHash("a"), refreshHash("a2"), refreshT0, gatehouse.ErrNotFound)
	refreshRotateErr(t, s, refreshHash("b"), refreshHash("b2"), refreshT0, gatehouse.ErrNotFound)
	refreshFind(t, s, refreshHash("c"), keep)
	if err := s.RevokeUserRefresh(context.Background(), "nobody"); err != nil {
		t.Fatalf("RevokeUserRefresh(unknown user): %v", err)
	}
}

func refreshDeleteExpired(t *testing.T, s gatehouse.RefreshStore) {
	ex, ok := s.(gatehouse.Expirer)
	if !ok {
		t.Skip("store does not implement gatehouse.Expirer")
	}
	refreshNewFamily(t, s, "u1", refreshHash("short"), time.Minute)
	refreshNewFamily(t, s, "u1", refreshHash("edge"), time.Hour)
	long := refreshNewFamily(t, s, "u1", refreshHash("long"), time.Hour+time.Microsecond)
	if _, err := refreshRotate(t, s, refreshHash("short"), refreshHash("short2"), refreshT0); err != nil {
		t.Fatalf("rotate: %v", err)
	}
	n, err := ex.DeleteExpired(context.Background(), refreshT0.Add(time.Hour))
	if err != nil || n != 2 {
		t.Fatalf("DeleteExpired = %d, %v; want 2, nil", n, err)
	}
	for _, label := range []string{"short", "short2", "edge"} {
		refreshFind(t, s, refreshHash(label), nil)
	}
	refreshFind(t, s, refreshHash("long"), long)
	if n, err := ex.DeleteExpired(context.Background(), refreshT0.Add(time.Hour)); err != nil || n != 0 {
		t.Fatalf("second DeleteExpired = %d, %v; want 0, nil", n, err)
	}
}

// refreshConcurrentRotation rotates one token from 50 goroutines at once: exactly one wins,
// the others see ErrRefreshReuse or ErrNotFound, and no token the losers proposed is live.
func refreshConcurrentRotation(t *testing.T, s gatehouse.RefreshStore) {
	const n = 50
	f := refreshNewFamily(t, s, "u1", refreshHash("0"), time.Hour)
	nexts := make([]gatehouse.Hash, n)
	errs := make([]error, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		nexts[i] = refreshHash("next-" + string(rune('A'+i)))
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			_, errs[i] = refreshRotate(t, s, refreshHash("0"), nexts[i], refreshT0)
		}()
	}
	close(start)
	wg.Wait()
	winner := refreshCheckRace(t, errs)
	for i, h := range nexts {
		if i == winner {
			continue
		}
		refreshFind(t, s, h, nil)
		refreshRotateErr(t, s, h, refreshHash("after"), refreshT0, gatehouse.ErrNotFound)
	}
	// The winner's token is either live in f or died with the family when a loser's
	// replay was taken for reuse.
	got, found, err := s.RefreshFamilyByToken(context.Background(), nexts[winner])
	if err != nil || found && got.ID != f.ID {
		t.Fatalf("winner's token: %+v, %v, %v", got, found, err)
	}
	if found {
		if _, err := refreshRotate(t, s, nexts[winner], refreshHash("after-winner"), refreshT0); err != nil {
			t.Fatalf("rotating the winner's live token: %v", err)
		}
	}
}

// refreshCheckRace asserts exactly one nil error and only ErrRefreshReuse or ErrNotFound
// otherwise, and returns the winner's index.
func refreshCheckRace(t *testing.T, errs []error) int {
	t.Helper()
	winner := -1
	for i, err := range errs {
		switch {
		case err == nil && winner >= 0:
			t.Fatalf("rotations %d and %d both succeeded", winner, i)
		case err == nil:
			winner = i
		case !errors.Is(err, gatehouse.ErrRefreshReuse) && !errors.Is(err, gatehouse.ErrNotFound):
			t.Fatalf("rotation %d: %v, want ErrRefreshReuse or ErrNotFound", i, err)
		}
	}
	if winner < 0 {
		t.Fatal("no rotation succeeded")
	}
	return winner
}
