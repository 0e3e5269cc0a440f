package http_test

import (
	"context"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse"
	"github.com/gatehouse-auth/gatehouse/authn"
	ghttp "github.com/gatehouse-auth/gatehouse/http"
)

func loginBody(user, pw string) map[string]string {
	return map[string]string{"username": user, "password": pw, "mode": "token"}
}

func xff(addr string) []string { return []string{"X-Forwarded-For", addr} }

// proxied trusts the harness's own client address (127.0.0.1) as a proxy, so that tests can
// speak for many clients through X-Forwarded-For.
var proxied = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32"), netip.MustParsePrefix("10.0.0.0/8")}

func expectRateLimited(t *testing.T, r response, retryAfter int) {
	t.Helper()
	expect(t, r, 429, "rate_limited")
	got, err := strconv.Atoi(r.header.Get("Retry-After"))
	if err != nil || got < 1 || retryAfter > 0 && got != retryAfter {
		t.Fatalf("Retry-After = %q, want %d", r.header.Get("Retry-After"), retryAfter)
	}
}

// TestLoginThrottleAccountAndAddress: 5 free failures for an account from one address, then
// exponential backoff from 1 s. A throttled attempt checks no password (the right one is refused
// too, so nothing leaks), and a success after the wait forgives the failures.
func TestLoginThrottleAccountAndAddress(t *testing.T) {
	h := newHarness(t, options{})
	h.addUser("alice", gatehouse.RoleUser)
	for i := 0; i < 5; i++ {
		expect(t, h.do("POST", "/api/login", loginBody("alice", "wrong password number x")), 401, "invalid_credentials")
	}
	expectRateLimited(t, h.do("POST", "/api/login", loginBody("alice", "wrong password number x")), 1)
	expectRateLimited(t, h.do("POST", "/api/login", loginBody("ALICE", testPassword)), 1)
	h.clock.Advance(time.Second)
	expect(t, h.do("POST", "/api/login", loginBody("alice", "wrong password number x")), 401, "invalid_credentials")
	expectRateLimited(t, h.do("POST", "/api/login", loginBody("alice", testPassword)), 2)
	h.clock.Advance(2 * time.Second)
	h.loginToken("alice", testPassword) // success resets
	for i := 0; i < 5; i++ {
		expect(t, h.do("POST", "/api/login", loginBody("alice", "wrong password number x")), 401, "invalid_credentials")
	}
	// Another account from the same address is not held up by alice's failures.
	h.loginToken("admin", h.adminPW)
	if m := h.do("GET", "/metrics", nil); !strings.Contains(m.raw, `gatehouse_rate_limited_total{kind="login"} 3`) {
		t.Fatalf("metrics do not count the three 429s:\n%s", m.raw)
	}
}

// TestLoginThrottleAccountFromAnywhere: a distributed guesser (a new address for each try) is
// throttled per account after 10 failures; the wait never exceeds 5 minutes (no permanent
// lockout), and the real user gets in once the guessing stops.
func TestLoginThrottleAccountFromAnywhere(t *testing.T) {
	h := newHarness(t, options{proxies: proxied})
	h.addUser("victim", gatehouse.RoleUser)
	ip := func(i int) []string { return xff(fmt.Sprintf("198.51.100.%d", i%250+1)) }
	for i := 0; i < 10; i++ {
		expect(t, h.do("POST", "/api/login", loginBody("victim", "guess guess guess"), ip(i)...), 401, "invalid_credentials")
	}
	expectRateLimited(t, h.do("POST", "/api/login", loginBody("victim", "guess guess guess"), ip(10)...), 1)
	longest := time.Duration(0)
	for i := 11; i < 60; i++ {
		r := h.do("POST", "/api/login", loginBody("victim", "guess guess guess"), ip(i)...)
		if r.status == 429 {
			secs, _ := strconv.Atoi(r.header.Get("Retry-After"))
			wait := time.Duration(secs) * time.Second
			longest = max(longest, wait)
			h.clock.Advance(wait)
			continue
		}
		expect(t, r, 401, "invalid_credentials")
	}
	if longest != 5*time.Minute {
		t.Fatalf("longest wait %v, want the 5 min cap", longest)
	}
	// One more guess right after its wait: the real user now waits the full cap, no more.
	if r := h.do("POST", "/api/login", loginBody("victim", "guess guess guess"), ip(61)...); r.status == 429 {
		secs, _ := strconv.Atoi(r.header.Get("Retry-After"))
		h.clock.Advance(time.Duration(secs) * time.Second)
		expect(t, h.do("POST", "/api/login", loginBody("victim", "guess guess guess"), ip(62)...), 401, "invalid_credentials")
	}
	expectRateLimited(t, h.do("POST", "/api/login", loginBody("victim", testPassword), xff("203.0.113.9")...), 300)
	h.clock.Advance(5 * time.Minute)
	r := h.do("POST", "/api/login", loginBody("victim", testPassword), xff("203.0.113.9")...)
	expect(t, r, 200, "")
}

