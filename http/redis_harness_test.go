package http_test

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/redis/rueidis"

	"github.com/gatehouse-auth/gatehouse"
	"github.com/gatehouse-auth/gatehouse/internal/redistest"
	"github.com/gatehouse-auth/gatehouse/redis"
)

// redisStores returns, for a harness with options.redis set, the session store (Redis when
// o.sessionStore is "redis", else store) and a Redis revocation store backed by durable, on the
// local Redis under a prefix of the test's own. It skips the test when Redis is unreachable
// and CI is unset.
func redisStores(tb testing.TB, o options, store gatehouse.SessionStore, durable redis.Durable, now func() time.Time) (gatehouse.SessionStore, gatehouse.RevocationStore) {
	tb.Helper()
	c, prefix := redisClient(tb, "127.0.0.1:6379", o.redis == "uncached")
	// The instance's lease on its client-side cache, as the server holds one.
	peers := redis.NewPeers(c, prefix, redis.PeerOptions{Cache: o.redis != "uncached", Timeout: 2 * time.Second})
	peers.Start()
	tb.Cleanup(peers.Close)
	opts := redis.Options{Timeout: 2 * time.Second, Now: now, Peers: peers}
	revs := redis.NewRevocationStore(c, prefix, redis.RevocationOptions{Options: opts, Durable: durable})
	if err := revs.Sync(context.Background()); err != nil {
		tb.Fatal(err)
	}
	if o.sessionStore == "redis" {
		store = redis.NewSessionStore(c, prefix, redis.SessionOptions{Options: opts, IdleTimeout: 30 * time.Minute})
	}
	return store, revs
}

// redisClient connects to the Redis at addr and returns the client and a key prefix of the
// test's own; the prefix's keys are deleted and the client closed when the test ends. It skips
// the test when Redis is unreachable and CI is unset.
func redisClient(tb testing.TB, addr string, uncached bool) (rueidis.Client, string) {
	tb.Helper()
	opt := rueidis.ClientOption{InitAddress: []string{addr}, DisableCache: uncached}
	redis.PrepareClientOption(&opt, 2*time.Second)
	c, err := rueidis.NewClient(opt)
	if err != nil {
		if os.Getenv("CI") != "" {
			tb.Fatalf("Redis is unreachable (CI is set, so this fails): %v", err)
		}
		tb.Skipf("Redis is unreachable, skipping (set CI to make this fail): %v", err)
	}
	tb.Cleanup(c.Close) // registered first, so it runs after the prefix's keys are deleted
	prefix := redistest.Prefix(tb, c)
	return c, prefix
}

// redisFor returns the options.redis value for a session store name: Redis sessions come with
// Redis revocations, cached client-side.
func redisFor(store string) string {
	if store == "redis" {
		return "cached"
	}
	return ""
}
