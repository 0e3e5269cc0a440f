package token

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse"
)

// decodeSegment returns the JSON object of segment i of a token.
func decodeSegment(t *testing.T, tok string, i int) map[string]any {
	t.Helper()
	raw, err := base64.RawURLEncoding.DecodeString(strings.Split(tok, ".")[i])
	if err != nil {
		t.Fatalf("segment %d: %v", i, err)
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatalf("segment %d: %v", i, err)
	}
	return m
}

func TestRoundTrip(t *testing.T) {
	for _, alg := range testAlgs {
		t.Run(alg, func(t *testing.T) {
			clock := newTestClock()
			ks := mustKeySet(t, alg, clock)
			s := mustService(t, ks, clock, nil)
			tok, issued := mustIssue(t, s, clock)
			got, err := s.Verify(tok)
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if !reflect.DeepEqual(got.Principal, testPrincipal) || got.ID != issued.ID || got.Family != "fam1" ||
				!got.IssuedAt.Equal(issued.IssuedAt) || !got.ExpiresAt.Equal(issued.ExpiresAt) {
				t.Fatalf("Verify = %+v, issued %+v", got, issued)
			}
			if !gatehouse.ValidID(got.ID) {
				t.Fatalf("jti %q is not a gatehouse id", got.ID)
			}
			h := decodeSegment(t, tok, 0)
			if h["alg"] != alg || h["kid"] != ks.SigningKID() || h["typ"] != "at+jwt" || len(h) != 3 {
				t.Fatalf("header = %v", h)
			}
		})
	}
}

func TestIssueClaims(t *testing.T) {
	clock := newTestClock()
	s := mustService(t, mustKeySet(t, AlgEdDSA, clock), clock, nil)
	now := clock.Now()
	// A not-before time 1.5 ms ahead becomes iat, written with its milliseconds.
	iat := gatehouse.IssueStamp(now, now.Add(1500*time.Microsecond).Truncate(time.Millisecond))
	tok, issued, err := s.Issue(testPrincipal, "", iat)
	if err != nil {
		t.Fatal(err)
	}
	c := decodeSegment(t, tok, 1)
	want := map[string]any{
		"sub": testPrincipal.UserID, "name": testPrincipal.Name, "email": testPrincipal.Email,
		"role": "user", "username": "alice", "iss": testIssuer, "aud": testAudience,
		"iat": float64(iat.UnixMilli()) / 1000, "nbf": float64(now.Unix()),
		"exp": float64(now.Add(DefaultAccessTTL).Unix()), "jti": issued.ID,
	}
	if len(c) != len(want) {
		t.Fatalf("claims = %v, want %v (sid omitted)", c, want)
	}
	for k, v := range want {
		if c[k] != v {
			t.Errorf("claim %s = %v, want %v", k, c[k], v)
		}
	}
	if !issued.IssuedAt.Equal(iat) {
		t.Errorf("Token.IssuedAt = %v, want %v", issued.IssuedAt, iat)
	}
	if v, err := s.Verify(tok); err != nil || !v.IssuedAt.Equal(iat) {
		t.Errorf("verified IssuedAt = %v, %v; want %v (milliseconds kept)", v, err, iat)
	}
	if c["nbf"].(float64) > c["iat"].(float64) {
		t.Errorf("nbf %v after iat %v", c["nbf"], c["iat"])
	}
	if _, err := s.Verify(tok); err != nil {
		t.Fatalf("Verify: %v", err)
	}
}

func TestIssueRejectsBadPrincipal(t *testing.T) {
	clock := newTestClock()
	s := mustService(t, mustKeySet(t, AlgEdDSA, clock), clock, nil)
	for _, p := range []gatehouse.Principal{{UserID: "", Role: gatehouse.RoleUser}, {UserID: "u", Role: "root"}} {
		if _, _, err := s.Issue(p, "", clock.Now()); err == nil {
			t.Errorf("Issue(%+v) succeeded", p)
		}
	}
}

func TestNewServiceConfig(t *testing.T) {
	clock := newTestClock()
	ks := mustKeySet(t, AlgEdDSA, clock)
	bad := []Config{
		{Audience: "a"},
		{Issuer: "i"},
		{Issuer: "i", Audience: "a", Algorithms: []string{"EdDSA", "none"}},
		{Issuer: "i", Audience: "a", Algorithms: []string{"EdDSA", "nOnE"}},
		{Issuer: "i", Audience: "a", Algorithms: []string{"RS256", "EdDSA"}},
		{Issuer: "i", Audience: "a", Algorithms: []string{"ES256"}}, // the signing alg is missing
	}
	for _, cfg := range bad {
		if _, err := NewService(ks, cfg); err == nil {
			t.Errorf("NewService(%+v) succeeded", cfg)
		}
	}
	s := mustService(t, ks, clock, nil)
	if s.cfg.AccessTTL != 15*time.Minute || s.cfg.Leeway != 30*time.Second || s.cfg.MaxSize != 8192 ||
		len(s.cfg.Algorithms) != 1 || s.cfg.Algorithms[0] != AlgEdDSA || s.cache == nil {
		t.Fatalf("defaults = %+v", s.cfg)
	}
	if s := mustService(t, ks, clock, func(c *Config) { c.CacheSize = -1 }); s.cache != nil {
		t.Fatal("CacheSize < 0 kept a cache")
	}
}

