package redis_test

import (
	"context"
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

func TestRevocationStore(t *testing.T) {
	c := mustClient(t, rueidis.ClientOption{})
	storetest.TestRevocationStore(t, func(t *testing.T) gatehouse.RevocationStore {
		prefix := testPrefix(t, c)
		return redis.NewRevocationStore(c, prefix, redis.RevocationOptions{Options: cached(mustPeers(t, c, prefix, 2*time.Second))})
	})
}

// TestRevocationStoreDurable runs the contract on Redis backed by a durable store (the memory
// one stands in for PostgreSQL here; the postgres package runs the same with the real thing).
func TestRevocationStoreDurable(t *testing.T) {
	c := mustClient(t, rueidis.ClientOption{})
	storetest.TestRevocationStore(t, func(t *testing.T) gatehouse.RevocationStore {
		prefix := testPrefix(t, c)
		return redis.NewRevocationStore(c, prefix, redis.RevocationOptions{Options: cached(mustPeers(t, c, prefix, 2*time.Second)), Durable: memory.NewRevocationStore()})
	})
}

// TestRevocationTTL checks that a token revocation expires with the token, by the store's
// clock (not Redis's), and is never shortened.
func TestRevocationTTL(t *testing.T) {
	c := mustClient(t, rueidis.ClientOption{})
	prefix := testPrefix(t, c)
	now := testkit.Start().AddDate(-25, 0, 0) // far from Redis's own clock
	st := redis.NewRevocationStore(c, prefix, redis.RevocationOptions{Options: redis.Options{Timeout: slow.Timeout, Now: func() time.Time { return now }}})
	ctx := context.Background()
	if err := st.RevokeToken(ctx, "j", now.Add(10*time.Minute)); err != nil {
		t.Fatal(err)
	}
	if err := st.RevokeToken(ctx, "j", now.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	pttl, err := c.Do(ctx, c.B().Pttl().Key(redis.RevocationKey(prefix, "jti", "j")).Build()).AsInt64()
	if err != nil || pttl < (9*time.Minute).Milliseconds() || pttl > (10*time.Minute).Milliseconds() {
		t.Fatalf("PTTL = %d ms, %v; want about 10 minutes (the later expiry)", pttl, err)
	}
	if err := st.RevokeToken(ctx, "old", now.Add(-time.Second)); err != nil {
		t.Fatal(err)
	}
	if revoked, err := st.TokenRevoked(ctx, "old"); err != nil || revoked {
		t.Fatalf("an already expired token was stored: %v, %v", revoked, err)
	}
}

// TestRevocationPropagates checks that a revocation written through one client is seen
// through another client that had cached the old answer.
func TestRevocationPropagates(t *testing.T) {
	a := mustClient(t, rueidis.ClientOption{})
	b := mustClient(t, rueidis.ClientOption{})
	prefix := testPrefix(t, a)
	for _, durable := range []bool{false, true} {
		var opts redis.RevocationOptions
		if durable {
			opts.Durable = memory.NewRevocationStore()
			prefix += "d:"
		}
		stA, stB := redis.NewRevocationStore(a, prefix, opts), redis.NewRevocationStore(b, prefix, opts)
		ctx := context.Background()
		nb := time.Now().Truncate(time.Millisecond)
		for range 3 { // cache the "no revocation" answers on A
			mustNotBefore(t, stA, "u1", time.Time{})
			if revoked, err := stA.TokenRevoked(ctx, "j1"); err != nil || revoked {
				t.Fatalf("TokenRevoked before revoking = %v, %v", revoked, err)
			}
		}
		if err := stB.SetNotBefore(ctx, "u1", nb); err != nil {
			t.Fatal(err)
		}
		if err := stB.RevokeToken(ctx, "j1", time.Now().Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
		testkit.Eventually(t, 2*time.Second, "A sees B's not-before time", func() bool {
			got, err := stA.NotBefore(ctx, "u1")
			return err == nil && got.Equal(nb)
		})
		testkit.Eventually(t, 2*time.Second, "A sees B's token revocation", func() bool {
			revoked, err := stA.TokenRevoked(ctx, "j1")
			return err == nil && revoked
		})
	}
}

func mustNotBefore(t *testing.T, st gatehouse.RevocationStore, userID string, want time.Time) {
	t.Helper()
	got, err := st.NotBefore(context.Background(), userID)
	if err != nil || !got.Equal(want) {
		t.Fatalf("NotBefore(%s) = %v, %v; want %v", userID, got, err, want)
	}
}

func mustRevoked(t *testing.T, st gatehouse.RevocationStore, jti string, want bool) {
	t.Helper()
	got, err := st.TokenRevoked(context.Background(), jti)
	if err != nil || got != want {
		t.Fatalf("TokenRevoked(%s) = %v, %v; want %v", jti, got, err, want)
	}
}

// privateStore returns a durable-backed store on a redis-server of the test's own.
func privateStore(t *testing.T, srv *redistest.Server, durable redis.Durable) (*redis.RevocationStore, rueidis.Client) {
	t.Helper()
	c := mustClient(t, rueidis.ClientOption{InitAddress: []string{srv.Addr}})
	return redis.NewRevocationStore(c, "g:", redis.RevocationOptions{Durable: durable, Options: cached(mustPeers(t, c, "g:", 2*time.Second))}), c
}

// TestRevocationSurvivesFlush flushes Redis: the revocations still hold (read from the durable
// store), and Redis is filled again.
func TestRevocationSurvivesFlush(t *testing.T) {
	srv := redistest.Start(t)
	durable := memory.NewRevocationStore()
	st, c := privateStore(t, srv, durable)
	ctx := context.Background()
	nb := time.Now().Truncate(time.Millisecond)
	if err := st.SetNotBefore(ctx, "u1", nb); err != nil {
		t.Fatal(err)
	}
	if err := st.RevokeToken(ctx, "j1", time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := st.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	mustNotBefore(t, st, "u1", nb)
	mustRevoked(t, st, "j1", true)
	if err := c.Do(ctx, c.B().Flushall().Build()).Error(); err != nil {
		t.Fatal(err)
	}
	for range 20 { // every answer right after the flush is still right
		mustNotBefore(t, st, "u1", nb)
		mustRevoked(t, st, "j1", true)
	}
	// Every shard's marker comes back, with the two revocations.
	keys := append(redis.RevocationMarkers("g:"), redis.RevocationKey("g:", "nb", "u1"), redis.RevocationKey("g:", "jti", "j1"))
	testkit.Eventually(t, 2*time.Second, "Redis is filled again", func() bool {
		mustNotBefore(t, st, "u1", nb) // reads find out that Redis lost data and start the fill
		n, err := c.Do(ctx, c.B().Exists().Key(keys...).Build()).AsInt64()
		return err == nil && n == int64(len(keys))
	})
	mustNotBefore(t, st, "u1", nb)
	mustRevoked(t, st, "j1", true)
}

// TestRevocationSurvivesStaleRestart restarts Redis from a snapshot taken before the last
// revocations: the marker in the snapshot names the old server, so the store does not trust
// what Redis lost.
func TestRevocationSurvivesStaleRestart(t *testing.T) {
	srv := redistest.Start(t)
	durable := memory.NewRevocationStore()
	st, c := privateStore(t, srv, durable)
	ctx := context.Background()
	if err := st.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	mustNotBefore(t, st, "u1", time.Time{})
	if err := c.Do(ctx, c.B().Save().Build()).Error(); err != nil {
		t.Fatal(err)
	}
	nb := time.Now().Truncate(time.Millisecond)
	if err := st.SetNotBefore(ctx, "u1", nb); err != nil {
		t.Fatal(err)
	}
	if err := st.RevokeToken(ctx, "j1", time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	srv.Kill()
	srv.Restart()
	// The snapshot has the marker but neither revocation.
	testkit.Eventually(t, 2*time.Second, "the store answers again", func() bool {
		_, err := st.NotBefore(ctx, "u1")
		return err == nil
	})
	if n, _ := c.Do(ctx, c.B().Exists().Key(redis.RevocationMarker("g:", "u1")).Build()).AsInt64(); n != 1 {
		t.Fatalf("the snapshot has no marker (%d): the test does not test what it should", n)
	}
	mustNotBefore(t, st, "u1", nb)
	mustRevoked(t, st, "j1", true)
	testkit.Eventually(t, 2*time.Second, "Redis is filled again", func() bool {
		mustRevoked(t, st, "j1", true)
		n, err := c.Do(ctx, c.B().Exists().Key(redis.RevocationKey("g:", "nb", "u1"), redis.RevocationKey("g:", "jti", "j1")).Build()).AsInt64()
		return err == nil && n == 2
	})
}

// TestRevocationRedisDown checks that reads and writes fail with ErrUnavailable, within the
// timeout, while Redis is down, and work again when it is back.
func TestRevocationRedisDown(t *testing.T) {
	srv := redistest.Start(t)
	c := mustClient(t, rueidis.ClientOption{InitAddress: []string{srv.Addr}})
	st := redis.NewRevocationStore(c, "g:", redis.RevocationOptions{Options: redis.Options{Timeout: 200 * time.Millisecond}})
	ctx := context.Background()
	mustNotBefore(t, st, "u1", time.Time{})
	srv.Kill()
	start := time.Now()
	// The cached answer may survive until the client notices the closed connection; a write
	// needs the server.
	err := st.SetNotBefore(ctx, "u1", time.Now())
	if !isUnavailable(err) {
		t.Fatalf("SetNotBefore with Redis down = %v, want ErrUnavailable", err)
	}
	if d := time.Since(start); d > time.Second {
		t.Fatalf("failing took %v", d)
	}
	testkit.Eventually(t, 2*time.Second, "reads fail too", func() bool {
		_, err := st.NotBefore(ctx, "u2")
		return isUnavailable(err)
	})
	srv.Restart()
	testkit.Eventually(t, 2*time.Second, "the store recovers", func() bool {
		_, err := st.NotBefore(ctx, "u2")
		return err == nil
	})
}

// TestRevocationConcurrentSync fills one Redis from several instances at once, as instances
// that start together do: every Sync succeeds and the marker is written.
func TestRevocationConcurrentSync(t *testing.T) {
	srv := redistest.Start(t)
	durable := memory.NewRevocationStore()
	ctx := context.Background()
	if err := durable.SetNotBefore(ctx, "u1", time.Now()); err != nil {
		t.Fatal(err)
	}
	errs := make(chan error, 4)
	for range 4 {
		st, _ := privateStore(t, srv, durable)
		go func() { errs <- st.Sync(ctx) }()
	}
	for range 4 {
		if err := <-errs; err != nil {
			t.Fatalf("Sync: %v", err)
		}
	}
	st, c := privateStore(t, srv, durable)
	keys := append(redis.RevocationMarkers("g:"), redis.RevocationKey("g:", "nb", "u1"))
	if n, err := c.Do(ctx, c.B().Exists().Key(keys...).Build()).AsInt64(); err != nil || n != int64(len(keys)) {
		t.Fatalf("markers and not-before in Redis: %d of %d, %v", n, len(keys), err)
	}
	if err := st.Sync(ctx); err != nil {
		t.Fatal(err)
	}
}
