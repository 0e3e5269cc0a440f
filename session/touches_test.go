package session_test

import (
	"context"
	"errors"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse"
	"github.com/gatehouse-auth/gatehouse/internal/storetest"
	"github.com/gatehouse-auth/gatehouse/internal/testkit"
	"github.com/gatehouse-auth/gatehouse/memory"
	"github.com/gatehouse-auth/gatehouse/session"
	"github.com/gatehouse-auth/gatehouse/sqlite"
)

// never is a TouchDelay whose background writes do not happen within a test: the tests write
// what is pending themselves, with Flush or Close.
const never = time.Hour

// TestTouchDelayTakesTheWriteOffTheRequest: with a touch delay, a request that renews a
// cached session's last-seen time does not write it; the cache answers with the new time at
// once, and Close writes it to the store. After Close, touches are written on the request.
func TestTouchDelayTakesTheWriteOffTheRequest(t *testing.T) {
	f := newFixture(t, true, session.Options{TouchDelay: never})
	secret, s := f.create(t, alice)
	f.clock.Advance(2 * time.Minute)
	got := f.live(t, secret, s.Handle)
	if !got.LastSeenAt.Equal(f.clock.Now()) {
		t.Fatalf("LastSeenAt = %v, want %v", got.LastSeenAt, f.clock.Now())
	}
	if n := f.store.touches.Load(); n != 0 {
		t.Fatalf("%d touches written during the request, want 0", n)
	}
	if seen := f.stored(t, secret).LastSeenAt; !seen.Equal(s.LastSeenAt) {
		t.Fatalf("store's LastSeenAt = %v before the write, want the old %v", seen, s.LastSeenAt)
	}
	if n := f.m.Stats().PendingTouches; n != 1 {
		t.Fatalf("PendingTouches = %d, want 1", n)
	}
	// The next request within the minute sees the renewed time and writes nothing either.
	f.clock.Advance(30 * time.Second)
	f.live(t, secret, s.Handle)
	if err := f.m.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if seen := f.stored(t, secret).LastSeenAt; !seen.Equal(got.LastSeenAt) {
		t.Fatalf("store's LastSeenAt = %v after Close, want %v", seen, got.LastSeenAt)
	}
	if st := f.m.Stats(); st.PendingTouches != 0 || f.store.touches.Load() != 1 {
		t.Fatalf("after Close: %d pending, %d written; want 0 and 1", st.PendingTouches, f.store.touches.Load())
	}
	f.clock.Advance(2 * time.Minute)
	f.live(t, secret, s.Handle)
	if n := f.store.touches.Load(); n != 2 {
		t.Fatalf("%d touches written after Close, want 2 (the request writes again)", n)
	}
}

// TestTouchDelayIdleTimeout: an active session whose last-seen times wait to be written does
// not idle out, and an idle one still does.
func TestTouchDelayIdleTimeout(t *testing.T) {
	f := newFixture(t, true, session.Options{TouchDelay: never, IdleTimeout: 10 * time.Minute})
	active, a := f.create(t, alice)
	idle, _ := f.create(t, bob)
	for range 4 {
		f.clock.Advance(4 * time.Minute)
		f.live(t, active, a.Handle)
	}
	f.dead(t, idle)
	f.live(t, active, a.Handle)
}

// sameShard returns n sessions whose hashes share the first byte, so that a cache of one
// session per shard holds only one of them.
func sameShard(n int, now time.Time) []*gatehouse.Session {
	var out []*gatehouse.Session
	for len(out) < n {
		if s := storetest.NewTestSession(alice.UserID, now); s.Hash[0] == 0x42 {
			out = append(out, s)
		}
	}
	return out
}

