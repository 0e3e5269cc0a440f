package redis_test

import (
	"context"
	"errors"
	"os"
	"testing"
	"time"

	"github.com/redis/rueidis"

	"github.com/gatehouse-auth/gatehouse"
	"github.com/gatehouse-auth/gatehouse/internal/redistest"
	"github.com/gatehouse-auth/gatehouse/redis"
)

// redisAddr is the local Redis every development and CI machine runs.
const redisAddr = "127.0.0.1:6379"

// mustClient connects to the local Redis, or skips the test when it is unreachable and CI is
// unset (under CI it fails). The client is closed when the test ends.
func mustClient(tb testing.TB, opt rueidis.ClientOption) rueidis.Client {
	tb.Helper()
	if len(opt.InitAddress) == 0 {
		opt.InitAddress = []string{redisAddr}
	}
	redis.PrepareClientOption(&opt, time.Second)
	c, err := rueidis.NewClient(opt)
	if err == nil {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		err = c.Do(ctx, c.B().Ping().Build()).Error()
		cancel()
		if err != nil {
			c.Close()
		}
	}
	if err != nil {
		if os.Getenv("CI") != "" {
			tb.Fatalf("Redis at %v is unreachable (CI is set, so this fails): %v", opt.InitAddress, err)
		}
		tb.Skipf("Redis at %v is unreachable, skipping (set CI to make this fail): %v", opt.InitAddress, err)
	}
	tb.Cleanup(c.Close)
	return c
}

// testPrefix returns a key prefix of the test's own and deletes its keys when the test ends.
func testPrefix(tb testing.TB, c rueidis.Client) string { return redistest.Prefix(tb, c) }

func isUnavailable(err error) bool { return errors.Is(err, gatehouse.ErrUnavailable) }

// slow are store options for tests: a generous timeout, so that a busy machine does not turn
// into store failures. Tests of the timeout set their own.
var slow = redis.Options{Timeout: 5 * time.Second}

// mustPeers starts the Peers of an instance with a client-side cache on c under prefix, and
// waits until it trusts its cache; it leaves when the test ends.
func mustPeers(tb testing.TB, c rueidis.Client, prefix string, lease time.Duration) *redis.Peers {
	tb.Helper()
	p := redis.NewPeers(c, prefix, redis.PeerOptions{Lease: lease, Cache: true, Timeout: 2 * time.Second})
	p.Start()
	tb.Cleanup(p.Close)
	deadline := time.Now().Add(5 * time.Second)
	for !p.Trusted() {
		if time.Now().After(deadline) {
			tb.Fatal("the instance never trusted its cache: its heartbeats do not reach Redis")
		}
		time.Sleep(time.Millisecond)
	}
	return p
}

// cached returns the store options of slow with peers.
func cached(peers *redis.Peers) redis.Options {
	o := slow
	o.Peers = peers
	return o
}
