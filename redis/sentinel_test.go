package redis_test

import (
	"context"
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/redis/rueidis"

	"github.com/gatehouse-auth/gatehouse"
	"github.com/gatehouse-auth/gatehouse/internal/redistest"
	"github.com/gatehouse-auth/gatehouse/internal/storetest"
	"github.com/gatehouse-auth/gatehouse/internal/testkit"
	"github.com/gatehouse-auth/gatehouse/memory"
	"github.com/gatehouse-auth/gatehouse/redis"
)

// urlClient connects to a Redis set-up of the test's own through its --redis-url, parsed as
// gatehouse serve parses it, with or without client-side caching.
func urlClient(t *testing.T, url string, cache bool) rueidis.Client {
	t.Helper()
	opt, err := rueidis.ParseURL(url)
	if err != nil {
		t.Fatal(err)
	}
	opt.DisableCache = !cache
	return mustClient(t, opt)
}

// privatePrefix returns a fresh key prefix on a Redis of the test's own, which dies with the
// test: there is nothing to clean up (testPrefix's clean-up scans one node and deletes many
// keys in one command, which a Cluster refuses).
func privatePrefix() string { return "g:" + gatehouse.NewID(time.Now()) + ":" }

// runContracts runs the session and revocation contract suites on client.
func runContracts(t *testing.T, c rueidis.Client) {
	// opts are the store options under prefix: with Peers, as the server runs them, so that
	// reads go through the client-side cache when the client has one.
	opts := func(t *testing.T, prefix string) redis.Options { return cached(mustPeers(t, c, prefix, 2*time.Second)) }
	t.Run("SessionStore", func(t *testing.T) {
		storetest.TestSessionStore(t, func(t *testing.T) gatehouse.SessionStore {
			prefix := privatePrefix()
			return redis.NewSessionStore(c, prefix, redis.SessionOptions{Options: opts(t, prefix), IdleTimeout: time.Hour})
		})
	})
	t.Run("RevocationStore", func(t *testing.T) {
		storetest.TestRevocationStore(t, func(t *testing.T) gatehouse.RevocationStore {
			prefix := privatePrefix()
			return redis.NewRevocationStore(c, prefix, redis.RevocationOptions{Options: opts(t, prefix)})
		})
	})
	t.Run("RevocationStoreDurable", func(t *testing.T) {
		storetest.TestRevocationStore(t, func(t *testing.T) gatehouse.RevocationStore {
			prefix := privatePrefix()
			st := redis.NewRevocationStore(c, prefix, redis.RevocationOptions{Options: opts(t, prefix), Durable: memory.NewRevocationStore()})
			if err := st.Sync(context.Background()); err != nil {
				t.Fatalf("Sync: %v", err)
			}
			return st
		})
	})
	t.Run("Throttle", func(t *testing.T) {
		storetest.TestThrottle(t, func(t *testing.T, now func() time.Time) gatehouse.Throttle {
			return redis.NewThrottle(c, privatePrefix(), redis.Options{Timeout: slow.Timeout, Now: now})
		})
	})
}

// TestSentinelContracts runs the contract suites through Sentinel (?master_set=), with and
// without client-side caching.
func TestSentinelContracts(t *testing.T) {
	testkit.Slow(t, "starts a Redis Sentinel topology")
	s := redistest.StartSentinel(t)
	for _, cache := range []bool{true, false} {
		t.Run("cache="+strconv.FormatBool(cache), func(t *testing.T) {
			c := urlClient(t, s.URL(), cache)
			if c.Mode() != rueidis.ClientModeSentinel {
				t.Fatalf("client mode %v, want sentinel", c.Mode())
			}
			runContracts(t, c)
		})
	}
}

// failoverFixture is what the failover tests check: live and deleted sessions, and
// revocations, some of them made just before the failover without waiting for the replica.
type failoverFixture struct {
	// sessions and revs have a short timeout, so that a read without a primary fails fast;
	// setupSessions and setupRevs are the same stores with a generous one, for writes whose
	// failure would fail the test.
	sessions, setupSessions *redis.SessionStore
	revs, setupRevs         *redis.RevocationStore
	live                    []*gatehouse.Session
	deleted                 []*gatehouse.Session
	revoked                 []string // token ids
	outcomes                map[string]int
}

// newFailoverFixture makes 10 sessions (3 then deleted) and 3 token revocations, and waits
// until the replica has them all.
func newFailoverFixture(t *testing.T, s *redistest.Sentinel) *failoverFixture {
	t.Helper()
	c := urlClient(t, s.URL(), true)
	prefix := privatePrefix()
	short := redis.Options{Timeout: 300 * time.Millisecond}
	durable := memory.NewRevocationStore()
	f := &failoverFixture{
		sessions:      redis.NewSessionStore(c, prefix, redis.SessionOptions{Options: short}),
		setupSessions: redis.NewSessionStore(c, prefix, redis.SessionOptions{Options: slow}),
		revs:          redis.NewRevocationStore(c, prefix, redis.RevocationOptions{Options: short, Durable: durable}),
		setupRevs:     redis.NewRevocationStore(c, prefix, redis.RevocationOptions{Options: slow, Durable: durable}),
		outcomes:      map[string]int{},
	}
	ctx := context.Background()
	if err := f.setupRevs.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	for i := range 10 {
		st := storetest.NewTestSession("u"+strconv.Itoa(i%3), time.Now())
		if err := f.setupSessions.CreateSession(ctx, st); err != nil {
			t.Fatal(err)
		}
		f.live = append(f.live, st)
	}
	for _, st := range f.live[:3] {
		if _, err := f.setupSessions.DeleteSession(ctx, st.Hash); err != nil {
			t.Fatal(err)
		}
	}
	f.deleted, f.live = f.live[:3], f.live[3:]
	for i := range 3 {
		f.revoke(t, "early-"+strconv.Itoa(i))
	}
	s.WaitReplicated()
	if bad := f.check(); bad != "" {
		t.Fatalf("before the failover: %s", bad)
	}
	return f
}

