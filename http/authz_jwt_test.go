package http_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse"
	"github.com/gatehouse-auth/gatehouse/forwardauth"
	"github.com/gatehouse-auth/gatehouse/token"
	"github.com/gatehouse-auth/gatehouse/verify"
)

// tokenAsserter signs Remote-JWT assertions with the token service, as cmd/gatehouse wires it.
type tokenAsserter struct {
	tokens *token.Service
	ttl    time.Duration
}

func (a tokenAsserter) Assert(id *forwardauth.Identity, audience string, _ time.Time) (string, error) {
	p := id.Principal
	p.Groups = id.Groups
	return a.tokens.IssueAssertion(p, audience, a.ttl)
}

// appVerifier is the verify SDK as an app behind the proxy runs it: gatehouse's JWK Set
// fetched over HTTP, and the app's own origin as the audience.
func appVerifier(t *testing.T, h *harness, origin string) *verify.Verifier {
	t.Helper()
	v, err := verify.New(context.Background(), verify.Config{
		Issuer: "http://gatehouse.test", JWKSURL: h.srv.URL + "/.well-known/jwks.json", Audience: origin,
		CacheSize: -1, Now: h.clock.Now, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { v.Close() })
	return v
}

// TestForwardAuthSignsAnAssertionForTheApp: with assertions on, an allowed answer carries
// Remote-JWT, which the app verifies with the verify SDK for its own origin only, until it
// expires; gatehouse itself never takes it for an access token.
func TestForwardAuthSignsAnAssertionForTheApp(t *testing.T) {
	h := newAuthzHarnessJWT(t, 2*time.Minute)
	h.addUser("alice", gatehouse.RoleUser)
	alice := h.loginSession("alice", testPassword)
	admin, _ := h.loginToken("admin", h.adminPW)
	const ep = "/api/authz/forward-auth"

	r := h.do("GET", ep, nil, fwd("GET", "app.example.com", "/docs", cookie(alice)...)...)
	expect(t, r, 200, "")
	jwt := r.header.Get("Remote-JWT")
	if jwt == "" {
		t.Fatalf("no Remote-JWT in %v", r.header)
	}
	app := appVerifier(t, h, "https://app.example.com")
	got, err := app.Verify(jwt)
	if err != nil || got.Username != "alice" || got.Name != "ALICE" || got.Email != "alice@example.com" || got.Role != gatehouse.RoleUser || got.UserID == "" {
		t.Fatalf("the app reads %+v, %v", got, err)
	}
	if life := got.ExpiresAt.Sub(h.clock.Now()); life > 2*time.Minute || life < 110*time.Second {
		t.Fatalf("the assertion lives %s, want about 2 minutes", life)
	}
	// The same cookie at the same app within the reuse time: the same assertion, not a new one.
	if again := h.do("GET", ep, nil, fwd("GET", "app.example.com", "/other", cookie(alice)...)...); again.header.Get("Remote-JWT") != jwt {
		t.Fatal("a second check within the reuse time signed a new assertion")
	}
	// Another app (another origin) refuses it, and gets its own.
	if _, err := appVerifier(t, h, "https://wiki.example.com").Verify(jwt); !errors.Is(err, token.ErrWrongAudience) {
		t.Fatalf("another app accepts the assertion: %v", err)
	}
	wiki := h.do("GET", ep, nil, fwd("GET", "wiki.example.com", "/", cookie(alice)...)...).header.Get("Remote-JWT")
	if _, err := appVerifier(t, h, "https://wiki.example.com").Verify(wiki); err != nil {
		t.Fatalf("the wiki refuses its own assertion: %v", err)
	}
	// nginx's auth-request with a port: the origin keeps it; the bearer's identity is the admin's.
	r = h.do("GET", "/api/authz/auth-request", nil, "X-Original-Method", "GET", "X-Original-URL", "https://app.example.com:8443/admin", bearer(admin)[0], bearer(admin)[1])
	expect(t, r, 200, "")
	if got, err := appVerifier(t, h, "https://app.example.com:8443").Verify(r.header.Get("Remote-JWT")); err != nil || got.Role != gatehouse.RoleAdmin {
		t.Fatalf("the app on 8443 reads %+v, %v", got, err)
	}
	// gatehouse itself refuses the assertion as a bearer token: its audience is not gatehouse's.
	expect(t, h.do("GET", "/api/me", nil, bearer(jwt)...), 401, "invalid_token")
	expect(t, h.do("GET", ep, nil, fwd("GET", "app.example.com", "/", "Accept", "application/json", "Authorization", "Bearer "+jwt)...), 401, "invalid_token")
	// A bypass answer names no one and carries no assertion.
	if r := h.do("GET", ep, nil, fwd("GET", "public.example.com", "/", cookie(alice)...)...); r.header.Get("Remote-JWT") != "" {
		t.Fatal("a bypass answer carries an assertion")
	}
	// Two minutes and the leeway later, the app refuses it as expired.
	h.clock.Advance(2*time.Minute + token.DefaultLeeway + time.Second)
	if _, err := app.Verify(jwt); gatehouse.ErrorCode(err) != gatehouse.ETOKENEXPIRED {
		t.Fatalf("an expired assertion: %v", err)
	}
}

func newAuthzHarnessJWT(t *testing.T, ttl time.Duration) *harness {
	t.Helper()
	return newAuthzHarnessWith(t, loopback, func(o *options) { o.forwardAuthJWT = ttl })
}
