package session_test

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/gatehouse-auth/gatehouse"
	"github.com/gatehouse-auth/gatehouse/session"
)

func TestCreateStoresOnlyTheHash(t *testing.T) {
	eachMode(t, func(t *testing.T, cache bool) {
		f := newFixture(t, cache, session.Options{})
		secret, s := f.create(t, alice)
		if !gatehouse.ValidSecret(secret) || !gatehouse.ValidID(s.Handle) {
			t.Fatalf("secret %q or handle %q malformed", secret, s.Handle)
		}
		if s.Hash != gatehouse.HashSecret(secret) || !reflect.DeepEqual(s.User, alice) || s.IP != "192.0.2.1" || s.UserAgent != "test-agent" {
			t.Fatalf("session = %+v", s)
		}
		if !s.CreatedAt.Equal(t0) || !s.LastSeenAt.Equal(t0) || !s.ExpiresAt.Equal(t0.Add(12*time.Hour)) {
			t.Fatalf("times = %v %v %v", s.CreatedAt, s.LastSeenAt, s.ExpiresAt)
		}
		if f.stored(t, secret) == nil {
			t.Fatal("session not stored under the hash of its secret")
		}
		got := f.live(t, secret, s.Handle)
		if !reflect.DeepEqual(got.User, alice) {
			t.Fatalf("authenticated as %+v", got.User)
		}
	})
}

func TestCreateGivesFreshSecrets(t *testing.T) {
	f := newFixture(t, false, session.Options{})
	s1, a := f.create(t, alice)
	s2, b := f.create(t, alice)
	if s1 == s2 || a.Handle == b.Handle || a.Hash == b.Hash {
		t.Fatal("two logins share a secret, handle or hash")
	}
}

func TestIdleTimeout(t *testing.T) {
	eachMode(t, func(t *testing.T, cache bool) {
		f := newFixture(t, cache, session.Options{})
		early, es := f.create(t, alice)
		late, _ := f.create(t, alice)
		f.clock.Advance(30*time.Minute - time.Nanosecond)
		f.live(t, early, es.Handle)
		f.clock.Advance(time.Nanosecond)
		f.dead(t, late)
		if f.stored(t, late) != nil {
			t.Fatal("the idle-expired session was not deleted from the store")
		}
	})
}

func TestAbsoluteTimeout(t *testing.T) {
	eachMode(t, func(t *testing.T, cache bool) {
		f := newFixture(t, cache, session.Options{})
		secret, s := f.create(t, alice)
		for f.clock.Now().Before(t0.Add(12*time.Hour - 20*time.Minute)) {
			f.clock.Advance(20 * time.Minute)
			f.live(t, secret, s.Handle)
		}
		f.clock.Advance(t0.Add(12 * time.Hour).Sub(f.clock.Now()))
		f.dead(t, secret)
	})
}

func TestSlidingRenewal(t *testing.T) {
	eachMode(t, func(t *testing.T, cache bool) {
		f := newFixture(t, cache, session.Options{})
		secret, s := f.create(t, alice)
		f.clock.Advance(20 * time.Minute)
		got := f.live(t, secret, s.Handle)
		if want := t0.Add(50 * time.Minute); !f.m.ExpiresAt(got).Equal(want) {
			t.Fatalf("ExpiresAt = %v, want %v", f.m.ExpiresAt(got), want)
		}
		if seen := f.stored(t, secret).LastSeenAt; !seen.Equal(t0.Add(20 * time.Minute)) {
			t.Fatalf("stored LastSeenAt = %v, not renewed", seen)
		}
		f.clock.Advance(25 * time.Minute) // 45 minutes after creation, 25 after last use
		f.live(t, secret, s.Handle)
		f.clock.Advance(30 * time.Minute)
		f.dead(t, secret)
	})
}

