package revocation_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse"
	"github.com/gatehouse-auth/gatehouse/internal/testkit"
	"github.com/gatehouse-auth/gatehouse/revocation"
)

func TestFeedPublishesAcceptedWrites(t *testing.T) {
	ctx := context.Background()
	store := newSpy()
	f := revocation.NewFeed(store)
	events, cancel := f.SubscribeRevocations(8)
	defer cancel()
	exp := testkit.Start().Add(time.Hour)
	if err := f.RevokeToken(ctx, "jti-1", exp); err != nil {
		t.Fatal(err)
	}
	if err := f.SetNotBefore(ctx, "user-1", exp); err != nil {
		t.Fatal(err)
	}
	want := []gatehouse.RevocationEvent{
		{Kind: gatehouse.RevokedToken, ID: "jti-1", Time: exp},
		{Kind: gatehouse.NotBeforeChanged, ID: "user-1", Time: exp},
	}
	for _, w := range want {
		if got := <-events; got != w {
			t.Fatalf("event = %+v, want %+v", got, w)
		}
	}
	// Reads pass through to the store.
	if r, err := f.TokenRevoked(ctx, "jti-1"); err != nil || !r {
		t.Fatalf("TokenRevoked = %v, %v", r, err)
	}
	if nb, err := f.NotBefore(ctx, "user-1"); err != nil || !nb.Equal(exp) {
		t.Fatalf("NotBefore = %v, %v", nb, err)
	}
	if tokens, nbs, err := f.ListRevocations(ctx, exp.Add(-time.Hour)); err != nil || len(tokens) != 1 || len(nbs) != 1 {
		t.Fatalf("ListRevocations = %v %v %v", tokens, nbs, err)
	}

	// A write the store refuses is not published.
	store.fail.Store(true)
	if err := f.RevokeToken(ctx, "jti-2", exp); !errors.Is(err, errBroken) {
		t.Fatalf("RevokeToken = %v", err)
	}
	if err := f.SetNotBefore(ctx, "user-2", exp); !errors.Is(err, errBroken) {
		t.Fatalf("SetNotBefore = %v", err)
	}
	select {
	case ev := <-events:
		t.Fatalf("refused write published: %+v", ev)
	default:
	}
}

func TestFeedDropsSlowSubscribersAndCancels(t *testing.T) {
	ctx := context.Background()
	f := revocation.NewFeed(newSpy())
	slow, cancelSlow := f.SubscribeRevocations(1)
	defer cancelSlow()
	fast, cancelFast := f.SubscribeRevocations(16)
	exp := testkit.Start().Add(time.Hour)
	for _, jti := range []string{"a", "b"} {
		if err := f.RevokeToken(ctx, jti, exp); err != nil {
			t.Fatal(err)
		}
	}
	if ev, ok := <-slow; !ok || ev.ID != "a" {
		t.Fatalf("slow subscriber's first event = %+v, %v", ev, ok)
	}
	if _, ok := <-slow; ok {
		t.Fatal("a subscriber that fell behind was not dropped")
	}
	if f.Subscribers() != 1 {
		t.Fatalf("subscribers = %d", f.Subscribers())
	}
	cancelFast()
	cancelFast() // twice is harmless
	n := 0
	for range fast {
		n++
	}
	if n != 2 || f.Subscribers() != 0 {
		t.Fatalf("fast subscriber got %d events; %d subscribers left", n, f.Subscribers())
	}
	// Publishing with nobody listening is fine.
	if err := f.RevokeToken(ctx, "c", exp); err != nil {
		t.Fatal(err)
	}
}

func TestFeedNeedsAListerToList(t *testing.T) {
	f := revocation.NewFeed(notLister{newSpy()})
	if _, _, err := f.ListRevocations(context.Background(), time.Now()); !errors.Is(err, revocation.ErrNotListable) {
		t.Fatalf("err = %v", err)
	}
}

// notLister hides the ListRevocations method of the store it wraps.
type notLister struct{ s gatehouse.RevocationStore }

func (n notLister) RevokeToken(ctx context.Context, jti string, exp time.Time) error {
	return n.s.RevokeToken(ctx, jti, exp)
}
func (n notLister) TokenRevoked(ctx context.Context, jti string) (bool, error) {
	return n.s.TokenRevoked(ctx, jti)
}
func (n notLister) SetNotBefore(ctx context.Context, userID string, t time.Time) error {
	return n.s.SetNotBefore(ctx, userID, t)
}
func (n notLister) NotBefore(ctx context.Context, userID string) (time.Time, error) {
	return n.s.NotBefore(ctx, userID)
}