// TestTouchDelayEvictedSessionKeepsItsTime: a session evicted from the cache while its
// last-seen time waits is read back from the store with the waiting time, not the store's
// older one (which could make it look idle).
func TestTouchDelayEvictedSessionKeepsItsTime(t *testing.T) {
	ctx := context.Background()
	now := testkit.Start()
	inner := memory.NewSessionStore()
	c := session.Cached(inner, session.CacheOptions{Size: 64, TouchDelay: never, Now: func() time.Time { return now }})
	defer c.Close(ctx)
	ss := sameShard(2, now)
	if err := c.CreateSession(ctx, ss[0]); err != nil {
		t.Fatal(err)
	}
	seen := now.Add(2 * time.Minute)
	if found, err := c.TouchSession(ctx, ss[0].Hash, seen); !found || err != nil {
		t.Fatalf("TouchSession = %v, %v", found, err)
	}
	if err := c.CreateSession(ctx, ss[1]); err != nil { // evicts ss[0]: one session per shard
		t.Fatal(err)
	}
	if st := c.Stats(); st.CacheEvictions != 1 {
		t.Fatalf("evictions = %d, want 1", st.CacheEvictions)
	}
	got, found, err := c.FindSession(ctx, ss[0].Hash)
	if err != nil || !found || !got.LastSeenAt.Equal(seen) {
		t.Fatalf("FindSession after eviction = %v, %v, %v; want LastSeenAt %v", got, found, err, seen)
	}
}

// TestTouchDelayDeletedSessionStaysDeleted: a waiting last-seen time of a session deleted
// meanwhile never brings it back.
func TestTouchDelayDeletedSessionStaysDeleted(t *testing.T) {
	ctx := context.Background()
	now := testkit.Start()
	spy := newSpy()
	c := session.Cached(spy, session.CacheOptions{TouchDelay: never, Now: func() time.Time { return now }})
	s := sameShard(1, now)[0]
	if err := c.CreateSession(ctx, s); err != nil {
		t.Fatal(err)
	}
	if found, err := c.TouchSession(ctx, s.Hash, now.Add(time.Minute)); !found || err != nil {
		t.Fatalf("TouchSession = %v, %v", found, err)
	}
	// Deleted behind the cache's back as well as through it: the write must find no row.
	if _, err := spy.SessionStore.DeleteSession(ctx, s.Hash); err != nil {
		t.Fatal(err)
	}
	if err := c.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if _, found, _ := spy.SessionStore.FindSession(ctx, s.Hash); found {
		t.Fatal("the waiting touch brought a deleted session back")
	}
	if found, err := c.DeleteSession(ctx, s.Hash); found || err != nil {
		t.Fatalf("DeleteSession = %v, %v; want false, nil", found, err)
	}
	if found, err := c.TouchSession(ctx, s.Hash, now.Add(2*time.Minute)); found || err != nil {
		t.Fatalf("TouchSession after delete = %v, %v; want false, nil", found, err)
	}
	if st := c.Stats(); st.PendingTouches != 0 {
		t.Fatalf("PendingTouches = %d after delete, want 0", st.PendingTouches)
	}
}

// TestTouchDelayFailedWriteIsKept: a background write that fails keeps the times, counts the
// failure, tells the error hook, and the next write succeeds.
func TestTouchDelayFailedWriteIsKept(t *testing.T) {
	ctx := context.Background()
	now := testkit.Start()
	spy := newSpy()
	var mu sync.Mutex
	var told []error
	c := session.Cached(spy, session.CacheOptions{TouchDelay: 10 * time.Millisecond, Now: func() time.Time { return now },
		OnTouchWriteError: func(err error) { mu.Lock(); told = append(told, err); mu.Unlock() }})
	defer c.Close(ctx)
	s := sameShard(1, now)[0]
	if err := c.CreateSession(ctx, s); err != nil {
		t.Fatal(err)
	}
	spy.fail.Store(true)
	seen := now.Add(time.Minute)
	if found, err := c.TouchSession(ctx, s.Hash, seen); !found || err != nil {
		t.Fatalf("TouchSession = %v, %v", found, err)
	}
	testkit.Eventually(t, 10*time.Second, "a failed background write", func() bool { return c.Stats().TouchWriteFailures > 0 })
	mu.Lock()
	if len(told) == 0 || !errors.Is(told[0], errBroken) {
		t.Fatalf("error hook told %v, want %v", told, errBroken)
	}
	mu.Unlock()
	if n := c.Stats().PendingTouches; n != 1 {
		t.Fatalf("PendingTouches = %d after a failed write, want 1", n)
	}
	spy.fail.Store(false)
	testkit.Eventually(t, 10*time.Second, "the write tried again", func() bool { return c.Stats().PendingTouches == 0 })
	if got, _, _ := spy.SessionStore.FindSession(ctx, s.Hash); got == nil || !got.LastSeenAt.Equal(seen) {
		t.Fatalf("store has %v, want LastSeenAt %v", got, seen)
	}
}

