package session_test

import (
	"context"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse"
	"github.com/gatehouse-auth/gatehouse/internal/storetest"
	"github.com/gatehouse-auth/gatehouse/memory"
	"github.com/gatehouse-auth/gatehouse/session"
	"github.com/gatehouse-auth/gatehouse/sqlite"
)

// TestCacheMissRacingRevoke interleaves a cache miss with a revocation: the miss reads the
// session from the store, the revocation deletes it and uncaches it, and only then may the miss
// try to cache what it read. It must not: the session would come back to life.
func TestCacheMissRacingRevoke(t *testing.T) {
	revokers := map[string]func(f *fixture, secret string, s *gatehouse.Session) error{
		"Revoke": func(f *fixture, secret string, _ *gatehouse.Session) error {
			return f.m.Revoke(context.Background(), secret)
		},
		"RevokeHandle": func(f *fixture, _ string, s *gatehouse.Session) error {
			return f.m.RevokeHandle(context.Background(), s.User.UserID, s.Handle)
		},
		"RevokeAnyHandle": func(f *fixture, _ string, s *gatehouse.Session) error {
			_, err := f.m.RevokeAnyHandle(context.Background(), s.Handle)
			return err
		},
		"RevokeUser": func(f *fixture, _ string, s *gatehouse.Session) error {
			return f.m.RevokeUser(context.Background(), s.User.UserID)
		},
	}
	for name, revoke := range revokers {
		t.Run(name, func(t *testing.T) {
			f := newFixture(t, true, session.Options{})
			secret, s := f.plant(t, alice)
			read, release := make(chan struct{}), make(chan struct{})
			var once sync.Once
			f.store.afterFind = func() { once.Do(func() { close(read); <-release }) }
			done := make(chan struct{})
			go func() {
				defer close(done)
				// Either answer is right for a request concurrent with the revocation.
				f.m.Authenticate(context.Background(), secret)
			}()
			<-read
			if err := revoke(f, secret, s); err != nil {
				t.Fatalf("revoke: %v", err)
			}
			close(release)
			<-done
			f.dead(t, secret)
			if n := f.m.Stats().CachedSessions; n != 0 {
				t.Fatalf("%d sessions cached after the revocation", n)
			}
		})
	}
}

// TestCacheCreateRacingRevokeUser interleaves a login with "log out everywhere": the session is
// stored, deleted with all the user's sessions, and only then cached by Create. It must not be.
func TestCacheCreateRacingRevokeUser(t *testing.T) {
	f := newFixture(t, true, session.Options{})
	stored, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	f.store.afterCreate = func() { once.Do(func() { close(stored); <-release }) }
	secrets := make(chan string, 1)
	go func() {
		secret, _, err := f.m.Create(context.Background(), alice, gatehouse.MethodPassword, "", "")
		if err != nil {
			t.Error(err)
		}
		secrets <- secret
	}()
	<-stored
	if err := f.m.RevokeUser(context.Background(), alice.UserID); err != nil {
		t.Fatal(err)
	}
	close(release)
	f.dead(t, <-secrets)
}

func TestCacheBounded(t *testing.T) {
	f := newFixture(t, true, session.Options{CacheSize: 64})
	type login struct{ secret, handle string }
	var logins []login
	for range 300 {
		secret, s := f.create(t, alice)
		logins = append(logins, login{secret, s.Handle})
	}
	st := f.m.Stats()
	if st.CachedSessions > 64 || st.CacheEvictions == 0 {
		t.Fatalf("stats %+v; want at most 64 cached and some evictions", st)
	}
	for _, l := range logins {
		f.live(t, l.secret, l.handle)
	}
	last := logins[len(logins)-1]
	f.live(t, last.secret, last.handle) // cached by the loop
	if st := f.m.Stats(); st.CacheHits == 0 || st.CacheMisses == 0 || st.CachedSessions > 64 {
		t.Fatalf("stats %+v", st)
	}
}

func TestCacheHitReadsNoStore(t *testing.T) {
	f := newFixture(t, true, session.Options{})
	secret, s := f.create(t, alice)
	for range 10 {
		f.clock.Advance(time.Second)
		f.live(t, secret, s.Handle)
	}
	if n := f.store.finds.Load(); n != 0 {
		t.Fatalf("%d store reads for a cached session", n)
	}
}

// TestAuthenticateHitAllocs pins the allocations of the cached hot path. The one allocation
// left is gatehouse.ValidSecret's base64 decode.
func TestAuthenticateHitAllocs(t *testing.T) {
	f := newFixture(t, true, session.Options{})
	secret, s := f.create(t, alice)
	f.live(t, secret, s.Handle)
	allocs := testing.AllocsPerRun(100, func() { f.m.Authenticate(context.Background(), secret) })
	if allocs > 1 {
		t.Fatalf("%v allocations per cached Authenticate, want at most 1", allocs)
	}
}

// TestCacheConcurrent races logins, authentications, touches and revocations on a small cache
// (run with -race). Whatever else happens, a session whose Revoke has returned never
// authenticates again.
func TestCacheConcurrent(t *testing.T) {
	f := newFixture(t, true, session.Options{CacheSize: 128})
	stop := make(chan struct{})
	var ticker sync.WaitGroup
	ticker.Go(func() {
		for {
			select {
			case <-stop:
				return
			default:
				f.clock.Advance(7 * time.Second)
				time.Sleep(50 * time.Microsecond)
			}
		}
	})
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			ctx := context.Background()
			for range 200 {
				secret, s, err := f.m.Create(ctx, bob, gatehouse.MethodPassword, "", "")
				if err != nil {
					t.Error(err)
					return
				}
				for range 3 {
					if got, err := f.m.Authenticate(ctx, secret); err != nil || got.Handle != s.Handle {
						t.Errorf("Authenticate = %v, %v", got, err)
						return
					}
				}
				f.m.Revoke(ctx, secret)
				if got, err := f.m.Authenticate(ctx, secret); err == nil {
					t.Errorf("revoked session %s authenticated", got.Handle)
					return
				}
			}
		})
	}
	wg.Wait()
	close(stop)
	ticker.Wait()
	if n := f.m.Stats().CachedSessions; n != 0 {
		t.Fatalf("%d sessions cached after all were revoked", n)
	}
}

// TestCachedStoreContract runs the store contract suite against a CachedStore in front of the
// memory store, and in front of SQLite.
func TestCachedStoreContract(t *testing.T) {
	t.Run("memory", func(t *testing.T) {
		storetest.TestSessionStore(t, func(t *testing.T) gatehouse.SessionStore {
			return session.Cached(memory.NewSessionStore(), session.CacheOptions{})
		})
	})
	t.Run("sqlite", func(t *testing.T) {
		storetest.TestSessionStore(t, func(t *testing.T) gatehouse.SessionStore {
			db, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "s.db"), 0)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { db.Close() })
			return session.Cached(sqlite.NewSessionStore(db), session.CacheOptions{})
		})
	})
}
