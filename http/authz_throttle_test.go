package http_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse"
	"github.com/gatehouse-auth/gatehouse/authn"
	"github.com/gatehouse-auth/gatehouse/memory"
	"github.com/gatehouse-auth/gatehouse/redis"
)

// countedThrottle is a real throttle that also counts the calls made to it, to show which
// checks reach it at all.
type countedThrottle struct {
	gatehouse.Throttle
	calls atomic.Int64
}

func (c *countedThrottle) Attempt(ctx context.Context, limits ...gatehouse.Limit) (time.Duration, error) {
	c.calls.Add(1)
	return c.Throttle.Attempt(ctx, limits...)
}

// TestForwardAuthThrottlesFailedCredentials: a client address that keeps presenting
// credentials that sign no one in is answered 429 with Retry-After (auth-request: 401
// rate_limited with Retry-After, for nginx), per address, in memory and in Redis; valid
// credentials and anonymous checks never reach the throttle.
func TestForwardAuthThrottlesFailedCredentials(t *testing.T) {
	for _, backend := range []string{"memory", "redis"} {
		t.Run(backend, func(t *testing.T) {
			clock := newClock()
			var inner gatehouse.Throttle = memory.NewThrottle(memory.ThrottleOptions{Now: clock.Now})
			if backend == "redis" {
				c, prefix := redisClient(t, "127.0.0.1:6379", true)
				inner = redis.NewThrottle(c, prefix, redis.Options{Timeout: 2 * time.Second, Now: clock.Now})
			}
			th := &countedThrottle{Throttle: inner}
			h := newAuthzHarnessWith(t, loopback, func(o *options) {
				o.clock, o.throttle = clock, th
				o.limits = authn.Limits{Credential: gatehouse.Backoff{Free: 3, Base: 10 * time.Second, Max: time.Minute}}
			})
			exerciseThrottle(t, h, th)
		})
	}
}

func exerciseThrottle(t *testing.T, h *harness, th *countedThrottle) {
	h.addUser("erin", gatehouse.RoleUser)
	erin := h.loginSession("erin", testPassword)
	tok, _ := h.loginToken("erin", testPassword)
	const ep = "/api/authz/forward-auth"
	from := func(addr string, more ...string) []string {
		return fwd("GET", "app.example.com", "/", append([]string{"X-Forwarded-For", addr}, more...)...)
	}
	// Valid credentials and anonymous checks: no throttle call at all.
	before := th.calls.Load()
	for range 20 {
		expect(t, h.do("GET", ep, nil, from("203.0.113.7", cookie(erin)...)...), 200, "")
		expect(t, h.do("GET", ep, nil, from("203.0.113.7", bearer(tok)...)...), 200, "")
		expect(t, h.do("GET", ep, nil, from("203.0.113.7", "Accept", "application/json")...), 401, "token_missing")
	}
	if n := th.calls.Load() - before; n != 0 {
		t.Fatalf("valid and anonymous checks made %d throttle calls", n)
	}
	// Three failures are free; the fourth is refused with the wait.
	forged := cookie(h.server.CookieName() + "=forged-session-id")
	for range 3 {
		expect(t, h.do("GET", ep, nil, from("203.0.113.7", forged...)...), 401, "session_expired")
	}
	r := h.do("GET", ep, nil, from("203.0.113.7", append(forged, "Accept", "text/html")...)...)
	expect(t, r, 429, "rate_limited")
	if r.header.Get("Retry-After") != "10" {
		t.Fatalf("Retry-After = %q, want 10", r.header.Get("Retry-After"))
	}
	// A forged bearer token from the same address is refused the same way, and nginx's
	// auth-request gets a 401 it understands, with the wait.
	expect(t, h.do("GET", ep, nil, from("203.0.113.7", bearer("x.y.z")...)...), 429, "rate_limited")
	r = h.do("GET", "/api/authz/auth-request", nil, "X-Original-Method", "GET", "X-Original-URL", "https://app.example.com/",
		"X-Forwarded-For", "203.0.113.7", "Cookie", forged[1])
	expect(t, r, 401, "rate_limited")
	if r.header.Get("Retry-After") == "" || r.header.Get("WWW-Authenticate") == "" {
		t.Fatalf("auth-request's throttled answer: %v", r.header)
	}
	// Per address: another client is not held up; a valid credential is never refused.
	expect(t, h.do("GET", ep, nil, from("203.0.113.8", forged...)...), 401, "session_expired")
	expect(t, h.do("GET", ep, nil, from("203.0.113.7", cookie(erin)...)...), 200, "")
	// The client's address is the original client's, not a forged X-Forwarded-For entry left
	// of it: writing another address there does not escape the count.
	expect(t, h.do("GET", ep, nil, from("198.51.100.1, 203.0.113.7", forged...)...), 429, "rate_limited")
	// After the wait, one more failure is admitted (and answered 401).
	h.clock.Advance(time.Minute)
	expect(t, h.do("GET", ep, nil, from("203.0.113.7", forged...)...), 401, "session_expired")
}
