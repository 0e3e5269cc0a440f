package refresh_test

import (
	"bytes"
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse"
	"github.com/gatehouse-auth/gatehouse/refresh"
)

// newGraceRefresher is newRefresher with a reuse grace.
func newGraceRefresher(t *testing.T, grace time.Duration) (*refresh.Refresher, *sealRecorder, *refreshClock) {
	t.Helper()
	r, store, clock := newRefresher(t, 0)
	rec := &sealRecorder{RefreshStore: store}
	r = refresh.NewRefresher(rec, 0, clock.Now)
	if err := r.SetReuseGrace(grace); err != nil {
		t.Fatal(err)
	}
	return r, rec, clock
}

// sealRecorder keeps every sealed blob handed to the store, and can corrupt the blobs it hands
// back, to show what the store holds and that a replay checks what it opens.
type sealRecorder struct {
	gatehouse.RefreshStore
	mu      sync.Mutex
	sealed  [][]byte
	corrupt bool
}

func (s *sealRecorder) RotateRefresh(ctx context.Context, rot gatehouse.RefreshRotation) (*gatehouse.RefreshFamily, []byte, error) {
	s.mu.Lock()
	s.sealed = append(s.sealed, bytes.Clone(rot.Sealed))
	corrupt := s.corrupt
	s.mu.Unlock()
	f, replay, err := s.RefreshStore.RotateRefresh(ctx, rot)
	if corrupt && replay != nil {
		replay = bytes.Clone(replay)
		replay[len(replay)-1] ^= 1
	}
	return f, replay, err
}

func TestRefresherReuseGraceReplaysThePair(t *testing.T) {
	r, rec, clock := newGraceRefresher(t, 10*time.Second)
	ctx := context.Background()
	first, _, err := r.Start(ctx, "u1", gatehouse.MethodPassword)
	if err != nil {
		t.Fatal(err)
	}
	var issued atomic.Int64
	won, err := rotateWith(ctx, r, first, fakeIssue(&issued))
	if err != nil || won.Replay || !gatehouse.ValidSecret(won.RefreshToken) || won.AccessToken == "" {
		t.Fatalf("Rotate = %+v, %v", won, err)
	}
	for _, d := range []time.Duration{5 * time.Second, 5 * time.Second} { // the window's last instant included
		clock.Advance(d)
		again, err := rotateWith(ctx, r, first, fakeIssue(&issued))
		if err != nil || !again.Replay || again.RefreshToken != won.RefreshToken || again.AccessToken != won.AccessToken ||
			!again.ExpiresAt.Equal(won.ExpiresAt) || again.Family.ID != won.Family.ID {
			t.Fatalf("replay after %v: %+v, %v; want the pair %+v", d, again, err, won)
		}
	}
	// The store holds neither token of the pair in clear.
	for _, b := range rec.sealed {
		if bytes.Contains(b, []byte(won.RefreshToken)) || bytes.Contains(b, []byte(won.AccessToken)) {
			t.Fatal("a sealed blob holds a token in clear")
		}
	}
	// The pair is live: its refresh token rotates; then the first token, two rotations old,
	// is reuse even within the grace, and the family dies.
	third, err := rotateWith(ctx, r, won.RefreshToken, fakeIssue(nil))
	if err != nil || third.Replay {
		t.Fatalf("rotating the replayed pair's token: %+v, %v", third, err)
	}
	if _, err := rotateWith(ctx, r, first, fakeIssue(nil)); !errors.Is(err, gatehouse.ErrRefreshReuse) {
		t.Fatalf("token two rotations old: %v, want ErrRefreshReuse", err)
	}
	if _, err := rotateWith(ctx, r, third.RefreshToken, fakeIssue(nil)); !errors.Is(err, gatehouse.ErrInvalidToken) {
		t.Fatalf("current token after reuse: %v, want ErrInvalidToken", err)
	}
}

func TestRefresherReuseGraceEnds(t *testing.T) {
	r, _, clock := newGraceRefresher(t, 10*time.Second)
	ctx := context.Background()
	first, _, _ := r.Start(ctx, "u1", gatehouse.MethodPassword)
	won, err := rotateWith(ctx, r, first, fakeIssue(nil))
	if err != nil {
		t.Fatal(err)
	}
	clock.Advance(10*time.Second + time.Nanosecond)
	if _, err := rotateWith(ctx, r, first, fakeIssue(nil)); !errors.Is(err, gatehouse.ErrRefreshReuse) {
		t.Fatalf("replay after the grace: %v, want ErrRefreshReuse", err)
	}
	if _, err := rotateWith(ctx, r, won.RefreshToken, fakeIssue(nil)); !errors.Is(err, gatehouse.ErrInvalidToken) {
		t.Fatalf("the pair after reuse: %v, want ErrInvalidToken", err)
	}
}

