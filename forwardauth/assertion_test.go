package forwardauth

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse"
	"github.com/gatehouse-auth/gatehouse/access"
	"github.com/gatehouse-auth/gatehouse/internal/testkit"
	"github.com/gatehouse-auth/gatehouse/token"
)

// tokenAuthenticator signs in the bearer of a gatehouse access token, verified with the token
// service (stateless, as the verify SDK does; sessions are not its business).
type tokenAuthenticator struct{ s *token.Service }

func (a tokenAuthenticator) Authenticate(_ context.Context, c Credential) (Identity, error) {
	if c.Bearer == "" {
		return Identity{}, gatehouse.ErrSessionExpired
	}
	t, err := a.s.Verify(c.Bearer)
	if err != nil {
		return Identity{}, err
	}
	return Identity{Principal: t.Principal, Groups: t.Groups}, nil
}

// countingAsserter signs with the token service and counts the signatures.
type countingAsserter struct {
	s      *token.Service
	ttl    time.Duration
	signed atomic.Int64
}

func (a *countingAsserter) Assert(id *Identity, audience string, _ time.Time) (string, error) {
	a.signed.Add(1)
	p := id.Principal
	p.Groups = id.Groups
	return a.s.IssueAssertion(p, audience, a.ttl)
}

// jwtBench is a handler that lets any holder of an access token through, signing assertions
// with the real token service.
type jwtBench struct {
	h      *Handler
	tokens *token.Service
	signer *countingAsserter
	clock  *testkit.Clock
}

func newJWTHandler(tb testing.TB, sign bool, reuse time.Duration) *jwtBench {
	tb.Helper()
	clock := testkit.NewClock()
	keys, err := token.LoadKeySet(filepath.Join(tb.TempDir(), "keys.json"), token.KeyOptions{Now: clock.Now})
	if err != nil {
		tb.Fatal(err)
	}
	tokens, err := token.NewService(keys, token.Config{Issuer: "https://auth.example.com", Audience: "gatehouse", Now: clock.Now})
	if err != nil {
		tb.Fatal(err)
	}
	rules, err := access.Parse(nil, access.Policy{Kind: access.Authenticated})
	if err != nil {
		tb.Fatal(err)
	}
	b := &jwtBench{tokens: tokens, clock: clock, signer: &countingAsserter{s: tokens, ttl: 2 * time.Minute}}
	cfg := Config{Rules: access.NewHolder(rules), Authenticator: tokenAuthenticator{tokens},
		TrustedProxies: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}, CookieName: "gatehouse_session",
		Now: clock.Now, AssertionReuse: reuse}
	if sign {
		cfg.Assertions = b.signer
	}
	b.h = New(cfg)
	return b
}

func (b *jwtBench) access(tb testing.TB, p gatehouse.Principal, groups ...string) string {
	tb.Helper()
	u := &gatehouse.User{ID: p.UserID, Username: p.Username, Name: p.Name, Email: p.Email, Role: p.Role, Groups: groups}
	tok, _, err := b.tokens.IssueFor(u, 0, "", time.Time{})
	if err != nil {
		tb.Fatal(err)
	}
	return tok
}

func checkRequest(host, bearer string) *http.Request {
	r := httptest.NewRequest("GET", "/api/authz/forward-auth", nil)
	r.RemoteAddr = "127.0.0.1:40000"
	r.Header.Set("X-Forwarded-Method", "GET")
	r.Header.Set("X-Forwarded-Proto", "https")
	r.Header.Set("X-Forwarded-Host", host)
	r.Header.Set("X-Forwarded-Uri", "/x")
	r.Header.Set("Authorization", "Bearer "+bearer)
	return r
}

func (b *jwtBench) check(tb testing.TB, host, bearer string) string {
	tb.Helper()
	w := httptest.NewRecorder()
	b.h.ForwardAuth(w, checkRequest(host, bearer))
	if w.Code != 200 {
		tb.Fatalf("check of %s: %d %s", host, w.Code, w.Body)
	}
	return w.Header().Get(HeaderJWT)
}