// TestLoginThrottleAddressAcrossAccounts: credential stuffing from one address against many
// accounts is throttled after 100 failures; other addresses are not affected, and the stuffer
// cannot clear its count by logging in to an account of its own.
func TestLoginThrottleAddressAcrossAccounts(t *testing.T) {
	h := newHarness(t, options{proxies: proxied})
	h.addUser("mallory", gatehouse.RoleUser)
	stuffer := xff("192.0.2.66")
	for i := 0; i < 100; i++ {
		expect(t, h.do("POST", "/api/login", loginBody(fmt.Sprintf("user%d", i), "stuffed password 1"), stuffer...), 401, "invalid_credentials")
		if i == 50 {
			h.loginToken("mallory", testPassword) // a success refunds itself only
		}
	}
	expectRateLimited(t, h.do("POST", "/api/login", loginBody("someone-new", "stuffed password 1"), stuffer...), 1)
	expectRateLimited(t, h.do("POST", "/api/login", loginBody("mallory", testPassword), stuffer...), 1)
	h.loginToken("admin", h.adminPW) // from 127.0.0.1: not throttled
}

// TestLoginThrottleNIST: even configured with 1000 free attempts, at most 100 consecutive
// failures on one account go unthrottled.
func TestLoginThrottleNIST(t *testing.T) {
	h := newHarness(t, options{proxies: proxied, limits: authn.Limits{
		Account:   gatehouse.Backoff{Free: 1000},
		AccountIP: gatehouse.Backoff{Free: 1000},
		IP:        gatehouse.Backoff{Free: 1000},
	}})
	h.addUser("alice", gatehouse.RoleUser)
	for i := 0; i < 100; i++ {
		expect(t, h.do("POST", "/api/login", loginBody("alice", "wrong password number x"), xff(fmt.Sprintf("198.51.100.%d", i+1))...), 401, "invalid_credentials")
	}
	expectRateLimited(t, h.do("POST", "/api/login", loginBody("alice", "wrong password number x"), xff("203.0.113.1")...), 1)
}