func TestTouchThrottled(t *testing.T) {
	eachMode(t, func(t *testing.T, cache bool) {
		f := newFixture(t, cache, session.Options{})
		secret, s := f.create(t, alice)
		for range 30 {
			f.clock.Advance(10 * time.Second)
			f.live(t, secret, s.Handle)
		}
		if n := f.store.touches.Load(); n != 5 {
			t.Fatalf("%d touches in 5 minutes, want 5", n)
		}
		if seen := f.stored(t, secret).LastSeenAt; !seen.Equal(t0.Add(5 * time.Minute)) {
			t.Fatalf("stored LastSeenAt = %v", seen)
		}
	})
}

func TestTouchIntervalCappedByIdle(t *testing.T) {
	f := newFixture(t, false, session.Options{IdleTimeout: time.Minute, TouchInterval: time.Hour})
	secret, s := f.create(t, alice)
	for range 10 {
		f.clock.Advance(40 * time.Second)
		f.live(t, secret, s.Handle)
	}
}

func TestMalformedSecretsNeverReachTheStore(t *testing.T) {
	eachMode(t, func(t *testing.T, cache bool) {
		f := newFixture(t, cache, session.Options{})
		good, _ := f.create(t, alice)
		bad := []string{"", "x", good + "A", good[:42], good[:42] + "+", good[:42] + "=",
			good[:41] + "é", strings.Repeat("A", 42) + "B", strings.Repeat("\x00", 43), strings.Repeat("A", 10_000)}
		for _, secret := range bad {
			f.dead(t, secret)
			if err := f.m.Revoke(context.Background(), secret); err != nil {
				t.Fatalf("Revoke(malformed) = %v", err)
			}
		}
		if n, d := f.store.finds.Load(), f.store.deletes.Load(); n != 0 || d != 0 {
			t.Fatalf("malformed secrets reached the store: %d finds, %d deletes", n, d)
		}
	})
}

func TestRevoke(t *testing.T) {
	eachMode(t, func(t *testing.T, cache bool) {
		f := newFixture(t, cache, session.Options{})
		secret, s := f.create(t, alice)
		other, os := f.create(t, alice)
		f.live(t, secret, s.Handle)
		if err := f.m.Revoke(context.Background(), secret); err != nil {
			t.Fatal(err)
		}
		f.dead(t, secret)
		f.live(t, other, os.Handle)
		if err := f.m.Revoke(context.Background(), gatehouse.NewSecret()); err != nil {
			t.Fatalf("Revoke(unknown) = %v, want nil", err)
		}
	})
}

func TestRevokeHandle(t *testing.T) {
	eachMode(t, func(t *testing.T, cache bool) {
		ctx := context.Background()
		f := newFixture(t, cache, session.Options{})
		secret, s := f.create(t, alice)
		f.live(t, secret, s.Handle)
		if err := f.m.RevokeHandle(ctx, bob.UserID, s.Handle); !errors.Is(err, gatehouse.ErrNotFound) {
			t.Fatalf("RevokeHandle by another user = %v, want ErrNotFound", err)
		}
		f.live(t, secret, s.Handle)
		if err := f.m.RevokeHandle(ctx, alice.UserID, s.Handle); err != nil {
			t.Fatalf("RevokeHandle by owner = %v", err)
		}
		f.dead(t, secret)
		if err := f.m.RevokeHandle(ctx, alice.UserID, s.Handle); !errors.Is(err, gatehouse.ErrNotFound) {
			t.Fatalf("second RevokeHandle = %v, want ErrNotFound", err)
		}
	})
}

func TestRevokeAnyHandle(t *testing.T) {
	eachMode(t, func(t *testing.T, cache bool) {
		ctx := context.Background()
		f := newFixture(t, cache, session.Options{})
		secret, s := f.create(t, alice)
		f.live(t, secret, s.Handle)
		if uid, err := f.m.RevokeAnyHandle(ctx, s.Handle); err != nil || uid != alice.UserID {
			t.Fatalf("RevokeAnyHandle = %q, %v; want alice's id", uid, err)
		}
		f.dead(t, secret)
		if _, err := f.m.RevokeAnyHandle(ctx, s.Handle); !errors.Is(err, gatehouse.ErrNotFound) {
			t.Fatalf("RevokeAnyHandle(gone) = %v, want ErrNotFound", err)
		}
	})
}