var alice = gatehouse.Principal{UserID: "u-alice", Username: "alice", Name: "Alice", Email: "alice@example.com", Role: gatehouse.RoleUser}

// verifierFor is how the app at audience verifies assertions: the token package's verifier
// (what the verify SDK runs) over the same keys, with the app's origin as the audience.
func verifierFor(tb testing.TB, b *jwtBench, audience string) *token.Service {
	tb.Helper()
	v, err := token.NewService(b.tokens.Keys(), token.Config{Issuer: "https://auth.example.com", Audience: audience, Now: b.clock.Now, CacheSize: -1})
	if err != nil {
		tb.Fatal(err)
	}
	return v
}

// TestAssertionIsReusedForAFractionOfItsLife: the same credential at the same app gets the same
// assertion during AssertionReuse, then a new one; another app, another credential or a
// changed identity never gets another's.
func TestAssertionIsReusedForAFractionOfItsLife(t *testing.T) {
	b := newJWTHandler(t, true, 30*time.Second)
	tok := b.access(t, alice, "engineering")
	first := b.check(t, "app.example.com", tok)
	if first == "" || b.signer.signed.Load() != 1 {
		t.Fatalf("no assertion, or %d signatures", b.signer.signed.Load())
	}
	got, err := verifierFor(t, b, "https://app.example.com").Verify(first)
	if err != nil || got.Username != "alice" || got.Role != gatehouse.RoleUser || len(got.Groups) != 1 || got.Groups[0] != "engineering" {
		t.Fatalf("the app reads %+v, %v", got, err)
	}
	b.clock.Advance(29 * time.Second)
	if again := b.check(t, "app.example.com", tok); again != first || b.signer.signed.Load() != 1 {
		t.Fatalf("within the reuse time: new assertion %v, %d signatures", again != first, b.signer.signed.Load())
	}
	// Another app (another host, another port, another scheme) has an assertion of its own.
	other := b.check(t, "wiki.example.com", tok)
	if other == first || b.signer.signed.Load() != 2 {
		t.Fatal("another app got the first app's assertion")
	}
	if _, err := verifierFor(t, b, "https://app.example.com").Verify(other); !errors.Is(err, token.ErrWrongAudience) {
		t.Fatalf("the app accepts the assertion of another app: %v", err)
	}
	// Another credential of another identity at the same app.
	bob := b.access(t, gatehouse.Principal{UserID: "u-bob", Username: "bob", Role: gatehouse.RoleAdmin})
	if got, _ := verifierFor(t, b, "https://app.example.com").Verify(b.check(t, "app.example.com", bob)); got == nil || got.Username != "bob" {
		t.Fatalf("bob's check carries %+v", got)
	}
	// Past the reuse time: signed again, with a later expiry.
	b.clock.Advance(2 * time.Second)
	later := b.check(t, "app.example.com", tok)
	if later == first {
		t.Fatal("the assertion is still reused after AssertionReuse")
	}
}

