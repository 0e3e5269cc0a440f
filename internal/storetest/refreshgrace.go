package storetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse"
)

// refreshGrace is the reuse grace of the grace tests.
const refreshGrace = 10 * time.Second

// refreshSealed is the distinct sealed blob of each label.
func refreshSealed(label string) []byte { return []byte("sealed:" + label) }

// refreshGraceRotate rotates old to next at now with the grace and the blob of label, and
// returns what the store answered.
func refreshGraceRotate(s gatehouse.RefreshStore, old, next string, now time.Time, label string) (*gatehouse.RefreshFamily, []byte, error) {
	return s.RotateRefresh(context.Background(), gatehouse.RefreshRotation{
		Old: refreshHash(old), Next: refreshHash(next), Now: now, Grace: refreshGrace, Sealed: refreshSealed(label),
	})
}

// refreshMustRotate asserts that a graceful rotation of old rotates (no replay).
func refreshMustRotate(t *testing.T, s gatehouse.RefreshStore, old, next string, now time.Time, want *gatehouse.RefreshFamily) {
	t.Helper()
	f, replay, err := refreshGraceRotate(s, old, next, now, old+">"+next)
	if err != nil || replay != nil {
		t.Fatalf("rotate %s -> %s: replay %q, %v; want a rotation", old, next, replay, err)
	}
	refreshSameFamily(t, f, want)
}

// refreshMustReplay asserts that presenting old at now is a replay answered with wantSealed,
// and that the replay neither stored its own next token nor changed the family.
func refreshMustReplay(t *testing.T, s gatehouse.RefreshStore, old string, now time.Time, wantSealed []byte, want *gatehouse.RefreshFamily) {
	t.Helper()
	next := fmt.Sprintf("replay-of-%s-at-%d", old, now.UnixNano())
	f, replay, err := refreshGraceRotate(s, old, next, now, next)
	if err != nil || !bytes.Equal(replay, wantSealed) {
		t.Fatalf("replay of %s: %q, %v; want %q", old, replay, err, wantSealed)
	}
	refreshSameFamily(t, f, want)
	refreshFind(t, s, refreshHash(next), nil)
}

// refreshGraceReplay: within the grace, the token just rotated gets that rotation's blob back,
// as often as it is presented, up to and including the window's last instant; the family lives
// on and its current token still rotates.
func refreshGraceReplay(t *testing.T, s gatehouse.RefreshStore) {
	f := refreshNewFamily(t, s, "u1", refreshHash("0"), time.Hour)
	refreshMustRotate(t, s, "0", "1", refreshT0, f)
	refreshMustReplay(t, s, "0", refreshT0, refreshSealed("0>1"), f)
	refreshMustReplay(t, s, "0", refreshT0.Add(refreshGrace/2), refreshSealed("0>1"), f)
	refreshMustReplay(t, s, "0", refreshT0.Add(refreshGrace), refreshSealed("0>1"), f)
	for _, label := range []string{"0", "1"} {
		refreshFind(t, s, refreshHash(label), f)
	}
	refreshMustRotate(t, s, "1", "2", refreshT0.Add(refreshGrace+time.Second), f)
}

// refreshGraceWindowEnds: one microsecond after the window, a replay is reuse again.
func refreshGraceWindowEnds(t *testing.T, s gatehouse.RefreshStore) {
	f := refreshNewFamily(t, s, "u1", refreshHash("0"), time.Hour)
	refreshMustRotate(t, s, "0", "1", refreshT0, f)
	_, replay, err := refreshGraceRotate(s, "0", "late", refreshT0.Add(refreshGrace+time.Microsecond), "late")
	if !errors.Is(err, gatehouse.ErrRefreshReuse) || replay != nil {
		t.Fatalf("replay after the grace: %q, %v; want ErrRefreshReuse", replay, err)
	}
	for _, label := range []string{"0", "1", "late"} {
		refreshFind(t, s, refreshHash(label), nil)
	}
	refreshRotateErr(t, s, refreshHash("1"), refreshHash("2"), refreshT0, gatehouse.ErrNotFound)
}

// refreshGraceOnlyLatest: only the token the latest rotation retired is replayed; a token two
// rotations old is reuse even within the grace.
func refreshGraceOnlyLatest(t *testing.T, s gatehouse.RefreshStore) {
	f := refreshNewFamily(t, s, "u1", refreshHash("0"), time.Hour)
	refreshMustRotate(t, s, "0", "1", refreshT0, f)
	refreshMustRotate(t, s, "1", "2", refreshT0.Add(time.Second), f)
	refreshMustReplay(t, s, "1", refreshT0.Add(2*time.Second), refreshSealed("1>2"), f)
	_, replay, err := refreshGraceRotate(s, "0", "x", refreshT0.Add(2*time.Second), "x")
	if !errors.Is(err, gatehouse.ErrRefreshReuse) || replay != nil {
		t.Fatalf("replay of a token two rotations old: %q, %v; want ErrRefreshReuse", replay, err)
	}
	refreshFind(t, s, refreshHash("2"), nil)
}

