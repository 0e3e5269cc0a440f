package redis_test

import (
	"context"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/redis/rueidis"

	"github.com/gatehouse-auth/gatehouse"
	"github.com/gatehouse-auth/gatehouse/internal/storetest"
	"github.com/gatehouse-auth/gatehouse/internal/testkit"
	"github.com/gatehouse-auth/gatehouse/redis"
)

func TestSessionStore(t *testing.T) {
	c := mustClient(t, rueidis.ClientOption{})
	storetest.TestSessionStore(t, func(t *testing.T) gatehouse.SessionStore {
		prefix := testPrefix(t, c)
		return redis.NewSessionStore(c, prefix, redis.SessionOptions{Options: cached(mustPeers(t, c, prefix, 2*time.Second))})
	})
}

// TestSessionStoreUncached runs the contract on a client without client-side caching.
func TestSessionStoreUncached(t *testing.T) {
	c := mustClient(t, rueidis.ClientOption{DisableCache: true})
	storetest.TestSessionStore(t, func(t *testing.T) gatehouse.SessionStore {
		return redis.NewSessionStore(c, testPrefix(t, c), redis.SessionOptions{Options: slow})
	})
}

func pttl(t *testing.T, c rueidis.Client, key string) time.Duration {
	t.Helper()
	ms, err := c.Do(context.Background(), c.B().Pttl().Key(key).Build()).AsInt64()
	if err != nil {
		t.Fatal(err)
	}
	return time.Duration(ms) * time.Millisecond
}

func near(got, want time.Duration) bool { return got <= want && got > want-5*time.Second }

// TestSessionTTL checks the key TTLs: the absolute expiry, or the idle expiry that each touch
// pushes on but never past the absolute one, by the store's clock.
func TestSessionTTL(t *testing.T) {
	c := mustClient(t, rueidis.ClientOption{})
	prefix := testPrefix(t, c)
	now := testkit.Start().AddDate(-25, 0, 0) // far from Redis's own clock
	clock := func() time.Time { return now }
	ctx := context.Background()
	plain := redis.NewSessionStore(c, prefix+"a:", redis.SessionOptions{Options: redis.Options{Timeout: slow.Timeout, Now: clock}})
	s := storetest.NewTestSession("u1", now)
	if err := plain.CreateSession(ctx, s); err != nil {
		t.Fatal(err)
	}
	sk := redis.SessionKey(prefix+"a:", s.Hash)
	if got := pttl(t, c, sk); !near(got, 12*time.Hour) {
		t.Fatalf("session TTL = %v, want the absolute 12h", got)
	}
	hk, want := redis.HourKey(prefix+"a:", s.ExpiresAt, now)
	if got := pttl(t, c, hk); !near(got, want) || want < 12*time.Hour {
		t.Fatalf("index TTL = %v, want %v (the end of the expiry's hour)", got, want)
	}

	idle := redis.NewSessionStore(c, prefix+"b:", redis.SessionOptions{Options: redis.Options{Timeout: slow.Timeout, Now: clock}, IdleTimeout: 30 * time.Minute})
	s = storetest.NewTestSession("u1", now)
	if err := idle.CreateSession(ctx, s); err != nil {
		t.Fatal(err)
	}
	sk = redis.SessionKey(prefix+"b:", s.Hash)
	if got := pttl(t, c, sk); !near(got, 30*time.Minute) {
		t.Fatalf("session TTL = %v, want the idle 30m", got)
	}
	hk, want = redis.HourKey(prefix+"b:", s.ExpiresAt, now)
	if got := pttl(t, c, hk); !near(got, want) || want < 12*time.Hour {
		t.Fatalf("index TTL = %v, want %v (the end of the absolute expiry's hour)", got, want)
	}
	now = now.Add(20 * time.Minute)
	if found, err := idle.TouchSession(ctx, s.Hash, now); err != nil || !found {
		t.Fatalf("touch = %v, %v", found, err)
	}
	if got := pttl(t, c, sk); !near(got, 30*time.Minute) {
		t.Fatalf("TTL after touch = %v, want 30m again", got)
	}
	now = s.ExpiresAt.Add(-10 * time.Minute)
	if found, err := idle.TouchSession(ctx, s.Hash, now); err != nil || !found {
		t.Fatalf("touch = %v, %v", found, err)
	}
	if got := pttl(t, c, sk); !near(got, 10*time.Minute) {
		t.Fatalf("TTL after a touch near the end = %v, want the 10m left of the absolute expiry", got)
	}
	got, found, err := idle.FindSession(ctx, s.Hash)
	if err != nil || !found || !got.LastSeenAt.Equal(now) {
		t.Fatalf("after touch: %+v, %v, %v", got, found, err)
	}
}

