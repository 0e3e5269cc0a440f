package redis_test

import (
	"context"
	"sync"
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

// instanceStores are the stores of one gatehouse instance: its own client, cache and Peers.
type instanceStores struct {
	c        rueidis.Client
	peers    *redis.Peers
	sessions *redis.SessionStore
	revs     *redis.RevocationStore
}

// newInstance connects to addr with a client of its own and builds the stores under prefix,
// with durable as the revocations' durable store (shared by the instances, like PostgreSQL).
func newInstance(t testing.TB, addr, prefix string, lease time.Duration, durable redis.Durable) *instanceStores {
	t.Helper()
	c := mustClient(t, rueidis.ClientOption{InitAddress: []string{addr}})
	in := &instanceStores{c: c, peers: mustPeers(t, c, prefix, lease)}
	in.sessions = redis.NewSessionStore(c, prefix, redis.SessionOptions{Options: cached(in.peers)})
	in.revs = redis.NewRevocationStore(c, prefix, redis.RevocationOptions{Options: cached(in.peers), Durable: durable})
	return in
}

// cacheSession reads the session through st until its client-side cache answers.
func cacheSession(t *testing.T, in *instanceStores, prefix string, h gatehouse.Hash) {
	t.Helper()
	ctx := context.Background()
	for range 1000 {
		if _, found, err := in.sessions.FindSession(ctx, h); err != nil || !found {
			t.Fatalf("FindSession before the delete = %v, %v", found, err)
		}
		if in.c.DoCache(ctx, in.c.B().Get().Key(redis.SessionKey(prefix, h)).Cache(), time.Minute).IsCacheHit() {
			return
		}
	}
	t.Fatal("the session never came from the client-side cache")
}

// TestRevokedEverywhereOnReturn deletes sessions and revokes tokens and users on instance A
// while B and C have the old answers in their client-side caches, with and without a load of
// cached reads on B: once A's call returns, B's very next read sees the change, every time.
func TestRevokedEverywhereOnReturn(t *testing.T) {
	probe := mustClient(t, rueidis.ClientOption{})
	prefix := testPrefix(t, probe)
	durable := memory.NewRevocationStore()
	a := newInstance(t, redisAddr, prefix, time.Second, durable)
	b := newInstance(t, redisAddr, prefix, time.Second, durable)
	c := newInstance(t, redisAddr, prefix, time.Second, durable)
	// The load takes every core (the reads are cache hits), so fewer trials run under it.
	trials := map[bool]int{false: 200, true: 40}
	if testing.Short() {
		trials = map[bool]int{false: 30, true: 10}
	}
	for _, load := range []bool{false, true} {
		stop := func() {}
		if load {
			stop = loadReads(t, b, prefix, 2)
		}
		start := time.Now()
		for i := range trials[load] {
			revokeOnAThenReadOnB(t, a, b, c, prefix, i)
		}
		t.Logf("load=%v: %d trials in %v", load, trials[load], time.Since(start))
		stop()
	}
}

func revokeOnAThenReadOnB(t *testing.T, a, b, c *instanceStores, prefix string, i int) {
	t.Helper()
	ctx := context.Background()
	s := storetest.NewTestSession("u"+time.Now().Format("150405.000000000"), time.Now())
	if err := a.sessions.CreateSession(ctx, s); err != nil {
		t.Fatal(err)
	}
	cacheSession(t, b, prefix, s.Hash)
	cacheSession(t, c, prefix, s.Hash)
	jti, user := s.Handle, s.User.UserID
	for _, in := range []*instanceStores{b, c} {
		for range 2 { // the second answer comes from the cache
			if revoked, err := in.revs.TokenRevoked(ctx, jti); err != nil || revoked {
				t.Fatalf("TokenRevoked before = %v, %v", revoked, err)
			}
			if nb, err := in.revs.NotBefore(ctx, user); err != nil || !nb.IsZero() {
				t.Fatalf("NotBefore before = %v, %v", nb, err)
			}
		}
	}
	switch i % 3 {
	case 0:
		if found, err := a.sessions.DeleteSession(ctx, s.Hash); err != nil || !found {
			t.Fatalf("DeleteSession = %v, %v", found, err)
		}
	case 1:
		if _, found, err := a.sessions.DeleteSessionByHandle(ctx, user, s.Handle); err != nil || !found {
			t.Fatalf("DeleteSessionByHandle = %v, %v", found, err)
		}
	case 2:
		if got, err := a.sessions.DeleteUserSessions(ctx, user); err != nil || len(got) != 1 {
			t.Fatalf("DeleteUserSessions = %d, %v", len(got), err)
		}
	}
	if err := a.revs.RevokeToken(ctx, jti, time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	nb := time.Now()
	if err := a.revs.SetNotBefore(ctx, user, nb); err != nil {
		t.Fatal(err)
	}
	for _, in := range []*instanceStores{b, c} {
		if _, found, err := in.sessions.FindSession(ctx, s.Hash); err != nil || found {
			t.Fatalf("trial %d: FindSession right after the delete returned = %v, %v", i, found, err)
		}
		if revoked, err := in.revs.TokenRevoked(ctx, jti); err != nil || !revoked {
			t.Fatalf("trial %d: TokenRevoked right after the revocation returned = %v, %v", i, revoked, err)
		}
		if got, err := in.revs.NotBefore(ctx, user); err != nil || !got.Equal(nb) {
			t.Fatalf("trial %d: NotBefore right after it was set = %v, %v; want %v", i, got, err, nb)
		}
	}
}

// loadReads keeps workers reading cached sessions through in, and returns the function that
// stops them.
func loadReads(t *testing.T, in *instanceStores, prefix string, workers int) func() {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	s := storetest.NewTestSession("load", time.Now())
	if err := in.sessions.CreateSession(ctx, s); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				in.sessions.FindSession(ctx, s.Hash)
				in.revs.NotBefore(ctx, "load")
			}
		}()
	}
	return func() { cancel(); wg.Wait() }
}

