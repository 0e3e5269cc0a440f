package redis_test

import (
	"context"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/redis/rueidis"

	"github.com/gatehouse-auth/gatehouse"
	"github.com/gatehouse-auth/gatehouse/internal/storetest"
	"github.com/gatehouse-auth/gatehouse/internal/testkit"
	"github.com/gatehouse-auth/gatehouse/redis"
)

// managerSession returns a session of userID whose handle is derived from its hash, as the
// session manager makes them.
func managerSession(userID string, now time.Time) *gatehouse.Session {
	s := storetest.NewTestSession(userID, now)
	s.Handle = gatehouse.SessionHandle(s.Hash)
	return s
}

func exists(t *testing.T, c rueidis.Client, key string) bool {
	t.Helper()
	n, err := c.Do(context.Background(), c.B().Exists().Key(key).Build()).AsInt64()
	if err != nil {
		t.Fatal(err)
	}
	return n == 1
}

func mustCount(t *testing.T, st *redis.SessionStore, want int) {
	t.Helper()
	if got, err := st.CountSessions(context.Background()); err != nil || got != want {
		t.Fatalf("CountSessions = %d, %v; want %d", got, err, want)
	}
}

// TestSessionDerivedHandles runs the handle operations on sessions whose handle is derived
// from the hash: they are found without any key of their own, and counted.
func TestSessionDerivedHandles(t *testing.T) {
	c := mustClient(t, rueidis.ClientOption{})
	prefix := testPrefix(t, c)
	st := redis.NewSessionStore(c, prefix, redis.SessionOptions{Options: slow})
	ctx := context.Background()
	now := time.Now()
	a, b, other := managerSession("owner", now), managerSession("owner", now.Add(1)), managerSession("else", now)
	for _, s := range []*gatehouse.Session{a, b, other} {
		if err := st.CreateSession(ctx, s); err != nil {
			t.Fatal(err)
		}
		if exists(t, c, prefix+"x:"+s.Handle) {
			t.Fatal("a derived handle has a key of its own")
		}
	}
	mustCount(t, st, 3)
	got, found, err := st.SessionByHandle(ctx, a.Handle)
	if err != nil || !found {
		t.Fatalf("SessionByHandle = %v, %v", found, err)
	}
	if err := storetest.SameSession(got, a); err != nil {
		t.Fatal(err)
	}
	if _, found, err := st.DeleteSessionByHandle(ctx, "else", a.Handle); err != nil || found {
		t.Fatalf("delete by another user = %v, %v", found, err)
	}
	if h, found, err := st.DeleteSessionByHandle(ctx, "owner", a.Handle); err != nil || !found || h != a.Hash {
		t.Fatalf("delete by owner = %v, %v", found, err)
	}
	mustCount(t, st, 2)
	if list, err := st.ListSessions(ctx, "owner"); err != nil || len(list) != 1 || list[0].Handle != b.Handle {
		t.Fatalf("ListSessions = %d, %v; want b alone", len(list), err)
	}
	if hashes, err := st.DeleteUserSessions(ctx, "owner"); err != nil || len(hashes) != 1 || hashes[0] != b.Hash {
		t.Fatalf("DeleteUserSessions = %d, %v", len(hashes), err)
	}
	mustCount(t, st, 1)
	if found, err := st.DeleteSession(ctx, other.Hash); err != nil || !found {
		t.Fatalf("DeleteSession = %v, %v", found, err)
	}
	mustCount(t, st, 0)
}

// TestSessionCount checks the count through creates, a conflict and every kind of delete.
func TestSessionCount(t *testing.T) {
	c := mustClient(t, rueidis.ClientOption{})
	prefix := testPrefix(t, c)
	st := redis.NewSessionStore(c, prefix, redis.SessionOptions{Options: slow})
	ctx := context.Background()
	now := time.Now()
	var all []*gatehouse.Session
	for i := range 6 {
		s := storetest.NewTestSession("u"+strconv.Itoa(i%2), now)
		if err := st.CreateSession(ctx, s); err != nil {
			t.Fatal(err)
		}
		all = append(all, s)
	}
	dup := storetest.NewTestSession("u9", now)
	dup.Hash = all[0].Hash
	if err := st.CreateSession(ctx, dup); err == nil {
		t.Fatal("duplicate hash stored")
	}
	mustCount(t, st, 6)
	if _, err := st.DeleteSession(ctx, all[0].Hash); err != nil {
		t.Fatal(err)
	}
	if _, _, err := st.DeleteSessionByHandle(ctx, "u1", all[1].Handle); err != nil {
		t.Fatal(err)
	}
	mustCount(t, st, 4)
	if _, err := st.DeleteUserSessions(ctx, "u0"); err != nil {
		t.Fatal(err)
	}
	mustCount(t, st, 2)
	if _, err := st.DeleteSession(ctx, all[0].Hash); err != nil { // gone already: no change
		t.Fatal(err)
	}
	mustCount(t, st, 2)
}