// TestTouchDelayBounded: beyond MaxPendingTouches, a touch is written on the request.
func TestTouchDelayBounded(t *testing.T) {
	ctx := context.Background()
	now := testkit.Start()
	spy := newSpy()
	c := session.Cached(spy, session.CacheOptions{TouchDelay: never, MaxPendingTouches: 1, Now: func() time.Time { return now }})
	defer c.Close(ctx)
	ss := sameShard(2, now)
	for _, s := range ss {
		if err := c.CreateSession(ctx, s); err != nil {
			t.Fatal(err)
		}
	}
	for _, s := range ss {
		if found, err := c.TouchSession(ctx, s.Hash, now.Add(time.Minute)); !found || err != nil {
			t.Fatalf("TouchSession = %v, %v", found, err)
		}
	}
	if st := c.Stats(); st.PendingTouches != 1 || spy.touches.Load() != 1 {
		t.Fatalf("%d pending and %d written, want 1 and 1", st.PendingTouches, spy.touches.Load())
	}
}

// TestTouchDelayConcurrent runs touches, look-ups, deletes and writes of a SQLite-backed cache
// at once (for -race), then checks that every surviving session has its last time stored and
// no deleted one came back.
func TestTouchDelayConcurrent(t *testing.T) {
	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "s.db"), 0)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	inner := sqlite.NewSessionStore(db)
	now := testkit.Start()
	c := session.Cached(inner, session.CacheOptions{TouchDelay: 5 * time.Millisecond, Now: func() time.Time { return now }})
	const n = 64
	var ss []*gatehouse.Session
	for i := range n {
		s := storetest.NewTestSession(alice.UserID, now)
		if err := c.CreateSession(ctx, s); err != nil {
			t.Fatalf("session %d: %v", i, err)
		}
		ss = append(ss, s)
	}
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for round := 1; round <= 20; round++ {
				for i := w; i < n; i += 4 {
					if i%8 == 7 && round == 10 {
						c.DeleteSession(ctx, ss[i].Hash)
					}
					c.TouchSession(ctx, ss[i].Hash, now.Add(time.Duration(round)*time.Minute))
					c.FindSharedSession(ctx, ss[i].Hash)
				}
			}
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for range 20 {
			c.Flush(ctx)
		}
	}()
	wg.Wait()
	if err := c.Close(ctx); err != nil {
		t.Fatal(err)
	}
	for i, s := range ss {
		got, found, err := inner.FindSession(ctx, s.Hash)
		if err != nil {
			t.Fatal(err)
		}
		if i%8 == 7 {
			if found {
				t.Fatalf("session %d was deleted and is back", i)
			}
			continue
		}
		if want := now.Add(20 * time.Minute); !found || !got.LastSeenAt.Equal(want) {
			t.Fatalf("session %d: stored %v, %v; want LastSeenAt %v", i, got, found, want)
		}
	}
}

// TestCachedStoreContractWithTouchDelay runs the store contract on a cache that writes
// last-seen times in the background.
func TestCachedStoreContractWithTouchDelay(t *testing.T) {
	storetest.TestSessionStore(t, func(t *testing.T) gatehouse.SessionStore {
		db, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "s.db"), 0)
		if err != nil {
			t.Fatal(err)
		}
		c := session.Cached(sqlite.NewSessionStore(db), session.CacheOptions{TouchDelay: 5 * time.Millisecond})
		t.Cleanup(func() { c.Close(context.Background()); db.Close() })
		return c
	})
}
