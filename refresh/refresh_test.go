package refresh_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse"
	"github.com/gatehouse-auth/gatehouse/internal/testkit"
	"github.com/gatehouse-auth/gatehouse/memory"
	"github.com/gatehouse-auth/gatehouse/refresh"
)

// countingStore counts the calls that reach the store, to prove that malformed secrets never
// do.
type countingStore struct {
	gatehouse.RefreshStore
	calls atomic.Int64
}

func (c *countingStore) RotateRefresh(ctx context.Context, rot gatehouse.RefreshRotation) (*gatehouse.RefreshFamily, []byte, error) {
	c.calls.Add(1)
	return c.RefreshStore.RotateRefresh(ctx, rot)
}

func (c *countingStore) RefreshFamilyByToken(ctx context.Context, h gatehouse.Hash) (*gatehouse.RefreshFamily, bool, error) {
	c.calls.Add(1)
	return c.RefreshStore.RefreshFamilyByToken(ctx, h)
}

type refreshClock = testkit.Clock

func newRefresher(t *testing.T, ttl time.Duration) (*refresh.Refresher, *countingStore, *refreshClock) {
	t.Helper()
	clock := testkit.NewClock()
	store := &countingStore{RefreshStore: memory.NewRefreshStore()}
	return refresh.NewRefresher(store, ttl, clock.Now), store, clock
}

// issueFunc issues the access token that goes with a rotation of family f, as package authn
// does between Begin and Finish.
type issueFunc func(ctx context.Context, f *gatehouse.RefreshFamily) (refresh.Issued, error)

// rotateWith runs a whole rotation of secret: Begin, then issue for the family, then Finish.
// issue's error is returned as is, and the rotation is then not finished.
func rotateWith(ctx context.Context, r *refresh.Refresher, secret string, issue issueFunc) (refresh.Rotation, error) {
	p, err := r.Begin(ctx, secret)
	if err != nil {
		return refresh.Rotation{Family: p.Family}, err
	}
	iss, err := issue(ctx, p.Family)
	if err != nil {
		return refresh.Rotation{}, err
	}
	return p.Finish(ctx, iss)
}

// rotate rotates secret with an issueFunc that issues a placeholder access token, and returns
// the new refresh token and the family.
func rotate(ctx context.Context, r *refresh.Refresher, secret string) (string, *gatehouse.RefreshFamily, error) {
	rot, err := rotateWith(ctx, r, secret, fakeIssue(nil))
	return rot.RefreshToken, rot.Family, err
}

// fakeIssue returns an IssueFunc that issues a distinct placeholder access token for every
// call (counting the calls in n, if not nil), expiring 15 minutes after the family's creation.
func fakeIssue(n *atomic.Int64) issueFunc {
	var seq atomic.Int64
	return func(_ context.Context, f *gatehouse.RefreshFamily) (refresh.Issued, error) {
		if n != nil {
			n.Add(1)
		}
		return refresh.Issued{
			AccessToken: fmt.Sprintf("access-%s-%d", f.ID, seq.Add(1)),
			ExpiresAt:   f.CreatedAt.Add(15 * time.Minute),
		}, nil
	}
}

func TestRefresherRotation(t *testing.T) {
	r, _, clock := newRefresher(t, 0)
	ctx := context.Background()
	first, f, err := r.Start(ctx, "u1", gatehouse.MethodPassword)
	if err != nil {
		t.Fatal(err)
	}
	if !gatehouse.ValidSecret(first) || f.UserID != "u1" || !gatehouse.ValidID(f.ID) ||
		!f.ExpiresAt.Equal(clock.Now().Add(30*24*time.Hour)) {
		t.Fatalf("Start = %q, %+v", first, f)
	}
	second, f2, err := rotate(ctx, r, first)
	if err != nil || f2.ID != f.ID || second == first || !gatehouse.ValidSecret(second) {
		t.Fatalf("Rotate = %q, %+v, %v", second, f2, err)
	}
	third, _, err := rotate(ctx, r, second)
	if err != nil {
		t.Fatal(err)
	}
	// Replaying the first token revokes the family: the current one dies too.
	if _, _, err := rotate(ctx, r, first); !errors.Is(err, gatehouse.ErrRefreshReuse) {
		t.Fatalf("reuse: %v, want ErrRefreshReuse", err)
	}
	if _, _, err := rotate(ctx, r, third); !errors.Is(err, gatehouse.ErrInvalidToken) {
		t.Fatalf("current token after reuse: %v, want ErrInvalidToken", err)
	}
}