// refreshGraceNeedsGraceAndBlob: without a grace (today's default) a replay is reuse even if
// the rotation kept a blob, and with a grace a replay is reuse if the rotation kept none.
func refreshGraceNeedsGraceAndBlob(t *testing.T, s gatehouse.RefreshStore) {
	f := refreshNewFamily(t, s, "u1", refreshHash("0"), time.Hour)
	refreshMustRotate(t, s, "0", "1", refreshT0, f)
	refreshRotateErr(t, s, refreshHash("0"), refreshHash("x"), refreshT0, gatehouse.ErrRefreshReuse)
	refreshFind(t, s, refreshHash("1"), nil)

	refreshNewFamily(t, s, "u1", refreshHash("a"), time.Hour)
	if _, err := refreshRotate(t, s, refreshHash("a"), refreshHash("b"), refreshT0); err != nil {
		t.Fatalf("rotate: %v", err)
	}
	_, replay, err := refreshGraceRotate(s, "a", "y", refreshT0, "y")
	if !errors.Is(err, gatehouse.ErrRefreshReuse) || replay != nil {
		t.Fatalf("replay of a rotation that kept no blob: %q, %v; want ErrRefreshReuse", replay, err)
	}
	refreshFind(t, s, refreshHash("b"), nil)

	// A rotation without a blob clears the blob the previous rotation kept.
	h := refreshNewFamily(t, s, "u1", refreshHash("p"), time.Hour)
	refreshMustRotate(t, s, "p", "q", refreshT0, h)
	if _, err := refreshRotate(t, s, refreshHash("q"), refreshHash("r"), refreshT0); err != nil {
		t.Fatalf("rotate: %v", err)
	}
	if _, replay, err := refreshGraceRotate(s, "q", "z", refreshT0, "z"); !errors.Is(err, gatehouse.ErrRefreshReuse) {
		t.Fatalf("replay after a blob-less rotation: %q, %v; want ErrRefreshReuse", replay, err)
	}
}

// refreshGraceDeadFamily: the grace never revives an expired or revoked family.
func refreshGraceDeadFamily(t *testing.T, s gatehouse.RefreshStore) {
	f := refreshNewFamily(t, s, "u1", refreshHash("0"), time.Hour)
	almost := f.ExpiresAt.Add(-time.Second)
	refreshMustRotate(t, s, "0", "1", almost, f)
	_, replay, err := refreshGraceRotate(s, "0", "x", f.ExpiresAt, "x")
	if !errors.Is(err, gatehouse.ErrTokenExpired) || replay != nil {
		t.Fatalf("replay in an expired family: %q, %v; want ErrTokenExpired", replay, err)
	}

	g := refreshNewFamily(t, s, "u1", refreshHash("a"), time.Hour)
	refreshMustRotate(t, s, "a", "b", refreshT0, g)
	if found, err := s.RevokeRefreshFamily(context.Background(), g.ID); err != nil || !found {
		t.Fatalf("RevokeRefreshFamily = %v, %v", found, err)
	}
	if _, replay, err := refreshGraceRotate(s, "a", "y", refreshT0, "y"); !errors.Is(err, gatehouse.ErrNotFound) {
		t.Fatalf("replay in a revoked family: %q, %v; want ErrNotFound", replay, err)
	}

	h := refreshNewFamily(t, s, "u2", refreshHash("p"), time.Hour)
	refreshMustRotate(t, s, "p", "q", refreshT0, h)
	if err := s.RevokeUserRefresh(context.Background(), "u2"); err != nil {
		t.Fatal(err)
	}
	if _, replay, err := refreshGraceRotate(s, "p", "z", refreshT0, "z"); !errors.Is(err, gatehouse.ErrNotFound) {
		t.Fatalf("replay after RevokeUserRefresh: %q, %v; want ErrNotFound", replay, err)
	}
}

// refreshGraceConcurrentRotation presents one token from 50 goroutines at once, each with its
// own next token and blob, under a grace: exactly one rotates, every other one gets the
// winner's blob, none revokes the family, and only the winner's token is live.
func refreshGraceConcurrentRotation(t *testing.T, s gatehouse.RefreshStore) {
	const n = 50
	f := refreshNewFamily(t, s, "u1", refreshHash("0"), time.Hour)
	replays := make([][]byte, n)
	errs := make([]error, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			_, replays[i], errs[i] = refreshGraceRotate(s, "0", fmt.Sprint("next-", i), refreshT0, fmt.Sprint(i))
		}()
	}
	close(start)
	wg.Wait()
	winner := -1
	for i := range n {
		switch {
		case errs[i] != nil:
			t.Fatalf("presentation %d: %v; want a rotation or a replay", i, errs[i])
		case replays[i] == nil && winner >= 0:
			t.Fatalf("presentations %d and %d both rotated", winner, i)
		case replays[i] == nil:
			winner = i
		}
	}
	if winner < 0 {
		t.Fatal("no presentation rotated")
	}
	for i := range n {
		if i != winner && !bytes.Equal(replays[i], refreshSealed(fmt.Sprint(winner))) {
			t.Fatalf("presentation %d got %q, want the winner's %q", i, replays[i], refreshSealed(fmt.Sprint(winner)))
		}
		if i != winner {
			refreshFind(t, s, refreshHash(fmt.Sprint("next-", i)), nil)
		}
	}
	refreshMustRotate(t, s, fmt.Sprint("next-", winner), "after", refreshT0.Add(time.Second), f)
}
