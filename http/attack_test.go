package http_test

import (
	"crypto/elliptic"
	"encoding/base64"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse"
)

func TestSessionTimeouts(t *testing.T) {
	for _, store := range []string{"sqlite", "memory", "redis"} {
		t.Run(store, func(t *testing.T) {
			h := newHarness(t, options{sessionStore: store, redis: redisFor(store)})
			// Idle: 30 minutes without a request.
			c := h.loginSession("admin", h.adminPW)
			h.clock.Advance(29 * time.Minute)
			expect(t, h.do("GET", "/api/protected", nil, cookie(c)...), 200, "")
			h.clock.Advance(29 * time.Minute) // still alive: the request above renewed it
			expect(t, h.do("GET", "/api/protected", nil, cookie(c)...), 200, "")
			h.clock.Advance(31 * time.Minute)
			expect(t, h.do("GET", "/api/protected", nil, cookie(c)...), 401, "session_expired")
			// Absolute: 12 hours however busy.
			c = h.loginSession("admin", h.adminPW)
			for i := 0; i < 12*3; i++ {
				h.clock.Advance(20 * time.Minute)
				r := h.do("GET", "/api/protected", nil, cookie(c)...)
				if i < 12*3-1 {
					expect(t, r, 200, "")
				} else {
					expect(t, r, 401, "session_expired")
				}
			}
		})
	}
}

func TestTokenExpiryWithClockSkew(t *testing.T) {
	h := newHarness(t, options{})
	access, _ := h.loginToken("admin", h.adminPW)
	h.clock.Advance(15*time.Minute + 20*time.Second) // past exp, within the 30 s skew
	expect(t, h.do("GET", "/api/protected", nil, bearer(access)...), 200, "")
	h.clock.Advance(11 * time.Second)
	r := h.do("GET", "/api/protected", nil, bearer(access)...)
	expect(t, r, 401, "token_expired")
	if !strings.Contains(r.header.Get("WWW-Authenticate"), "invalid_token") {
		t.Fatalf("WWW-Authenticate = %q", r.header.Get("WWW-Authenticate"))
	}
}

func TestHostileCookies(t *testing.T) {
	h := newHarness(t, options{})
	for _, v := range []string{
		"x", "", strings.Repeat("A", 43), gatehouse.NewSecret(), strings.Repeat("z", 4000),
		"../../etc/passwd", "'; DROP TABLE sessions; --", "%00%ff", gatehouse.NewSecret() + "=",
	} {
		r := h.do("GET", "/api/protected", nil, cookie("gatehouse_session="+v)...)
		if v == "" {
			expect(t, r, 401, "token_missing")
			continue
		}
		expect(t, r, 401, "session_expired")
	}
}

func TestSessionFixation(t *testing.T) {
	h := newHarness(t, options{})
	planted := "gatehouse_session=" + gatehouse.NewSecret()
	c := h.loginSession("admin", h.adminPW, cookie(planted)...)
	if c == planted {
		t.Fatal("login kept the planted session id")
	}
	expect(t, h.do("GET", "/api/protected", nil, cookie(planted)...), 401, "session_expired")
	// Two logins never share an id.
	if h.loginSession("admin", h.adminPW) == h.loginSession("admin", h.adminPW) {
		t.Fatal("two logins got the same session id")
	}
}

func TestHostileBearers(t *testing.T) {
	h := newHarness(t, options{})
	access, _ := h.loginToken("admin", h.adminPW)
	parts := strings.Split(access, ".")
	noneHeader := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","typ":"at+jwt"}`))
	adminClaims := parts[1]
	for name, tok := range map[string]string{
		"garbage":        "garbage",
		"two parts":      parts[0] + "." + parts[1],
		"alg none":       noneHeader + "." + adminClaims + ".",
		"bad signature":  parts[0] + "." + parts[1] + "." + base64.RawURLEncoding.EncodeToString(make([]byte, 64)),
		"swapped claims": parts[0] + "." + base64.RawURLEncoding.EncodeToString([]byte(`{"sub":"x","role":"admin"}`)) + "." + parts[2],
	} {
		expect(t, h.do("GET", "/api/protected", nil, bearer(tok)...), 401, "invalid_token")
		_ = name
	}
	expect(t, h.do("GET", "/api/protected", nil, bearer(strings.Repeat("a", 100<<10))...), 413, "too_large")
	for _, hv := range []string{"Basic YWRtaW46cGFzcw==", "Bearer", "Bearer ", "Bearer a b", "Token " + access, "bearer" + access} {
		expect(t, h.do("GET", "/api/protected", nil, "Authorization", hv), 401, "invalid_token")
	}
	// The scheme is case-insensitive (RFC 6750).
	expect(t, h.do("GET", "/api/protected", nil, "Authorization", "bEaReR "+access), 200, "")
	// A token from another gatehouse (another key, same kid shape) is refused.
	other := newHarness(t, options{})
	foreign, _ := other.loginToken("admin", other.adminPW)
	expect(t, h.do("GET", "/api/protected", nil, bearer(foreign)...), 401, "invalid_token")
}

// TestRevokedES256HighSTwin re-encodes a revoked ES256 token with the other valid signature
// (s' = n - s): revocation is keyed on jti, so the twin is just as revoked.
func TestRevokedES256HighSTwin(t *testing.T) {
	h := newHarness(t, options{alg: "ES256"})
	access, _ := h.loginToken("admin", h.adminPW)
	twin := highSTwin(t, access)
	if twin == access {
		t.Fatal("twin equals the original")
	}
	expect(t, h.do("POST", "/api/logout", nil, bearer(access)...), 204, "")
	expect(t, h.do("GET", "/api/protected", nil, bearer(access)...), 401, "invalid_token")
	expect(t, h.do("GET", "/api/protected", nil, bearer(twin)...), 401, "invalid_token")
}

func highSTwin(t *testing.T, tok string) string {
	t.Helper()
	parts := strings.Split(tok, ".")
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil || len(sig) != 64 {
		t.Fatalf("ES256 signature: %v, %d bytes", err, len(sig))
	}
	n := elliptic.P256().Params().N
	s := new(big.Int).SetBytes(sig[32:])
	s.Sub(n, s)
	twin := make([]byte, 64)
	copy(twin, sig[:32])
	s.FillBytes(twin[32:])
	return parts[0] + "." + parts[1] + "." + base64.RawURLEncoding.EncodeToString(twin)
}