func TestRevokeUser(t *testing.T) {
	eachMode(t, func(t *testing.T, cache bool) {
		f := newFixture(t, cache, session.Options{})
		a1, s1 := f.create(t, alice)
		a2, s2 := f.create(t, alice)
		b1, sb := f.create(t, bob)
		f.live(t, a1, s1.Handle)
		f.live(t, a2, s2.Handle)
		if err := f.m.RevokeUser(context.Background(), alice.UserID); err != nil {
			t.Fatal(err)
		}
		f.dead(t, a1)
		f.dead(t, a2)
		f.live(t, b1, sb.Handle)
	})
}

func TestNotBefore(t *testing.T) {
	eachMode(t, func(t *testing.T, cache bool) {
		ctx := context.Background()
		f := newFixture(t, cache, session.Options{})
		old, _ := f.create(t, alice)
		bobs, bs := f.create(t, bob)
		f.clock.Advance(time.Second)
		if err := f.revs.SetNotBefore(ctx, alice.UserID, f.clock.Now()); err != nil {
			t.Fatal(err)
		}
		fresh, fs := f.create(t, alice) // created exactly at the not-before time
		f.dead(t, old)
		if f.stored(t, old) != nil {
			t.Fatal("the revoked session was not deleted from the store")
		}
		f.live(t, fresh, fs.Handle)
		f.live(t, bobs, bs.Handle)
		list, err := f.m.List(ctx, alice.UserID)
		if err != nil || len(list) != 1 || list[0].Handle != fs.Handle {
			t.Fatalf("List = %v, %v; want only the fresh session", list, err)
		}
	})
}

func TestCreateNotBeforeInTheFuture(t *testing.T) {
	// Another instance with a clock ahead of ours set the not-before time.
	f := newFixture(t, false, session.Options{})
	nb := t0.Add(300 * time.Millisecond)
	f.revs.SetNotBefore(context.Background(), alice.UserID, nb)
	secret, s := f.create(t, alice)
	if !s.CreatedAt.Equal(nb) {
		t.Fatalf("CreatedAt = %v, want the not-before time %v", s.CreatedAt, nb)
	}
	f.live(t, secret, s.Handle)

	// A not-before time further ahead than the clock skew allowance is not lifted into the
	// session: the login is refused until then.
	f.revs.SetNotBefore(context.Background(), bob.UserID, t0.Add(session.MaxClockSkew+1))
	secret, s = f.create(t, bob)
	if !s.CreatedAt.Equal(t0) {
		t.Fatalf("CreatedAt = %v, want now", s.CreatedAt)
	}
	f.dead(t, secret)
}

func TestList(t *testing.T) {
	eachMode(t, func(t *testing.T, cache bool) {
		f := newFixture(t, cache, session.Options{})
		_, _ = f.create(t, alice)
		f.clock.Advance(20 * time.Minute)
		_, s2 := f.create(t, alice)
		f.clock.Advance(time.Nanosecond)
		_, s3 := f.create(t, alice)
		f.create(t, bob)
		f.clock.Advance(10 * time.Minute) // the first session is idle-expired now
		list, err := f.m.List(context.Background(), alice.UserID)
		if err != nil {
			t.Fatal(err)
		}
		if len(list) != 2 || list[0].Handle != s2.Handle || list[1].Handle != s3.Handle {
			t.Fatalf("List returned %d sessions, want the two live ones oldest first", len(list))
		}
	})
}

