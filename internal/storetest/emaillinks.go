package storetest

import (
	"context"
	"crypto/rand"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse"
	"github.com/gatehouse-auth/gatehouse/internal/testkit"
)

// TestEmailLinkStore runs the gatehouse.EmailLinkStore contract. newStore must return an empty
// store for each subtest.
func TestEmailLinkStore(t *testing.T, newStore func(t *testing.T) gatehouse.EmailLinkStore) {
	tests := []struct {
		name string
		fn   func(*testing.T, gatehouse.EmailLinkStore)
	}{
		{"CreateConsumeOnce", testLinkConsumeOnce},
		{"WrongPurposeKeepsTheLink", testLinkWrongPurpose},
		{"Expiry", testLinkExpiry},
		{"NewestReplacesOlder", testLinkReplace},
		{"HashConflict", testLinkConflict},
		{"ConcurrentConsumeOneWins", testLinkConcurrent},
		{"DeleteUserLinks", testLinkDeleteUser},
		{"DeleteExpired", testLinkDeleteExpired},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.fn(t, newStore(t))
		})
	}
}

// NewTestLink returns a link of user with purpose p, created at created and valid for ttl,
// under a random hash.
func NewTestLink(user string, p gatehouse.LinkPurpose, created time.Time, ttl time.Duration) *gatehouse.EmailLink {
	var h gatehouse.Hash
	_, _ = rand.Read(h[:])
	return &gatehouse.EmailLink{Hash: h, UserID: user, Purpose: p, Email: user + "@example.test",
		CreatedAt: created, ExpiresAt: created.Add(ttl)}
}

func mustCreateLink(t *testing.T, s gatehouse.EmailLinkStore, l *gatehouse.EmailLink, replace bool) {
	t.Helper()
	if err := s.CreateEmailLink(context.Background(), l, replace); err != nil {
		t.Fatalf("CreateEmailLink: %v", err)
	}
}

// consume returns whether the link is found, failing t on an error.
func consume(t *testing.T, s gatehouse.EmailLinkStore, l *gatehouse.EmailLink, p gatehouse.LinkPurpose, now time.Time) (*gatehouse.EmailLink, bool) {
	t.Helper()
	got, found, err := s.ConsumeEmailLink(context.Background(), l.Hash, p, now)
	if err != nil {
		t.Fatalf("ConsumeEmailLink: %v", err)
	}
	return got, found
}

func sameLink(got, want *gatehouse.EmailLink) bool {
	return got != nil && got.Hash == want.Hash && got.UserID == want.UserID && got.Purpose == want.Purpose &&
		got.Email == want.Email && got.CreatedAt.Equal(want.CreatedAt) && got.ExpiresAt.Equal(want.ExpiresAt)
}

var linkBase = testkit.Start().Add(123456789)

func testLinkConsumeOnce(t *testing.T, s gatehouse.EmailLinkStore) {
	l := NewTestLink("u1", gatehouse.LinkReset, linkBase, 30*time.Minute)
	mustCreateLink(t, s, l, true)
	got, found := consume(t, s, l, gatehouse.LinkReset, linkBase.Add(time.Minute))
	if !found || !sameLink(got, l) {
		t.Fatalf("ConsumeEmailLink = %+v, %v; want %+v", got, found, l)
	}
	if _, found := consume(t, s, l, gatehouse.LinkReset, linkBase.Add(time.Minute)); found {
		t.Fatal("a link was consumed twice")
	}
	var unknown gatehouse.Hash
	if _, found, err := s.ConsumeEmailLink(context.Background(), unknown, gatehouse.LinkReset, linkBase); err != nil || found {
		t.Fatalf("unknown hash: %v, %v", found, err)
	}
}

func testLinkWrongPurpose(t *testing.T, s gatehouse.EmailLinkStore) {
	l := NewTestLink("u1", gatehouse.LinkVerify, linkBase, 24*time.Hour)
	mustCreateLink(t, s, l, false)
	if _, found := consume(t, s, l, gatehouse.LinkReset, linkBase); found {
		t.Fatal("a verification link reset a password")
	}
	if _, found := consume(t, s, l, gatehouse.LinkVerify, linkBase); !found {
		t.Fatal("the link was lost by a try with the wrong purpose")
	}
}

func testLinkExpiry(t *testing.T, s gatehouse.EmailLinkStore) {
	l := NewTestLink("u1", gatehouse.LinkReset, linkBase, 30*time.Minute)
	mustCreateLink(t, s, l, true)
	for _, at := range []time.Time{l.ExpiresAt, l.ExpiresAt.Add(time.Nanosecond), l.ExpiresAt.Add(time.Hour)} {
		if _, found := consume(t, s, l, gatehouse.LinkReset, at); found {
			t.Fatalf("consumed at its expiry + %v", at.Sub(l.ExpiresAt))
		}
	}
	m := NewTestLink("u1", gatehouse.LinkReset, linkBase, 30*time.Minute)
	mustCreateLink(t, s, m, false)
	if _, found := consume(t, s, m, gatehouse.LinkReset, m.ExpiresAt.Add(-time.Nanosecond)); !found {
		t.Fatal("not consumable a nanosecond before its expiry")
	}
}

