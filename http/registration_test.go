package http_test

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// TestRegistrationThrottledPerAddress: probing usernames through self-registration from one
// address meets 429 after 10 registrations (created or username taken), with Retry-After, and
// not at full speed for as long as the prober likes. A registration the policy refuses before
// the store is asked (a weak password) is not counted.
func TestRegistrationThrottledPerAddress(t *testing.T) {
	h := newHarness(t, options{registration: true, proxies: proxied})
	from := xff("198.51.100.7")
	register := func(name, pw string, hdr ...string) response {
		return h.do("POST", "/api/register", map[string]string{"username": name, "password": pw}, hdr...)
	}
	for i := 0; i < 20; i++ {
		expect(t, register(fmt.Sprintf("weak%d", i), "too short", from...), 400, "bad_request")
	}
	for i := 0; i < 100; i++ {
		expect(t, register(fmt.Sprintf("taken%d", i), "a long enough passphrase", xff(fmt.Sprintf("203.0.113.%d", i))...), 201, "")
	}
	limited := 0
	for i := 0; i < 200; i++ {
		name := fmt.Sprintf("probe%d", i)
		if i%2 == 0 {
			name = fmt.Sprintf("taken%d", i/2) // a probe for an existing name counts like a new account
		}
		r := register(name, "a long enough passphrase", from...)
		switch {
		case i < 10 && i%2 == 0:
			expect(t, r, 409, "conflict")
		case i < 10:
			expect(t, r, 201, "")
		default:
			expectRateLimited(t, r, 0)
			limited++
		}
	}
	if limited != 190 {
		t.Fatalf("%d of 200 probes throttled, want 190", limited)
	}
	// Another address is not held up; the throttled one gets through again after the wait.
	expect(t, register("newcomer", "a long enough passphrase", xff("198.51.100.8")...), 201, "")
	h.clock.Advance(time.Minute)
	expect(t, register("latecomer", "a long enough passphrase", from...), 201, "")
	if m := h.do("GET", "/metrics", nil); !strings.Contains(m.raw, `gatehouse_rate_limited_total{kind="register"} 190`) {
		t.Fatalf("metrics do not count the 429s of registration")
	}
}

// TestRegistrationThrottledPerUsername: one username asked for from many addresses (a botnet
// probing or racing for a name) is throttled after 3 tries.
func TestRegistrationThrottledPerUsername(t *testing.T) {
	h := newHarness(t, options{registration: true, proxies: proxied})
	for i := 0; i < 3; i++ {
		want := 409
		if i == 0 {
			want = 201
		}
		r := h.do("POST", "/api/register", map[string]string{"username": "Victim", "password": "a long enough passphrase"}, xff(fmt.Sprintf("10.1.0.%d", i+1))...)
		expect(t, r, want, "")
	}
	expectRateLimited(t, h.do("POST", "/api/register", map[string]string{"username": "victim", "password": "a long enough passphrase"}, xff("10.1.0.99")...), 1)
	expect(t, h.do("POST", "/api/register", map[string]string{"username": "bystander", "password": "a long enough passphrase"}, xff("10.1.0.99")...), 201, "")
}