func (f *failoverFixture) revoke(t *testing.T, jti string) {
	t.Helper()
	if err := f.setupRevs.RevokeToken(context.Background(), jti, time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	f.revoked = append(f.revoked, jti)
}

// check reads every session and revocation once and returns what was wrong, or "". A read may
// fail with ErrUnavailable (counted), but never find a deleted session or a revoked token
// valid, nor lose a live session.
func (f *failoverFixture) check() string {
	ctx := context.Background()
	for _, st := range f.live {
		_, found, err := f.sessions.FindSession(ctx, st.Hash)
		if bad := f.count("live session", !found, err); bad != "" {
			return bad
		}
	}
	for _, st := range f.deleted {
		_, found, err := f.sessions.FindSession(ctx, st.Hash)
		if bad := f.count("deleted session", found, err); bad != "" {
			return bad
		}
	}
	for _, jti := range f.revoked {
		revoked, err := f.revs.TokenRevoked(ctx, jti)
		if bad := f.count("revoked token "+jti, !revoked, err); bad != "" {
			return bad
		}
	}
	return ""
}

// count records one outcome: ok, unavailable, or wrong (returned as a message).
func (f *failoverFixture) count(what string, wrong bool, err error) string {
	switch {
	case errors.Is(err, gatehouse.ErrUnavailable):
		f.outcomes["unavailable"]++
	case err != nil:
		return what + ": " + err.Error()
	case wrong:
		return what + ": wrong answer"
	default:
		f.outcomes["ok"]++
	}
	return ""
}

// through polls check until done is closed, then until a check passes with no unavailable
// read (the store has recovered), failing the test on any wrong answer.
func (f *failoverFixture) through(t *testing.T, done <-chan struct{}) {
	t.Helper()
	for {
		before := f.outcomes["unavailable"]
		if bad := f.check(); bad != "" {
			t.Fatalf("during the failover: %s", bad)
		}
		select {
		case <-done:
			if f.outcomes["unavailable"] == before {
				return
			}
		default:
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// afterwards checks that writes work again and a new session is found.
func (f *failoverFixture) afterwards(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	var st *gatehouse.Session
	testkit.Eventually(t, 20*time.Second, "writes work again", func() bool {
		st = storetest.NewTestSession("after", time.Now())
		return f.sessions.CreateSession(ctx, st) == nil
	})
	if _, found, err := f.setupSessions.FindSession(ctx, st.Hash); err != nil || !found {
		t.Fatalf("a session made after the failover: %v, %v", found, err)
	}
	if found, err := f.setupSessions.TouchSession(ctx, f.live[0].Hash, time.Now()); err != nil || !found {
		t.Fatalf("touching a session after the failover: %v, %v", found, err)
	}
	testkit.Eventually(t, 20*time.Second, "the revocations are back in Redis", func() bool {
		return f.setupRevs.Sync(ctx) == nil
	})
	if bad := f.check(); bad != "" {
		t.Fatalf("after the failover: %s", bad)
	}
}

// TestSentinelFailover fails over on request (SENTINEL FAILOVER) while the stores are read:
// every answer is right or ErrUnavailable, and the stores follow the new primary.
func TestSentinelFailover(t *testing.T) {
	testkit.Slow(t, "starts a Redis Sentinel topology")
	s := redistest.StartSentinel(t)
	f := newFailoverFixture(t, s)
	done := make(chan struct{})
	var promoted string
	go func() {
		defer close(done)
		promoted = s.Failover()
	}()
	f.through(t, done)
	if promoted != s.Nodes[1].Addr {
		t.Fatalf("the sentinel promoted %s, want the replica %s", promoted, s.Nodes[1].Addr)
	}
	f.afterwards(t)
	t.Logf("outcomes during the failover: %v", f.outcomes)
}

// TestSentinelPrimaryKilled kills the primary right after a revocation that the replica may
// not have yet: reads fail with ErrUnavailable until the sentinel promotes the replica, and
// the revocation still holds afterwards (the durable store has it, and the new primary's run
// id tells the store that Redis may have lost it).
func TestSentinelPrimaryKilled(t *testing.T) {
	testkit.Slow(t, "starts a Redis Sentinel topology")
	s := redistest.StartSentinel(t)
	f := newFailoverFixture(t, s)
	f.revoke(t, "late") // not waited for
	old, err := s.Master()
	if err != nil {
		t.Fatal(err)
	}
	s.Node(old).Kill()
	done := make(chan struct{})
	go func() {
		defer close(done)
		s.WaitNewMaster(old)
	}()
	f.through(t, done)
	if f.outcomes["unavailable"] == 0 {
		t.Fatal("no read failed while there was no primary: the reads were answered from somewhere else")
	}
	f.afterwards(t)
	t.Logf("outcomes during the failover: %v", f.outcomes)
}