// TestRefresherReuseGraceConcurrent is the multi-tab case: 20 presentations of one token at
// once; one rotates, all 20 get the same pair, none revokes the family.
func TestRefresherReuseGraceConcurrent(t *testing.T) {
	r, _, _ := newGraceRefresher(t, 10*time.Second)
	ctx := context.Background()
	first, _, _ := r.Start(ctx, "u1", gatehouse.MethodPassword)
	const n = 20
	rots := make([]refresh.Rotation, n)
	errs := make([]error, n)
	issue := fakeIssue(nil)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rots[i], errs[i] = rotateWith(ctx, r, first, issue)
		}()
	}
	wg.Wait()
	rotated := 0
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("presentation %d: %v", i, errs[i])
		}
		if !rots[i].Replay {
			rotated++
		}
		if rots[i].RefreshToken != rots[0].RefreshToken || rots[i].AccessToken != rots[0].AccessToken {
			t.Fatalf("presentations 0 and %d got different pairs", i)
		}
	}
	if rotated != 1 {
		t.Fatalf("%d presentations rotated, want exactly 1", rotated)
	}
	if _, err := rotateWith(ctx, r, rots[0].RefreshToken, fakeIssue(nil)); err != nil {
		t.Fatalf("the shared pair's token: %v", err)
	}
}

func TestRefresherReuseGraceLimits(t *testing.T) {
	r, _, _ := newRefresher(t, 0)
	for _, bad := range []time.Duration{-time.Nanosecond, refresh.MaxReuseGrace + time.Nanosecond, time.Hour} {
		if err := r.SetReuseGrace(bad); err == nil {
			t.Errorf("SetReuseGrace(%v) accepted", bad)
		}
	}
	if r.ReuseGrace() != 0 {
		t.Fatalf("a refused grace changed it to %v", r.ReuseGrace())
	}
	for _, good := range []time.Duration{0, time.Second, refresh.MaxReuseGrace} {
		if err := r.SetReuseGrace(good); err != nil || r.ReuseGrace() != good {
			t.Errorf("SetReuseGrace(%v) = %v, grace %v", good, err, r.ReuseGrace())
		}
	}
}

// TestRefresherReuseGraceIssueFails: when issue refuses (the user was disabled, say), Rotate
// returns its error as is and the token does not rotate.
func TestRefresherReuseGraceIssueFails(t *testing.T) {
	r, _, _ := newGraceRefresher(t, 10*time.Second)
	ctx := context.Background()
	first, _, _ := r.Start(ctx, "u1", gatehouse.MethodPassword)
	refused := errors.New("user disabled")
	_, err := rotateWith(ctx, r, first, func(context.Context, *gatehouse.RefreshFamily) (refresh.Issued, error) {
		return refresh.Issued{}, refused
	})
	if err != refused {
		t.Fatalf("Rotate = %v, want issue's error", err)
	}
	if rot, err := rotateWith(ctx, r, first, fakeIssue(nil)); err != nil || rot.Replay {
		t.Fatalf("the token after a refused issue: %+v, %v; want a rotation", rot, err)
	}
}

// TestRefresherReuseGraceTamperedBlob: a sealed blob that does not open is an error, never a
// pair.
func TestRefresherReuseGraceTamperedBlob(t *testing.T) {
	r, rec, _ := newGraceRefresher(t, 10*time.Second)
	ctx := context.Background()
	first, _, _ := r.Start(ctx, "u1", gatehouse.MethodPassword)
	if _, err := rotateWith(ctx, r, first, fakeIssue(nil)); err != nil {
		t.Fatal(err)
	}
	rec.corrupt = true
	if rot, err := rotateWith(ctx, r, first, fakeIssue(nil)); err == nil || rot.RefreshToken != "" || rot.AccessToken != "" {
		t.Fatalf("replay with a tampered blob: %+v, %v; want an error", rot, err)
	}
}

// TestRefresherNoGraceIssuesAfterRotating: without a grace the token rotates first (a replay
// costs no signature) and issue's error comes back as is.
func TestRefresherNoGraceIssuesAfterRotating(t *testing.T) {
	r, _, _ := newRefresher(t, 0)
	ctx := context.Background()
	first, _, _ := r.Start(ctx, "u1", gatehouse.MethodPassword)
	var issued atomic.Int64
	won, err := rotateWith(ctx, r, first, fakeIssue(&issued))
	if err != nil || issued.Load() != 1 {
		t.Fatalf("Rotate = %+v, %v, issued %d", won, err, issued.Load())
	}
	if _, err := rotateWith(ctx, r, first, fakeIssue(&issued)); !errors.Is(err, gatehouse.ErrRefreshReuse) || issued.Load() != 1 {
		t.Fatalf("replay without a grace: %v, issued %d; want ErrRefreshReuse and no issue", err, issued.Load())
	}
}