// TestSessionManyUsers fills several levels of the index with the sessions of many users, in
// one hour: every user still finds exactly their own.
func TestSessionManyUsers(t *testing.T) {
	c := mustClient(t, rueidis.ClientOption{})
	st := redis.NewSessionStore(c, testPrefix(t, c), redis.SessionOptions{Options: slow})
	ctx := context.Background()
	const users, per = 60, 7
	now := time.Now()
	for i := range users * per {
		if err := st.CreateSession(ctx, managerSession("user-"+strconv.Itoa(i%users), now)); err != nil {
			t.Fatal(err)
		}
	}
	mustCount(t, st, users*per)
	for u := range users {
		id := "user-" + strconv.Itoa(u)
		list, err := st.ListSessions(ctx, id)
		if err != nil || len(list) != per {
			t.Fatalf("ListSessions(%s) = %d, %v; want %d", id, len(list), err, per)
		}
		for _, s := range list {
			if s.User.UserID != id {
				t.Fatalf("ListSessions(%s) returned a session of %s", id, s.User.UserID)
			}
		}
	}
}

// TestSessionLifetimeCap stores a session whose expiry is beyond MaxLifetime: it is kept for
// MaxLifetime only, and listed, touched and deleted like any other.
func TestSessionLifetimeCap(t *testing.T) {
	c := mustClient(t, rueidis.ClientOption{})
	prefix := testPrefix(t, c)
	now := testkit.Start().AddDate(-25, 0, 0) // far from Redis's own clock
	opts := redis.SessionOptions{Options: redis.Options{Timeout: slow.Timeout, Now: func() time.Time { return now }},
		MaxLifetime: time.Hour, IdleTimeout: 2 * time.Hour}
	st := redis.NewSessionStore(c, prefix, opts)
	ctx := context.Background()
	s := storetest.NewTestSession("u1", now) // expires in 12 hours
	if err := st.CreateSession(ctx, s); err != nil {
		t.Fatal(err)
	}
	if got := pttl(t, c, redis.SessionKey(prefix, s.Hash)); !near(got, time.Hour) {
		t.Fatalf("TTL = %v, want MaxLifetime", got)
	}
	now = now.Add(30 * time.Minute)
	if found, err := st.TouchSession(ctx, s.Hash, now); err != nil || !found {
		t.Fatal(found, err)
	}
	if got := pttl(t, c, redis.SessionKey(prefix, s.Hash)); !near(got, 30*time.Minute) {
		t.Fatalf("TTL after touch = %v, want the 30m left of MaxLifetime", got)
	}
	if list, err := st.ListSessions(ctx, "u1"); err != nil || len(list) != 1 || !list[0].ExpiresAt.Equal(s.ExpiresAt) {
		t.Fatalf("ListSessions = %d, %v", len(list), err)
	}
	if hashes, err := st.DeleteUserSessions(ctx, "u1"); err != nil || len(hashes) != 1 {
		t.Fatalf("DeleteUserSessions = %d, %v", len(hashes), err)
	}
}

// TestSessionOldFormat puts a value of another format version where a session would be: it
// is not found, not touched and not listed, and causes no error.
func TestSessionOldFormat(t *testing.T) {
	c := mustClient(t, rueidis.ClientOption{})
	prefix := testPrefix(t, c)
	st := redis.NewSessionStore(c, prefix, redis.SessionOptions{Options: slow})
	ctx := context.Background()
	s := managerSession("u1", time.Now())
	if err := st.CreateSession(ctx, s); err != nil {
		t.Fatal(err)
	}
	key := redis.SessionKey(prefix, s.Hash)
	old := "\x01" + string(make([]byte, 60))
	if err := c.Do(ctx, c.B().Set().Key(key).Value(old).Build()).Error(); err != nil {
		t.Fatal(err)
	}
	if got, found, err := st.FindSession(ctx, s.Hash); err != nil || found {
		t.Fatalf("FindSession = %v, %v, %v; want not found", got, found, err)
	}
	if found, err := st.TouchSession(ctx, s.Hash, time.Now()); err != nil || found {
		t.Fatalf("TouchSession = %v, %v; want not found", found, err)
	}
	if v, _ := c.Do(ctx, c.B().Get().Key(key).Build()).ToString(); v != old {
		t.Fatal("TouchSession wrote into a value of another format")
	}
	if _, found, err := st.SessionByHandle(ctx, s.Handle); err != nil || found {
		t.Fatalf("SessionByHandle = %v, %v", found, err)
	}
	if list, err := st.ListSessions(ctx, "u1"); err != nil || len(list) != 0 {
		t.Fatalf("ListSessions = %d, %v", len(list), err)
	}
}