func TestRefresherRejectsMalformedWithoutStore(t *testing.T) {
	r, store, _ := newRefresher(t, 0)
	ctx := context.Background()
	good := gatehouse.NewSecret()
	for _, s := range []string{"", "short", good + "x", good[:42] + "!", "eyJhbGciOiJFZERTQSJ9.eyJzdWIiOiJ1In0.c2ln"} {
		if _, _, err := rotate(ctx, r, s); !errors.Is(err, gatehouse.ErrInvalidToken) {
			t.Fatalf("Rotate(%q) = %v, want ErrInvalidToken", s, err)
		}
		if f, err := r.RevokeToken(ctx, s); f != nil || err != nil {
			t.Fatalf("RevokeToken(%q) = %v, %v", s, f, err)
		}
	}
	if n := store.calls.Load(); n != 0 {
		t.Fatalf("malformed secrets reached the store %d times", n)
	}
	// A well-formed but unknown secret is invalid too (after asking the store).
	if _, _, err := rotate(ctx, r, good); !errors.Is(err, gatehouse.ErrInvalidToken) || errors.Is(err, gatehouse.ErrRefreshReuse) {
		t.Fatalf("unknown secret: %v", err)
	}
}

func TestRefresherExpiry(t *testing.T) {
	r, _, clock := newRefresher(t, time.Hour)
	ctx := context.Background()
	secret, _, err := r.Start(ctx, "u1", gatehouse.MethodPassword)
	if err != nil {
		t.Fatal(err)
	}
	clock.Advance(59 * time.Minute)
	if secret, _, err = rotate(ctx, r, secret); err != nil {
		t.Fatalf("before expiry: %v", err)
	}
	clock.Advance(time.Minute) // rotation does not extend the family
	if _, _, err := rotate(ctx, r, secret); !errors.Is(err, gatehouse.ErrTokenExpired) {
		t.Fatalf("after expiry: %v, want ErrTokenExpired", err)
	}
}

func TestRefresherRevoke(t *testing.T) {
	r, _, _ := newRefresher(t, 0)
	ctx := context.Background()
	a, fa, _ := r.Start(ctx, "u1", gatehouse.MethodPassword)
	b, _, _ := r.Start(ctx, "u1", gatehouse.MethodPassword)
	c, _, _ := r.Start(ctx, "u2", gatehouse.MethodPassword)
	d, _, _ := r.Start(ctx, "u2", gatehouse.MethodPassword)
	if err := r.RevokeFamily(ctx, fa.ID); err != nil {
		t.Fatal(err)
	}
	if err := r.RevokeFamily(ctx, fa.ID); err != nil {
		t.Fatalf("revoking twice: %v", err)
	}
	if _, _, err := rotate(ctx, r, a); !errors.Is(err, gatehouse.ErrInvalidToken) {
		t.Fatalf("revoked family: %v", err)
	}
	// RevokeToken through an already rotated token kills the family.
	c2, _, err := rotate(ctx, r, c)
	if err != nil {
		t.Fatal(err)
	}
	if f, err := r.RevokeToken(ctx, c); f == nil || f.UserID != "u2" || err != nil {
		t.Fatalf("RevokeToken = %v, %v", f, err)
	}
	if _, _, err := rotate(ctx, r, c2); !errors.Is(err, gatehouse.ErrInvalidToken) {
		t.Fatalf("after RevokeToken: %v", err)
	}
	if f, err := r.RevokeToken(ctx, c); f != nil || err != nil {
		t.Fatalf("RevokeToken again = %v, %v", f, err)
	}
	if err := r.RevokeUser(ctx, "u1"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := rotate(ctx, r, b); !errors.Is(err, gatehouse.ErrInvalidToken) {
		t.Fatalf("after RevokeUser: %v", err)
	}
	if _, _, err := rotate(ctx, r, d); err != nil {
		t.Fatalf("another user's family: %v", err)
	}
}

func TestRefresherConcurrentRotate(t *testing.T) {
	r, _, _ := newRefresher(t, 0)
	ctx := context.Background()
	secret, _, _ := r.Start(ctx, "u1", gatehouse.MethodPassword)
	var wins atomic.Int64
	var wg sync.WaitGroup
	for range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, _, err := rotate(ctx, r, secret)
			switch {
			case err == nil:
				wins.Add(1)
			case !errors.Is(err, gatehouse.ErrRefreshReuse) && !errors.Is(err, gatehouse.ErrInvalidToken):
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if wins.Load() != 1 {
		t.Fatalf("%d rotations won, want 1", wins.Load())
	}
}