// TestExpiry checks the leeway at its edge, cached and uncached.
func TestExpiry(t *testing.T) {
	for _, cached := range []bool{false, true} {
		t.Run(map[bool]string{false: "uncached", true: "cached"}[cached], func(t *testing.T) {
			clock := newTestClock()
			s := mustService(t, mustKeySet(t, AlgEdDSA, clock), clock, func(c *Config) {
				if !cached {
					c.CacheSize = -1
				}
			})
			tok, issued := mustIssue(t, s, clock)
			if _, err := s.Verify(tok); err != nil { // fills the cache
				t.Fatal(err)
			}
			clock.Set(issued.ExpiresAt.Add(DefaultLeeway - time.Nanosecond))
			if _, err := s.Verify(tok); err != nil {
				t.Fatalf("within leeway: %v", err)
			}
			clock.Set(issued.ExpiresAt.Add(DefaultLeeway))
			_, err := s.Verify(tok)
			wantErr(t, err, gatehouse.ErrTokenExpired)
			if errors.Is(err, gatehouse.ErrInvalidToken) {
				t.Fatalf("expired token also reported invalid: %v", err)
			}
			// A clock moved back makes the token good again, as it would uncached.
			clock.Set(issued.IssuedAt)
			if _, err := s.Verify(tok); err != nil {
				t.Fatalf("back in time: %v", err)
			}
		})
	}
}

// TestNotYetValid covers nbf and iat in the future, cached (clock moved back after a
// successful verification) and uncached.
func TestNotYetValid(t *testing.T) {
	clock := newTestClock()
	ks := mustKeySet(t, AlgEdDSA, clock)
	s := mustService(t, ks, clock, nil)
	for _, claim := range []string{"nbf", "iat"} {
		c := validClaims(clock)
		c[claim] = clock.Now().Add(DefaultLeeway + 2*time.Second).Unix()
		_, err := s.Verify(signWithKeySet(t, ks, validHeader(ks), c))
		wantErr(t, err, gatehouse.ErrInvalidToken)
		c[claim] = clock.Now().Add(DefaultLeeway - 2*time.Second).Unix()
		if _, err := s.Verify(signWithKeySet(t, ks, validHeader(ks), c)); err != nil {
			t.Fatalf("%s within leeway: %v", claim, err)
		}
	}
	tok, issued := mustIssue(t, s, clock)
	if _, err := s.Verify(tok); err != nil {
		t.Fatal(err)
	}
	clock.Set(issued.IssuedAt.Add(-DefaultLeeway - time.Nanosecond))
	_, err := s.Verify(tok)
	wantErr(t, err, gatehouse.ErrInvalidToken)
}

// TestExpiredAndOtherwiseInvalid: an expired token that also fails another check is invalid,
// not merely expired.
func TestExpiredAndOtherwiseInvalid(t *testing.T) {
	clock := newTestClock()
	ks := mustKeySet(t, AlgEdDSA, clock)
	s := mustService(t, ks, clock, nil)
	c := validClaims(clock)
	c["exp"] = clock.Now().Add(-time.Hour).Unix()
	_, err := s.Verify(signWithKeySet(t, ks, validHeader(ks), c))
	wantErr(t, err, gatehouse.ErrTokenExpired)
	c["iss"] = "https://evil.example"
	_, err = s.Verify(signWithKeySet(t, ks, validHeader(ks), c))
	wantErr(t, err, gatehouse.ErrInvalidToken)
}

