package http_test

import (
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse"
	"github.com/gatehouse-auth/gatehouse/internal/redistest"
	"github.com/gatehouse-auth/gatehouse/memory"
	"github.com/gatehouse-auth/gatehouse/redis"
)

// twoServers starts two servers on one clock, each with the throttle that newThrottle returns,
// and the user alice on both.
func twoServers(t *testing.T, newThrottle func(now func() time.Time) gatehouse.Throttle) (*harness, *harness) {
	clock := newClock()
	a := newHarness(t, options{clock: clock, throttle: newThrottle(clock.Now)})
	b := newHarness(t, options{clock: clock, throttle: newThrottle(clock.Now)})
	a.addUser("alice", gatehouse.RoleUser)
	b.addUser("alice", gatehouse.RoleUser)
	return a, b
}

// redisThrottles returns a constructor of Redis throttles that all share one prefix of the
// local Redis: the throttles of several instances.
func redisThrottles(t *testing.T) func(now func() time.Time) gatehouse.Throttle {
	c, prefix := redisClient(t, "127.0.0.1:6379", false)
	return func(now func() time.Time) gatehouse.Throttle {
		return redis.NewThrottle(c, prefix, redis.Options{Timeout: 2 * time.Second, Now: now})
	}
}

// TestLoginThrottleAcrossServers: with a Redis throttle, failures split across two servers are
// counted together: the 429 comes at the same count as on one server (5 free failures for an
// account from one address), the backoff goes on across them, and a success on one forgives the
// failures on both. With in-process throttles each server counts alone, and the same split gets
// twice the free failures.
func TestLoginThrottleAcrossServers(t *testing.T) {
	a, b := twoServers(t, redisThrottles(t))
	wrong := loginBody("alice", "wrong password number x")
	for i, h := range []*harness{a, b, a, b, a} {
		if r := h.do("POST", "/api/login", wrong); r.status != 401 {
			t.Fatalf("failure %d: %d %s, want 401", i+1, r.status, r.raw)
		}
	}
	expectRateLimited(t, b.do("POST", "/api/login", wrong), 1)
	expectRateLimited(t, a.do("POST", "/api/login", loginBody("alice", testPassword)), 1)
	a.clock.Advance(time.Second)
	expect(t, b.do("POST", "/api/login", wrong), 401, "invalid_credentials")
	expectRateLimited(t, a.do("POST", "/api/login", wrong), 2)
	a.clock.Advance(2 * time.Second)
	a.loginToken("alice", testPassword) // forgives the account's failures everywhere
	for i := 0; i < 5; i++ {
		expect(t, b.do("POST", "/api/login", wrong), 401, "invalid_credentials")
	}
	expectRateLimited(t, b.do("POST", "/api/login", wrong), 1)

	// The control: in-process throttles, one per server.
	a, b = twoServers(t, func(now func() time.Time) gatehouse.Throttle {
		return memory.NewThrottle(memory.ThrottleOptions{Now: now})
	})
	for i := 0; i < 10; i++ {
		h := []*harness{a, b}[i%2]
		if r := h.do("POST", "/api/login", wrong); r.status != 401 {
			t.Fatalf("in-process throttles, failure %d: %d, want 401 (each server counts alone)", i+1, r.status)
		}
	}
	expectRateLimited(t, a.do("POST", "/api/login", wrong), 1)
}

// TestLoginThrottleAcrossServersConcurrent: 40 concurrent wrong passwords for one account from
// one address, spread over two servers, admit exactly the 5 free ones.
func TestLoginThrottleAcrossServersConcurrent(t *testing.T) {
	a, b := twoServers(t, redisThrottles(t))
	var mu sync.Mutex
	counts := map[int]int{}
	var wg sync.WaitGroup
	for i := 0; i < 40; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := []*harness{a, b}[i%2].do("POST", "/api/login", loginBody("alice", "wrong password number x"))
			mu.Lock()
			counts[r.status]++
			mu.Unlock()
		}()
	}
	wg.Wait()
	if counts[401] != 5 || counts[429] != 35 {
		t.Fatalf("statuses %v, want 5 x 401 and 35 x 429", counts)
	}
}

// TestRedisThrottleDownFailsClosed stops the throttle's Redis: a login answers 503 unavailable
// (never an attempt that nobody counted), a failed credential still answers its 401, and logins
// work again when Redis is back.
func TestRedisThrottleDownFailsClosed(t *testing.T) {
	srv := redistest.Start(t)
	c, prefix := redisClient(t, srv.Addr, false)
	clock := newClock()
	h := newHarness(t, options{clock: clock, throttle: redis.NewThrottle(c, prefix, redis.Options{Timeout: 300 * time.Millisecond, Now: clock.Now})})
	h.loginToken("admin", h.adminPW)
	srv.Kill()
	start := time.Now()
	expect(t, h.do("POST", "/api/login", loginBody("admin", h.adminPW)), 503, "unavailable")
	expect(t, h.do("POST", "/api/login", loginBody("admin", "wrong password number x")), 503, "unavailable")
	if took := time.Since(start); took > 10*time.Second {
		t.Fatalf("two logins with Redis down took %v: not bounded", took)
	}
	expect(t, h.do("GET", "/api/protected", nil, bearer("x.y.z")...), 401, "invalid_token")
	srv.Restart()
	deadline := time.Now().Add(10 * time.Second)
	for {
		r := h.do("POST", "/api/login", loginBody("admin", h.adminPW))
		if r.status == 200 {
			break
		}
		if r.status != 503 || time.Now().After(deadline) {
			t.Fatalf("after Redis came back: %d %s", r.status, r.raw)
		}
	}
}
