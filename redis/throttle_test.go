package redis_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/redis/rueidis"

	"github.com/gatehouse-auth/gatehouse"
	"github.com/gatehouse-auth/gatehouse/internal/redistest"
	"github.com/gatehouse-auth/gatehouse/internal/storetest"
	"github.com/gatehouse-auth/gatehouse/redis"
)

func TestThrottleContract(t *testing.T) {
	c := mustClient(t, rueidis.ClientOption{})
	storetest.TestThrottle(t, func(t *testing.T, now func() time.Time) gatehouse.Throttle {
		return redis.NewThrottle(c, testPrefix(t, c), redis.Options{Timeout: slow.Timeout, Now: now})
	})
}

// TestThrottleTwoInstances counts attempts through two clients (two instances) on one prefix:
// they share the count exactly, and a reset on one is seen by the other.
func TestThrottleTwoInstances(t *testing.T) {
	a, b := mustClient(t, rueidis.ClientOption{}), mustClient(t, rueidis.ClientOption{})
	prefix := testPrefix(t, a)
	clock := storetest.NewThrottleClock()
	ta := redis.NewThrottle(a, prefix, redis.Options{Timeout: slow.Timeout, Now: clock.Now})
	tb := redis.NewThrottle(b, prefix, redis.Options{Timeout: slow.Timeout, Now: clock.Now})
	ctx := context.Background()
	l := gatehouse.Limit{Key: "login:acct:alice", Backoff: gatehouse.Backoff{Free: 4, Base: time.Second, Max: time.Minute}}
	for i, th := range []*redis.Throttle{ta, tb, ta, tb} {
		if w, err := th.Attempt(ctx, l); err != nil || w != 0 {
			t.Fatalf("free attempt %d: %v, %v", i+1, w, err)
		}
	}
	if w, err := ta.Attempt(ctx, l); err != nil || w != time.Second {
		t.Fatalf("fifth attempt: %v, %v; want a 1s wait", w, err)
	}
	if err := tb.Reset(ctx, l.Key); err != nil {
		t.Fatal(err)
	}
	if w, err := ta.Attempt(ctx, l); err != nil || w != 0 {
		t.Fatalf("after a reset on the other instance: %v, %v", w, err)
	}
}

// TestThrottleKeysExpire checks that every throttle key carries a TTL of its Forget, so that
// nothing lingers in Redis, and lives under the prefix.
func TestThrottleKeysExpire(t *testing.T) {
	c := mustClient(t, rueidis.ClientOption{})
	prefix := testPrefix(t, c)
	th := redis.NewThrottle(c, prefix, slow)
	ctx := context.Background()
	forget := 2 * time.Hour
	l := gatehouse.Limit{Key: "login:ip:192.0.2.1", Backoff: gatehouse.Backoff{Free: 1, Forget: forget}}
	if _, err := th.Attempt(ctx, l, gatehouse.Limit{Key: "login:acct:bob"}); err != nil {
		t.Fatal(err)
	}
	if got := pttl(t, c, prefix+"{thr}:"+l.Key); !near(got, forget) {
		t.Fatalf("TTL = %v, want %v", got, forget)
	}
	if got := pttl(t, c, prefix+"{thr}:login:acct:bob"); !near(got, gatehouse.DefaultBackoffForget) {
		t.Fatalf("TTL = %v, want the default %v", got, gatehouse.DefaultBackoffForget)
	}
	if err := th.Refund(ctx, l.Key); err != nil {
		t.Fatal(err)
	}
	if n, err := c.Do(ctx, c.B().Exists().Key(prefix+"{thr}:"+l.Key).Build()).AsInt64(); err != nil || n != 0 {
		t.Fatalf("refunding the only attempt left the key: %d, %v", n, err)
	}
}