func TestClaimChecks(t *testing.T) {
	clock := newTestClock()
	ks := mustKeySet(t, AlgEdDSA, clock)
	s := mustService(t, ks, clock, nil)
	cases := map[string]func(c map[string]any){
		"wrong iss":        func(c map[string]any) { c["iss"] = testIssuer + "/" },
		"wrong aud":        func(c map[string]any) { c["aud"] = "other" },
		"wrong aud list":   func(c map[string]any) { c["aud"] = []string{"a", "b"} },
		"empty aud list":   func(c map[string]any) { c["aud"] = []string{} },
		"missing exp":      func(c map[string]any) { delete(c, "exp") },
		"missing iss":      func(c map[string]any) { delete(c, "iss") },
		"missing aud":      func(c map[string]any) { delete(c, "aud") },
		"missing jti":      func(c map[string]any) { delete(c, "jti") },
		"missing sub":      func(c map[string]any) { delete(c, "sub") },
		"missing iat":      func(c map[string]any) { delete(c, "iat") },
		"empty sub":        func(c map[string]any) { c["sub"] = "" },
		"role superuser":   func(c map[string]any) { c["role"] = "superuser" },
		"role Admin":       func(c map[string]any) { c["role"] = "Admin" },
		"role missing":     func(c map[string]any) { delete(c, "role") },
		"role number":      func(c map[string]any) { c["role"] = 1 },
		"exp string":       func(c map[string]any) { c["exp"] = "tomorrow" },
		"sub number":       func(c map[string]any) { c["sub"] = 42 },
		"iss list":         func(c map[string]any) { c["iss"] = []string{testIssuer} },
		"aud object":       func(c map[string]any) { c["aud"] = map[string]any{"aud": testAudience} },
		"iat far future":   func(c map[string]any) { c["iat"] = clock.Now().Add(time.Hour).Unix() },
		"nbf after exp":    func(c map[string]any) { c["nbf"] = clock.Now().Add(2 * time.Hour).Unix() },
		"name not string":  func(c map[string]any) { c["name"] = []int{1} },
		"sid not a string": func(c map[string]any) { c["sid"] = true },
	}
	for name, edit := range cases {
		t.Run(name, func(t *testing.T) {
			c := validClaims(clock)
			edit(c)
			_, err := s.Verify(signWithKeySet(t, ks, validHeader(ks), c))
			wantErr(t, err, gatehouse.ErrInvalidToken)
		})
	}
	// The baseline passes, including aud as a list that contains the audience.
	c := validClaims(clock)
	c["aud"] = []string{"other", testAudience}
	if _, err := s.Verify(signWithKeySet(t, ks, validHeader(ks), c)); err != nil {
		t.Fatalf("baseline: %v", err)
	}
}

func TestHeaderChecks(t *testing.T) {
	clock := newTestClock()
	ks := mustKeySet(t, AlgEdDSA, clock)
	s := mustService(t, ks, clock, nil)
	good := map[string]func(h map[string]any){
		"typ upper":       func(h map[string]any) { h["typ"] = "AT+JWT" },
		"typ media type":  func(h map[string]any) { h["typ"] = "application/at+jwt" },
		"unknown members": func(h map[string]any) { h["x-extra"] = "ignored" },
	}
	bad := map[string]func(h map[string]any){
		"typ JWT":        func(h map[string]any) { h["typ"] = "JWT" },
		"typ missing":    func(h map[string]any) { delete(h, "typ") },
		"typ number":     func(h map[string]any) { h["typ"] = 1 },
		"typ prefix":     func(h map[string]any) { h["typ"] = "at+jwt2" },
		"crit":           func(h map[string]any) { h["crit"] = []string{"exp"} },
		"kid missing":    func(h map[string]any) { delete(h, "kid") },
		"alg missing":    func(h map[string]any) { delete(h, "alg") },
		"alg lower case": func(h map[string]any) { h["alg"] = "eddsa" },
		"alg number":     func(h map[string]any) { h["alg"] = 1 },
	}
	for name, edit := range good {
		h := validHeader(ks)
		edit(h)
		if _, err := s.Verify(signWithKeySet(t, ks, h, validClaims(clock))); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	for name, edit := range bad {
		h := validHeader(ks)
		edit(h)
		_, err := s.Verify(signWithKeySet(t, ks, h, validClaims(clock)))
		if !errors.Is(err, gatehouse.ErrInvalidToken) {
			t.Errorf("%s: err = %v, want ErrInvalidToken", name, err)
		}
	}
}

func TestTooLarge(t *testing.T) {
	clock := newTestClock()
	ks := mustKeySet(t, AlgEdDSA, clock)
	s := mustService(t, ks, clock, nil)
	c := validClaims(clock)
	c["pad"] = strings.Repeat("x", 100<<10)
	_, err := s.Verify(signWithKeySet(t, ks, validHeader(ks), c))
	wantErr(t, err, gatehouse.ErrTooLarge)
	// Size is checked before decoding: garbage over the limit is "too large", not malformed.
	_, err = s.Verify(strings.Repeat("!", DefaultMaxSize+1))
	wantErr(t, err, gatehouse.ErrTooLarge)
	if _, err := s.Verify(strings.Repeat("!", DefaultMaxSize)); !errors.Is(err, gatehouse.ErrInvalidToken) {
		t.Fatalf("garbage at the limit: %v, want ErrInvalidToken", err)
	}
}