// TestSessionTouchRacesDelete touches sessions while they are deleted: none comes back.
func TestSessionTouchRacesDelete(t *testing.T) {
	c := mustClient(t, rueidis.ClientOption{})
	st := redis.NewSessionStore(c, testPrefix(t, c), redis.SessionOptions{Options: slow, IdleTimeout: time.Hour})
	ctx := context.Background()
	var sessions []*gatehouse.Session
	for i := range 200 {
		s := storetest.NewTestSession("u"+strconv.Itoa(i%5), time.Now())
		if err := st.CreateSession(ctx, s); err != nil {
			t.Fatal(err)
		}
		sessions = append(sessions, s)
	}
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 3; i++ {
				for _, s := range sessions {
					if w%2 == 0 {
						_, _ = st.TouchSession(ctx, s.Hash, time.Now())
					}
				}
			}
		}()
	}
	for _, s := range sessions {
		if _, err := st.DeleteSession(ctx, s.Hash); err != nil {
			t.Fatal(err)
		}
	}
	wg.Wait()
	for _, s := range sessions {
		if _, found, err := st.FindSession(ctx, s.Hash); err != nil || found {
			t.Fatalf("a deleted session came back: %v, %v", found, err)
		}
	}
	for i := range 5 {
		if list, err := st.ListSessions(ctx, "u"+strconv.Itoa(i)); err != nil || len(list) != 0 {
			t.Fatalf("ListSessions = %d, %v", len(list), err)
		}
	}
}

// TestSessionInvalidation deletes, through one client, a session that another client has in
// its client-side cache: the other client stops finding it.
func TestSessionInvalidation(t *testing.T) {
	a := mustClient(t, rueidis.ClientOption{})
	b := mustClient(t, rueidis.ClientOption{})
	prefix := testPrefix(t, a)
	stA := redis.NewSessionStore(a, prefix, redis.SessionOptions{Options: redis.Options{Timeout: slow.Timeout, CacheTTL: time.Hour}})
	stB := redis.NewSessionStore(b, prefix, redis.SessionOptions{Options: slow})
	ctx := context.Background()
	s := storetest.NewTestSession("u1", time.Now())
	if err := stB.CreateSession(ctx, s); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if _, found, err := stA.FindSession(ctx, s.Hash); err != nil || !found {
			t.Fatalf("FindSession on A = %v, %v", found, err)
		}
	}
	seen := time.Now().Add(time.Minute)
	if found, err := stB.TouchSession(ctx, s.Hash, seen); err != nil || !found {
		t.Fatal(found, err)
	}
	testkit.Eventually(t, 2*time.Second, "A sees the touch", func() bool {
		got, _, err := stA.FindSession(ctx, s.Hash)
		return err == nil && got.LastSeenAt.Equal(seen.UTC())
	})
	if found, err := stB.DeleteSession(ctx, s.Hash); err != nil || !found {
		t.Fatal(found, err)
	}
	testkit.Eventually(t, 2*time.Second, "A sees the delete", func() bool {
		_, found, err := stA.FindSession(ctx, s.Hash)
		return err == nil && !found
	})
}

// TestSessionManyPerUser lists and deletes more sessions of one user than one pipeline carries.
func TestSessionManyPerUser(t *testing.T) {
	c := mustClient(t, rueidis.ClientOption{})
	st := redis.NewSessionStore(c, testPrefix(t, c), redis.SessionOptions{Options: slow})
	ctx := context.Background()
	const n = 700
	for i := range n {
		if err := st.CreateSession(ctx, storetest.NewTestSession("many", time.Now().Add(time.Duration(i)))); err != nil {
			t.Fatal(err)
		}
	}
	if list, err := st.ListSessions(ctx, "many"); err != nil || len(list) != n {
		t.Fatalf("ListSessions = %d, %v; want %d", len(list), err, n)
	}
	if got, err := st.DeleteUserSessions(ctx, "many"); err != nil || len(got) != n {
		t.Fatalf("DeleteUserSessions = %d, %v; want %d", len(got), err, n)
	}
	if list, err := st.ListSessions(ctx, "many"); err != nil || len(list) != 0 {
		t.Fatalf("ListSessions after = %d, %v", len(list), err)
	}
}