// TestLoginThrottleConcurrent: 40 concurrent wrong passwords for one account from one address
// admit exactly the 5 free ones; counting happens before the password is checked.
func TestLoginThrottleConcurrent(t *testing.T) {
	h := newHarness(t, options{})
	h.addUser("alice", gatehouse.RoleUser)
	var mu sync.Mutex
	counts := map[int]int{}
	var wg sync.WaitGroup
	for i := 0; i < 40; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := h.do("POST", "/api/login", loginBody("alice", "wrong password number x"))
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

// TestCredentialThrottle: unknown session ids and invalid tokens from one address answer 401 for
// the first 100, then 429 with Retry-After; a valid credential from the same address is never
// refused, and other addresses are not affected.
func TestCredentialThrottle(t *testing.T) {
	h := newHarness(t, options{proxies: proxied})
	good := h.loginSession("admin", h.adminPW, xff("192.0.2.7")...)
	access, _ := h.loginToken("admin", h.adminPW)
	scanner := xff("192.0.2.7")
	for i := 0; i < 100; i++ {
		var r response
		switch i % 3 {
		case 0:
			r = h.do("GET", "/api/protected", nil, append(scanner, cookie("gatehouse_session="+gatehouse.NewSecret())...)...)
			expect(t, r, 401, "session_expired")
		case 1:
			r = h.do("GET", "/api/protected", nil, append(scanner, bearer(access+"x")...)...)
			expect(t, r, 401, "invalid_token")
		case 2:
			r = h.do("POST", "/api/token/refresh", map[string]string{"refresh_token": gatehouse.NewSecret()}, scanner...)
			expect(t, r, 401, "invalid_token")
		}
	}
	expectRateLimited(t, h.do("GET", "/api/protected", nil, append(scanner, cookie("gatehouse_session="+gatehouse.NewSecret())...)...), 1)
	expectRateLimited(t, h.do("POST", "/api/token/refresh", map[string]string{"refresh_token": gatehouse.NewSecret()}, scanner...), 1)
	expect(t, h.do("GET", "/api/protected", nil, append(scanner, cookie(good)...)...), 200, "")
	expect(t, h.do("GET", "/api/protected", nil, append(scanner, bearer(access)...)...), 200, "")
	expect(t, h.do("GET", "/api/protected", nil, append(xff("192.0.2.8"), bearer(access+"x")...)...), 401, "invalid_token")
	// Expired tokens and missing credentials are ordinary client states, not counted.
	h.clock.Advance(2 * time.Second)
	expect(t, h.do("GET", "/api/protected", nil, append(scanner, cookie(good)...)...), 200, "")
}

// TestForwardedFor: X-Forwarded-For is believed only from trusted proxies, read from the right,
// and the client cannot choose its address by writing the header itself.
func TestForwardedFor(t *testing.T) {
	sessionIP := func(h *harness, hdr ...string) string {
		c := h.loginSession("admin", h.adminPW, hdr...)
		r := h.do("GET", "/api/sessions", nil, cookie(c)...)
		for _, s := range r.body["sessions"].([]any) {
			if m := s.(map[string]any); m["current"] == true {
				return m["ip"].(string)
			}
		}
		t.Fatal("no current session")
		return ""
	}
	plain := newHarness(t, options{})
	if got := sessionIP(plain, xff("203.0.113.5")...); got != "127.0.0.1" {
		t.Fatalf("untrusted peer's X-Forwarded-For believed: %q", got)
	}
	h := newHarness(t, options{proxies: proxied})
	for _, tc := range []struct {
		hdr  []string
		want string
	}{
		{xff("203.0.113.5"), "203.0.113.5"},
		{xff("6.6.6.6, 203.0.113.5, 10.1.2.3"), "203.0.113.5"},
		{append(xff("6.6.6.6"), xff("203.0.113.5, 10.1.2.3")...), "203.0.113.5"},
		{xff("10.9.9.9, 10.1.2.3"), "10.9.9.9"},
		{xff("garbage, 10.1.2.3"), "10.1.2.3"},
		{xff("[2001:db8::1]:443"), "2001:db8::1"},
		{nil, "127.0.0.1"},
	} {
		if got := sessionIP(h, tc.hdr...); got != tc.want {
			t.Errorf("%v: client %q, want %q", tc.hdr, got, tc.want)
		}
	}
}

type failingThrottle struct{}

func (failingThrottle) Attempt(context.Context, ...gatehouse.Limit) (time.Duration, error) {
	return 0, gatehouse.Unavailable("throttle", fmt.Errorf("connection refused"))
}
func (failingThrottle) Reset(context.Context, ...string) error { return nil }
func (failingThrottle) Refund(context.Context, string) error   { return nil }

// TestThrottleDownFailsClosed: a throttle that cannot count refuses logins with 503; failed
// credentials still answer their 401.
func TestThrottleDownFailsClosed(t *testing.T) {
	h := newHarness(t, options{throttle: failingThrottle{}})
	expect(t, h.do("POST", "/api/login", loginBody("admin", h.adminPW)), 503, "unavailable")
	expect(t, h.do("GET", "/api/protected", nil, bearer("x.y.z")...), 401, "invalid_token")
}

func TestParseTrustedProxies(t *testing.T) {
	got, err := ghttp.ParseTrustedProxies(" 10.0.0.0/8, 192.0.2.1 ,2001:db8::/32,")
	if err != nil || len(got) != 3 || got[1].String() != "192.0.2.1/32" {
		t.Fatalf("%v %v", got, err)
	}
	if _, err := ghttp.ParseTrustedProxies("10.0.0.0/33"); err == nil {
		t.Fatal("bad prefix accepted")
	}
}