// TestThrottleClockSkew: a wait is measured on the clock of the instance that answers, from the
// last attempt as its instance timed it; skew moves the wait by the skew, never the count.
func TestThrottleClockSkew(t *testing.T) {
	c := mustClient(t, rueidis.ClientOption{})
	prefix := testPrefix(t, c)
	ahead, behind := storetest.NewThrottleClock(), storetest.NewThrottleClock()
	ahead.Advance(3 * time.Second)
	ta := redis.NewThrottle(c, prefix, redis.Options{Timeout: slow.Timeout, Now: ahead.Now})
	tb := redis.NewThrottle(c, prefix, redis.Options{Timeout: slow.Timeout, Now: behind.Now})
	ctx := context.Background()
	l := gatehouse.Limit{Key: "k", Backoff: gatehouse.Backoff{Free: 1, Base: 4 * time.Second, Max: time.Minute}}
	if w, err := ta.Attempt(ctx, l); err != nil || w != 0 {
		t.Fatalf("first: %v, %v", w, err)
	}
	if w, err := tb.Attempt(ctx, l); err != nil || w != 7*time.Second {
		t.Fatalf("from the clock 3s behind: %v, %v; want 4s + 3s", w, err)
	}
	if w, err := ta.Attempt(ctx, l); err != nil || w != 4*time.Second {
		t.Fatalf("from the clock that counted: %v, %v; want 4s", w, err)
	}
	// 7 s pass on both clocks.
	behind.Advance(7 * time.Second)
	ahead.Advance(7 * time.Second)
	if w, err := tb.Attempt(ctx, l); err != nil || w != 0 {
		t.Fatalf("after the wait: %v, %v", w, err)
	}
	if w, err := ta.Attempt(ctx, l); err != nil || w != 8*time.Second-3*time.Second {
		t.Fatalf("the second wait, from the clock ahead: %v, %v; want 8s - 3s", w, err)
	}
}

// TestThrottleRedisDown: a throttle whose Redis is gone answers ErrUnavailable within its
// timeout (callers then refuse the login), and works again when Redis is back.
func TestThrottleRedisDown(t *testing.T) {
	srv := redistest.Start(t)
	c := mustClient(t, rueidis.ClientOption{InitAddress: []string{srv.Addr}})
	th := redis.NewThrottle(c, "gatehouse-test:", redis.Options{Timeout: 300 * time.Millisecond})
	ctx := context.Background()
	l := gatehouse.Limit{Key: "login:acct:alice"}
	if _, err := th.Attempt(ctx, l); err != nil {
		t.Fatal(err)
	}
	srv.Kill()
	start := time.Now()
	w, err := th.Attempt(ctx, l)
	if !isUnavailable(err) || w != 0 {
		t.Fatalf("Attempt with Redis down = %v, %v; want ErrUnavailable", w, err)
	}
	if took := time.Since(start); took > 10*time.Second {
		t.Fatalf("Attempt took %v with Redis down: not bounded", took)
	}
	if err := th.Reset(ctx, l.Key); !isUnavailable(err) {
		t.Fatalf("Reset with Redis down = %v", err)
	}
	if err := th.Refund(ctx, l.Key); !isUnavailable(err) {
		t.Fatalf("Refund with Redis down = %v", err)
	}
	srv.Restart()
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, err = th.Attempt(ctx, l)
		if err == nil || time.Now().After(deadline) {
			break
		}
	}
	if err != nil {
		t.Fatalf("no recovery after Redis came back: %v", err)
	}
}

// TestThrottleWrongType: a key this package did not write is an error, never an admission.
func TestThrottleWrongType(t *testing.T) {
	c := mustClient(t, rueidis.ClientOption{})
	prefix := testPrefix(t, c)
	th := redis.NewThrottle(c, prefix, slow)
	ctx := context.Background()
	if err := c.Do(ctx, c.B().Set().Key(prefix+"{thr}:k").Value("x").Build()).Error(); err != nil {
		t.Fatal(err)
	}
	if _, err := th.Attempt(ctx, gatehouse.Limit{Key: "k"}); !errors.Is(err, gatehouse.ErrUnavailable) {
		t.Fatalf("Attempt on a foreign key = %v", err)
	}
}