// TestFindSessionAllocs checks that a session found in the client-side cache costs one
// allocation, the copy that the caller owns, and one more for the copy of its groups when it
// has any.
func TestFindSessionAllocs(t *testing.T) {
	for _, groups := range [][]string{nil, {"dev", "ops"}} {
		t.Run(fmt.Sprintf("%d groups", len(groups)), func(t *testing.T) { testFindSessionAllocs(t, groups) })
	}
}

func testFindSessionAllocs(t *testing.T, groups []string) {
	c := mustClient(t, rueidis.ClientOption{})
	prefix := testPrefix(t, c)
	st := redis.NewSessionStore(c, prefix, redis.SessionOptions{Options: cached(mustPeers(t, c, prefix, time.Hour))})
	ctx := context.Background()
	s := managerSession("u1", time.Now())
	s.User.Groups = groups
	if err := st.CreateSession(ctx, s); err != nil {
		t.Fatal(err)
	}
	find := func() {
		if _, found, err := st.FindSession(ctx, s.Hash); err != nil || !found {
			t.Fatal(found, err)
		}
	}
	testkit.Eventually(t, 2*time.Second, "the session is cached", func() bool {
		find()
		r := c.DoCache(ctx, c.B().Get().Key(redis.SessionKey(prefix, s.Hash)).Cache(), time.Minute)
		return r.IsCacheHit()
	})
	// A garbage collection during the run may empty the context pool once: allow for it.
	want := 1.0
	if len(groups) > 0 {
		want = 2
	}
	if n := testing.AllocsPerRun(200, find); n > want+0.05 {
		t.Fatalf("FindSession from the cache allocates %v times, want %v", n, want)
	}
}

// TestSessionHashRest presents a hash that shares the key's 16 bytes with a session but not
// the other 16: it finds, touches and deletes nothing.
func TestSessionHashRest(t *testing.T) {
	c := mustClient(t, rueidis.ClientOption{})
	st := redis.NewSessionStore(c, testPrefix(t, c), redis.SessionOptions{Options: slow, IdleTimeout: time.Hour})
	ctx := context.Background()
	s := managerSession("u1", time.Now())
	if err := st.CreateSession(ctx, s); err != nil {
		t.Fatal(err)
	}
	forged := s.Hash
	forged[31] ^= 1
	if _, found, err := st.FindSession(ctx, forged); err != nil || found {
		t.Fatalf("FindSession(forged) = %v, %v", found, err)
	}
	if found, err := st.TouchSession(ctx, forged, time.Now().Add(time.Minute)); err != nil || found {
		t.Fatalf("TouchSession(forged) = %v, %v", found, err)
	}
	if found, err := st.DeleteSession(ctx, forged); err != nil || found {
		t.Fatalf("DeleteSession(forged) = %v, %v", found, err)
	}
	got, found, err := st.FindSession(ctx, s.Hash)
	if err != nil || !found {
		t.Fatalf("the session is gone: %v, %v", found, err)
	}
	if err := storetest.SameSession(got, s); err != nil {
		t.Fatal(err)
	}
}

// TestFindSessionConcurrent finds one session from several goroutines while it is touched
// (each touch invalidates the cached copy and the remembered decoding): every answer is the
// session, with one of the times written. Run it with -race.
func TestFindSessionConcurrent(t *testing.T) {
	c := mustClient(t, rueidis.ClientOption{})
	st := redis.NewSessionStore(c, testPrefix(t, c), redis.SessionOptions{Options: slow})
	ctx := context.Background()
	s := managerSession("u1", time.Now())
	if err := st.CreateSession(ctx, s); err != nil {
		t.Fatal(err)
	}
	const touches = 50
	seen := make(map[time.Time]bool, touches+1)
	seen[s.LastSeenAt.UTC()] = true
	for i := range touches {
		seen[s.LastSeenAt.Add(time.Duration(i+1)*time.Second).UTC()] = true
	}
	errs := make(chan error, 4)
	stop := make(chan struct{})
	for range 4 {
		go func() {
			for {
				select {
				case <-stop:
					errs <- nil
					return
				default:
				}
				got, found, err := st.FindSession(ctx, s.Hash)
				if err != nil || !found || got.Handle != s.Handle || !seen[got.LastSeenAt] {
					errs <- fmt.Errorf("FindSession = %+v, %v, %v", got, found, err)
					return
				}
			}
		}()
	}
	for i := range touches {
		if _, err := st.TouchSession(ctx, s.Hash, s.LastSeenAt.Add(time.Duration(i+1)*time.Second)); err != nil {
			t.Fatal(err)
		}
	}
	close(stop)
	for range 4 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
}