func TestUserAgentCut(t *testing.T) {
	f := newFixture(t, false, session.Options{})
	long := strings.Repeat("é", 1000) + "\xff"
	_, s, err := f.m.Create(context.Background(), alice, gatehouse.MethodPassword, "203.0.113.9", long)
	if err != nil {
		t.Fatal(err)
	}
	if len(s.UserAgent) > session.MaxUserAgent || len(s.UserAgent) < session.MaxUserAgent-3 || !utf8.ValidString(s.UserAgent) {
		t.Fatalf("user agent of %d bytes, valid=%v", len(s.UserAgent), utf8.ValidString(s.UserAgent))
	}
	_, s, _ = f.m.Create(context.Background(), alice, gatehouse.MethodPassword, "", "a\xffb")
	if s.UserAgent != "a\uFFFDb" {
		t.Fatalf("user agent %q, want invalid bytes replaced", s.UserAgent)
	}
}

func TestStoreFailureFailsClosed(t *testing.T) {
	eachMode(t, func(t *testing.T, cache bool) {
		ctx := context.Background()
		f := newFixture(t, cache, session.Options{})
		secret, _ := f.plant(t, alice) // not in the cache
		f.store.fail.Store(true)
		unavailable := func(what string, err error) {
			t.Helper()
			if !errors.Is(err, gatehouse.ErrUnavailable) {
				t.Fatalf("%s = %v, want ErrUnavailable", what, err)
			}
		}
		s, err := f.m.Authenticate(ctx, secret)
		if s != nil {
			t.Fatal("a session despite a failing store")
		}
		unavailable("Authenticate", err)
		_, _, err = f.m.Create(ctx, alice, gatehouse.MethodPassword, "", "")
		unavailable("Create", err)
		unavailable("Revoke", f.m.Revoke(ctx, secret))
		unavailable("RevokeHandle", f.m.RevokeHandle(ctx, alice.UserID, "x"))
		unavailable("RevokeUser", f.m.RevokeUser(ctx, alice.UserID))
		_, err = f.m.List(ctx, alice.UserID)
		unavailable("List", err)
		_, err = f.m.RevokeAnyHandle(ctx, "x")
		unavailable("RevokeAnyHandle", err)
	})
}

func TestTouchFailureFailsClosed(t *testing.T) {
	eachMode(t, func(t *testing.T, cache bool) {
		f := newFixture(t, cache, session.Options{})
		secret, s := f.create(t, alice)
		f.live(t, secret, s.Handle) // cached, with the cache on
		f.clock.Advance(time.Minute)
		f.store.fail.Store(true)
		if got, err := f.m.Authenticate(context.Background(), secret); got != nil || !errors.Is(err, gatehouse.ErrUnavailable) {
			t.Fatalf("Authenticate with a failing touch = %v, %v; want ErrUnavailable", got, err)
		}
		f.store.fail.Store(false)
		f.live(t, secret, s.Handle)
		if seen := f.stored(t, secret).LastSeenAt; !seen.Equal(t0.Add(time.Minute)) {
			t.Fatalf("stored LastSeenAt = %v after recovery", seen)
		}
	})
}

func TestRevocationStoreFailureFailsClosed(t *testing.T) {
	eachMode(t, func(t *testing.T, cache bool) {
		f := newFixture(t, cache, session.Options{})
		secret, _ := f.create(t, alice)
		f.revs.fail.Store(true)
		if s, err := f.m.Authenticate(context.Background(), secret); s != nil || !errors.Is(err, gatehouse.ErrUnavailable) {
			t.Fatalf("Authenticate = %v, %v; want ErrUnavailable", s, err)
		}
	})
}

func TestDeleteExpired(t *testing.T) {
	f := newFixture(t, true, session.Options{})
	secret, _ := f.create(t, alice)
	f.clock.Advance(12 * time.Hour)
	n, err := f.m.DeleteExpired(context.Background())
	if err != nil || n != 1 {
		t.Fatalf("DeleteExpired = %d, %v; want 1", n, err)
	}
	if f.stored(t, secret) != nil || f.m.Stats().CachedSessions != 0 {
		t.Fatal("expired session kept")
	}
}