// TestRevocationWithStalledInstance stalls instance B's link to Redis (a proxy that stops
// forwarding without closing anything) while B has a session in its cache: A's delete waits
// for B's lease to run out, and B then answers from Redis, which it cannot reach, so it fails
// with ErrUnavailable instead of finding the session. Once the link flows again, B is back.
func TestRevocationWithStalledInstance(t *testing.T) {
	probe := mustClient(t, rueidis.ClientOption{})
	prefix := testPrefix(t, probe)
	proxy := redistest.StartProxy(t, redisAddr)
	const lease = 300 * time.Millisecond
	a := newInstance(t, redisAddr, prefix, lease, nil)
	b := newInstance(t, proxy.Addr, prefix, lease, nil)
	ctx := context.Background()
	for round := range 2 {
		s := storetest.NewTestSession("stalled", time.Now())
		if err := a.sessions.CreateSession(ctx, s); err != nil {
			t.Fatal(err)
		}
		cacheSession(t, b, prefix, s.Hash)
		proxy.Stall()
		start := time.Now()
		if found, err := a.sessions.DeleteSession(ctx, s.Hash); err != nil || !found {
			t.Fatalf("DeleteSession = %v, %v", found, err)
		}
		t.Logf("round %d: the delete returned after %v with B stalled", round, time.Since(start).Round(time.Millisecond))
		short, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
		_, found, err := b.sessions.FindSession(short, s.Hash)
		cancel()
		if found || !isUnavailable(err) {
			t.Fatalf("round %d: B after the delete = found %v, %v; want ErrUnavailable", round, found, err)
		}
		proxy.Resume()
		testkit.Eventually(t, 5*time.Second, "B reads through its cache again", b.peers.Trusted)
		if _, found, err := b.sessions.FindSession(ctx, s.Hash); err != nil || found {
			t.Fatalf("round %d: B once the link flows = %v, %v", round, found, err)
		}
	}
}

// TestRevocationWithRedisHung pauses Redis (SIGSTOP) right after a revocation returned: the
// instances that had the old answer cached answer with the revocation or ErrUnavailable,
// never the old answer, however long Redis stays hung.
func TestRevocationWithRedisHung(t *testing.T) {
	srv := redistest.Start(t)
	probe := mustClient(t, rueidis.ClientOption{InitAddress: []string{srv.Addr}})
	prefix := testPrefix(t, probe)
	const lease = 300 * time.Millisecond
	a := newInstance(t, srv.Addr, prefix, lease, nil)
	b := newInstance(t, srv.Addr, prefix, lease, nil)
	ctx := context.Background()
	s := storetest.NewTestSession("hung", time.Now())
	live := storetest.NewTestSession("hung-live", time.Now())
	for _, x := range []*gatehouse.Session{s, live} {
		if err := a.sessions.CreateSession(ctx, x); err != nil {
			t.Fatal(err)
		}
		cacheSession(t, b, prefix, x.Hash)
	}
	if found, err := a.sessions.DeleteSession(ctx, s.Hash); err != nil || !found {
		t.Fatalf("DeleteSession = %v, %v", found, err)
	}
	srv.Pause()
	defer srv.Resume()
	find := func(h gatehouse.Hash) (bool, error) {
		short, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
		defer cancel()
		_, found, err := b.sessions.FindSession(short, h)
		return found, err
	}
	paused := time.Now()
	for time.Since(paused) < 3*lease {
		if found, err := find(s.Hash); found || (err != nil && !isUnavailable(err)) {
			t.Fatalf("B with Redis hung = found %v, %v", found, err)
		}
	}
	// No heartbeat has been answered since the pause: the lease has run out, and B no longer
	// answers even a live session from its cache.
	if found, err := find(live.Hash); !isUnavailable(err) {
		t.Fatalf("B, a lease after Redis hung, answered a cached session: found %v, %v; want ErrUnavailable", found, err)
	}
}

// TestPeersDropAStoppedInstance stops an instance without leaving the registry (its client
// goes away, as in a crash): the others drop it from the registry after its lease, so that
// revocations stop waiting for it.
func TestPeersDropAStoppedInstance(t *testing.T) {
	probe := mustClient(t, rueidis.ClientOption{})
	prefix := testPrefix(t, probe)
	const lease = 200 * time.Millisecond
	a := newInstance(t, redisAddr, prefix, lease, nil)
	crashed := redis.NewPeers(mustRawClient(t), prefix, redis.PeerOptions{Lease: lease, Cache: true, Timeout: 2 * time.Second})
	crashed.Start()
	registered := func(id string) bool {
		ok, err := probe.Do(context.Background(), probe.B().Hexists().Key(prefix+"peers").Field(id).Build()).AsBool()
		return err == nil && ok
	}
	testkit.Eventually(t, 5*time.Second, "both instances are registered", func() bool {
		return registered(crashed.ID()) && registered(a.peers.ID())
	})
	crashed.Crash()
	testkit.Eventually(t, 5*time.Second, "the stopped instance is dropped", func() bool { return !registered(crashed.ID()) })
	if !registered(a.peers.ID()) {
		t.Fatal("the live instance was dropped too")
	}
}

// mustRawClient is a client of the local Redis that the test closes itself.
func mustRawClient(t *testing.T) rueidis.Client {
	opt := rueidis.ClientOption{InitAddress: []string{redisAddr}}
	redis.PrepareClientOption(&opt, time.Second)
	c, err := rueidis.NewClient(opt)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}