// TestAssertionFollowsTheIdentity: a cached assertion is handed out only for the identity it
// was signed for.
func TestAssertionFollowsTheIdentity(t *testing.T) {
	c := newAssertionCache(time.Minute, 0)
	o := &original{scheme: "https", host: "app.example.com"}
	id := Identity{Principal: alice, Groups: []string{"a"}}
	now := testkit.NewClock().Now()
	k := c.key(Credential{Session: "s1"}, o)
	c.put(k, o, &id, "jwt-1", now)
	if jwt, ok := c.get(k, o, &id, now); !ok || jwt != "jwt-1" {
		t.Fatal("no hit for the same credential, app and identity")
	}
	changed := []func(*Identity){
		func(i *Identity) { i.Role = gatehouse.RoleAdmin },
		func(i *Identity) { i.Name = "Alice B." },
		func(i *Identity) { i.Email = "a@example.org" },
		func(i *Identity) { i.Username = "alice2" },
		func(i *Identity) { i.Groups = []string{"a", "b"} },
		func(i *Identity) { i.Groups = nil },
	}
	for n, change := range changed {
		other := Identity{Principal: alice, Groups: []string{"a"}}
		change(&other)
		if _, ok := c.get(k, o, &other, now); ok {
			t.Errorf("change %d: the assertion of the old identity is handed out", n)
		}
	}
	if _, ok := c.get(k, &original{scheme: "http", host: "app.example.com"}, &id, now); ok {
		t.Error("the assertion of https is handed out for http")
	}
	if k2 := c.key(Credential{Bearer: "s1"}, o); k2 == k {
		t.Error("a bearer token and a session secret with the same text share a key")
	}
	if _, ok := c.get(k, o, &id, now.Add(time.Minute)); ok {
		t.Error("handed out after the reuse time")
	}
	// The caller's group slice is copied: changing it later does not change the cache.
	id.Groups[0] = "z"
	if _, ok := c.get(k, o, &Identity{Principal: alice, Groups: []string{"a"}}, now); !ok {
		t.Error("the cache kept the caller's slice")
	}
}

func TestAssertionCacheIsBounded(t *testing.T) {
	c := newAssertionCache(time.Minute, 64)
	now := testkit.NewClock().Now()
	id := Identity{Principal: alice}
	for i := range 10_000 {
		o := &original{scheme: "https", host: "app.example.com"}
		c.put(c.key(Credential{Session: string(rune('a'+i%26)) + string(rune(i))}, o), o, &id, "jwt", now)
	}
	if n := c.shards.Len(); n > 64 {
		t.Fatalf("%d entries, bound 64", n)
	}
}

func TestOrigin(t *testing.T) {
	cases := map[[2]string]string{
		{"https", "App.Example.com"}:      "https://app.example.com",
		{"https", "app.example.com:443"}:  "https://app.example.com",
		{"http", "app.example.com:80"}:    "http://app.example.com",
		{"http", "app.example.com:8080"}:  "http://app.example.com:8080",
		{"https", "app.example.com:80"}:   "https://app.example.com:80",
		{"https", "[2001:db8::1]:443"}:    "https://[2001:db8::1]",
		{"https", "[2001:db8::1]:8443"}:   "https://[2001:db8::1]:8443",
		{"https", "app.example.com."}:     "https://app.example.com.",
		{"http", "127.0.0.1:3000"}:        "http://127.0.0.1:3000",
		{"https", "app.example.com:0443"}: "https://app.example.com:0443",
	}
	for in, want := range cases {
		o := original{scheme: in[0], host: in[1]}
		if got := o.origin(); got != want {
			t.Errorf("origin of %s://%s = %q, want %q", in[0], in[1], got, want)
		}
	}
}

// BenchmarkAllow measures an allowed check by bearer token (verification cached): without
// an assertion, with an assertion signed every time (EdDSA), and with the assertion reused.
func BenchmarkAllow(b *testing.B) {
	for _, c := range []struct {
		name  string
		sign  bool
		reuse time.Duration
	}{{"no-jwt", false, 0}, {"jwt-signed-each-time", true, 0}, {"jwt-reused", true, 30 * time.Second}} {
		b.Run(c.name, func(b *testing.B) {
			jb := newJWTHandler(b, c.sign, c.reuse)
			tok := jb.access(b, alice, "engineering")
			req := checkRequest("app.example.com", tok)
			w := &discard{h: http.Header{}}
			b.ReportAllocs()
			for b.Loop() {
				clear(w.h)
				jb.h.ForwardAuth(w, req)
				if w.code != 200 {
					b.Fatalf("status %d", w.code)
				}
			}
		})
	}
}

// discard is a ResponseWriter that keeps the status and headers and drops the body.
type discard struct {
	h    http.Header
	code int
}

func (d *discard) Header() http.Header         { return d.h }
func (d *discard) Write(p []byte) (int, error) { return len(p), nil }
func (d *discard) WriteHeader(code int)        { d.code = code }