func testLinkReplace(t *testing.T, s gatehouse.EmailLinkStore) {
	old1 := NewTestLink("u1", gatehouse.LinkReset, linkBase, 30*time.Minute)
	old2 := NewTestLink("u1", gatehouse.LinkReset, linkBase.Add(time.Second), 30*time.Minute)
	verify := NewTestLink("u1", gatehouse.LinkVerify, linkBase, 24*time.Hour)
	other := NewTestLink("u2", gatehouse.LinkReset, linkBase, 30*time.Minute)
	for _, l := range []*gatehouse.EmailLink{old1, old2, verify, other} {
		mustCreateLink(t, s, l, false)
	}
	newest := NewTestLink("u1", gatehouse.LinkReset, linkBase.Add(time.Minute), 30*time.Minute)
	mustCreateLink(t, s, newest, true)
	now := linkBase.Add(2 * time.Minute)
	for _, l := range []*gatehouse.EmailLink{old1, old2} {
		if _, found := consume(t, s, l, gatehouse.LinkReset, now); found {
			t.Error("an older reset link survived a newer request")
		}
	}
	for _, c := range []struct {
		l *gatehouse.EmailLink
		p gatehouse.LinkPurpose
	}{{newest, gatehouse.LinkReset}, {verify, gatehouse.LinkVerify}, {other, gatehouse.LinkReset}} {
		if _, found := consume(t, s, c.l, c.p, now); !found {
			t.Errorf("link of %s (%s) lost by the replacement", c.l.UserID, c.p)
		}
	}
}

func testLinkConflict(t *testing.T, s gatehouse.EmailLinkStore) {
	l := NewTestLink("u1", gatehouse.LinkVerify, linkBase, time.Hour)
	mustCreateLink(t, s, l, false)
	dup := *l
	dup.UserID = "u2"
	if err := s.CreateEmailLink(context.Background(), &dup, false); !errors.Is(err, gatehouse.ErrConflict) {
		t.Fatalf("CreateEmailLink(same hash) = %v, want ErrConflict", err)
	}
	if got, found := consume(t, s, l, gatehouse.LinkVerify, linkBase); !found || got.UserID != "u1" {
		t.Fatalf("after the conflict: %+v, %v", got, found)
	}
}

// testLinkConcurrent redeems each link from several goroutines at once: exactly one wins.
func testLinkConcurrent(t *testing.T, s gatehouse.EmailLinkStore) {
	const links, racers = 5, 8
	for range links {
		l := NewTestLink("u1", gatehouse.LinkVerify, linkBase, time.Hour)
		mustCreateLink(t, s, l, false)
		var wg sync.WaitGroup
		var mu sync.Mutex
		wins, errs := 0, 0
		start := make(chan struct{})
		for range racers {
			wg.Go(func() {
				<-start
				_, found, err := s.ConsumeEmailLink(context.Background(), l.Hash, gatehouse.LinkVerify, linkBase)
				mu.Lock()
				defer mu.Unlock()
				if err != nil {
					errs++
				} else if found {
					wins++
				}
			})
		}
		close(start)
		wg.Wait()
		if wins != 1 || errs != 0 {
			t.Fatalf("%d concurrent redemptions: %d won, %d failed; want exactly 1 winner and no failure", racers, wins, errs)
		}
	}
}

func testLinkDeleteUser(t *testing.T, s gatehouse.EmailLinkStore) {
	ctx := context.Background()
	r := NewTestLink("u1", gatehouse.LinkReset, linkBase, time.Hour)
	v := NewTestLink("u1", gatehouse.LinkVerify, linkBase, time.Hour)
	o := NewTestLink("u2", gatehouse.LinkReset, linkBase, time.Hour)
	for _, l := range []*gatehouse.EmailLink{r, v, o} {
		mustCreateLink(t, s, l, false)
	}
	if n, err := s.DeleteUserEmailLinks(ctx, "u1", gatehouse.LinkReset); err != nil || n != 1 {
		t.Fatalf("DeleteUserEmailLinks(u1, reset) = %d, %v; want 1", n, err)
	}
	if _, found := consume(t, s, r, gatehouse.LinkReset, linkBase); found {
		t.Error("the deleted reset link still works")
	}
	mustCreateLink(t, s, NewTestLink("u1", gatehouse.LinkReset, linkBase, time.Hour), false)
	if n, err := s.DeleteUserEmailLinks(ctx, "u1", ""); err != nil || n != 2 {
		t.Fatalf("DeleteUserEmailLinks(u1, all) = %d, %v; want 2", n, err)
	}
	if _, found := consume(t, s, v, gatehouse.LinkVerify, linkBase); found {
		t.Error("the deleted verification link still works")
	}
	if _, found := consume(t, s, o, gatehouse.LinkReset, linkBase); !found {
		t.Error("another user's link was deleted")
	}
}

func testLinkDeleteExpired(t *testing.T, s gatehouse.EmailLinkStore) {
	ex, ok := s.(gatehouse.Expirer)
	if !ok {
		t.Skip("the store does not keep expired links")
	}
	gone := NewTestLink("u1", gatehouse.LinkReset, linkBase, time.Minute)
	kept := NewTestLink("u1", gatehouse.LinkVerify, linkBase, time.Hour)
	mustCreateLink(t, s, gone, false)
	mustCreateLink(t, s, kept, false)
	n, err := ex.DeleteExpired(context.Background(), linkBase.Add(time.Minute))
	if err != nil || n != 1 {
		t.Fatalf("DeleteExpired = %d, %v; want 1", n, err)
	}
	if _, found := consume(t, s, kept, gatehouse.LinkVerify, linkBase); !found {
		t.Error("DeleteExpired removed a live link")
	}
}
