package http_test

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse"
	"github.com/gatehouse-auth/gatehouse/access"
	"github.com/gatehouse-auth/gatehouse/authn"
	"github.com/gatehouse-auth/gatehouse/forwardauth"
	ghttp "github.com/gatehouse-auth/gatehouse/http"
	"github.com/gatehouse-auth/gatehouse/internal/testkit"
	"github.com/gatehouse-auth/gatehouse/sqlite"
)

// authnAuthenticator adapts the authn use case to forwardauth, as cmd/gatehouse wires it.
type authnAuthenticator struct{ s *authn.Service }

func (a authnAuthenticator) Authenticate(ctx context.Context, c forwardauth.Credential) (forwardauth.Identity, error) {
	au, err := a.s.Authenticate(ctx, authn.Credential{AccessToken: c.Bearer, SessionID: c.Session})
	return forwardauth.Identity{Principal: au.Principal, Groups: au.Groups}, err
}

func (a authnAuthenticator) CredentialFailed(ctx context.Context, client netip.Addr, err error) time.Duration {
	return a.s.CredentialFailed(ctx, authn.Client{Addr: client}, err)
}

const authzRules = `rules:
  - domain: public.example.com
    policy: bypass
  - domain: closed.example.com
    policy: deny
  - domain: "*.example.com"
    path: "^/admin(/|$)"
    policy: role:admin
  - domain: lan.example.com
    networks: [10.0.0.0/8]
    policy: bypass
  - domain: team.example.com
    policy: group:engineering
  - domain: "*.example.com"
    policy: authenticated
`

var loopback = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")}

// newAuthzHarness is a server whose forward-auth endpoints trust proxies (the test client is
// on loopback) and follow authzRules, default deny.
func newAuthzHarness(t *testing.T, proxies []netip.Prefix) *harness {
	t.Helper()
	return newAuthzHarnessWith(t, proxies, nil)
}

// newAuthzHarnessWith is newAuthzHarness with edit, if set, applied to its options.
func newAuthzHarnessWith(t *testing.T, proxies []netip.Prefix, edit func(*options)) *harness {
	t.Helper()
	rules, err := access.Parse([]byte(authzRules), access.Policy{Kind: access.Deny})
	if err != nil {
		t.Fatal(err)
	}
	returns, err := access.NewReturns([]string{"example.com"})
	if err != nil {
		t.Fatal(err)
	}
	o := options{
		configure: func(_ *authn.Deps, c *ghttp.Config) { c.CookieDomain = "example.com" },
		returns:   returns,
		forwardAuth: forwardauth.Config{
			Rules: access.NewHolder(rules), TrustedProxies: proxies, SignInURL: "https://auth.example.com/",
			CookieName: "gatehouse_session", Logger: slog.New(slog.DiscardHandler),
		},
	}
	if edit != nil {
		edit(&o)
	}
	return newHarness(t, o)
}

// fwd returns the headers of a forward-auth check of method url (https).
func fwd(method, host, uri string, more ...string) []string {
	return append([]string{"X-Forwarded-Method", method, "X-Forwarded-Proto", "https", "X-Forwarded-Host", host, "X-Forwarded-Uri", uri}, more...)
}

func TestForwardAuthAnswers(t *testing.T) {
	h := newAuthzHarness(t, loopback)
	h.addUser("alice", gatehouse.RoleUser)
	alice := h.loginSession("alice", testPassword)
	admin, _ := h.loginToken("admin", h.adminPW)
	const ep = "/api/authz/forward-auth"

	// Not signed in: a browser goes to the sign-in page with the original URL; an API client gets 401.
	r := h.do("GET", ep, nil, fwd("GET", "app.example.com", "/docs?x=1", "Accept", "text/html,application/xhtml+xml")...)
	expect(t, r, 302, "")
	if loc := r.header.Get("Location"); loc != "https://auth.example.com/?rd=https%3A%2F%2Fapp.example.com%2Fdocs%3Fx%3D1" {
		t.Fatalf("Location = %q", loc)
	}
	r = h.do("GET", ep, nil, fwd("GET", "app.example.com", "/docs", "Accept", "application/json")...)
	expect(t, r, 401, "token_missing")
	if r.header.Get("WWW-Authenticate") != `Bearer realm="gatehouse"` {
		t.Fatalf("WWW-Authenticate = %q", r.header.Get("WWW-Authenticate"))
	}

	// Signed in: 200 with the identity, by cookie or by bearer token.
	r = h.do("GET", ep, nil, fwd("GET", "app.example.com", "/docs", cookie(alice)...)...)
	expect(t, r, 200, "")
	if r.header.Get("Remote-User") != "alice" || r.header.Get("Remote-Name") != "ALICE" ||
		r.header.Get("Remote-Email") != "alice@example.com" || r.header.Get("Remote-Groups") != "user" {
		t.Fatalf("identity headers: %v", r.header)
	}
	r = h.do("GET", ep, nil, fwd("POST", "app.example.com", "/admin/x", bearer(admin)...)...)
	expect(t, r, 200, "")
	if r.header.Get("Remote-User") != "admin" || r.header.Get("Remote-Groups") != "admin" {
		t.Fatalf("identity headers: %v", r.header)
	}

	// Signed in but not allowed: a role rule, a group rule (the admin is in no group), a deny rule.
	expect(t, h.do("GET", ep, nil, fwd("GET", "app.example.com", "/admin", cookie(alice)...)...), 403, "forbidden")
	expect(t, h.do("GET", ep, nil, fwd("GET", "app.example.com", "/x/../admin/", cookie(alice)...)...), 403, "forbidden")
	expect(t, h.do("GET", ep, nil, fwd("GET", "app.example.com", "/%61dmin", cookie(alice)...)...), 403, "forbidden")
	expect(t, h.do("GET", ep, nil, fwd("GET", "app.example.com", "//admin", cookie(alice)...)...), 400, "bad_request")
	expect(t, h.do("GET", ep, nil, fwd("GET", "team.example.com", "/", bearer(admin)...)...), 403, "forbidden")
	expect(t, h.do("GET", ep, nil, fwd("GET", "closed.example.com", "/", bearer(admin)...)...), 403, "forbidden")
	expect(t, h.do("GET", ep, nil, fwd("GET", "elsewhere.test", "/", bearer(admin)...)...), 403, "forbidden") // the default

	// Bypass: 200 without an identity, even with a credential.
	r = h.do("GET", ep, nil, fwd("GET", "public.example.com", "/", cookie(alice)...)...)
	expect(t, r, 200, "")
	if r.header.Get("Remote-User") != "" {
		t.Fatalf("a bypass answer names a user: %v", r.header)
	}
}

func TestAuthRequestAnswers(t *testing.T) {
	h := newAuthzHarness(t, loopback)
	const ep = "/api/authz/auth-request"
	orig := func(method, url string, more ...string) []string {
		return append([]string{"X-Original-Method", method, "X-Original-URL", url}, more...)
	}
	// nginx redirects browsers itself: not signed in is 401 even for a browser.
	r := h.do("GET", ep, nil, orig("GET", "https://app.example.com/a?b=c&d", "Accept", "text/html")...)
	expect(t, r, 401, "token_missing")
	if loc := r.header.Get("Location"); loc != "https://auth.example.com/?rd=https%3A%2F%2Fapp.example.com%2Fa%3Fb%3Dc%26d" {
		t.Fatalf("Location = %q (for nginx's error_page)", loc)
	}
	tok, _ := h.loginToken("admin", h.adminPW)
	r = h.do("GET", ep, nil, orig("GET", "https://app.example.com:8443/admin?q", bearer(tok)...)...)
	expect(t, r, 200, "")
	if r.header.Get("Remote-User") != "admin" {
		t.Fatalf("identity headers: %v", r.header)
	}
	expect(t, h.do("GET", ep, nil, orig("GET", "https://public.example.com/")...), 200, "")
}

// TestForwardAuthBadInput: every malformed description of the original request is a 400 that
// says what is wrong, never a 500 and never an answer about a request that was not described.
func TestForwardAuthBadInput(t *testing.T) {
	h := newAuthzHarness(t, loopback)
	cases := []struct {
		ep  string
		hdr []string
	}{
		{"forward-auth", nil},
		{"forward-auth", []string{"X-Forwarded-Host", "app.example.com"}},
		{"forward-auth", fwd("GET", "", "/")},
		{"forward-auth", fwd("GET", "app.example.com/x", "/")},
		{"forward-auth", fwd("GET", "app example.com", "/")},
		{"forward-auth", fwd("G-T", "app.example.com", "/")},
		{"forward-auth", fwd("GET", "app.example.com", "x")},
		{"forward-auth", fwd("GET", "app.example.com", "/a\\b")},
		{"forward-auth", fwd("GET", "app.example.com", "/%zz")},
		{"forward-auth", fwd("GET", "app.example.com", "/"+strings.Repeat("a", forwardauth.MaxURILen))},
		{"forward-auth", []string{"X-Forwarded-Method", "GET", "X-Forwarded-Proto", "ftp", "X-Forwarded-Host", "a.example.com"}},
		{"forward-auth", append(fwd("GET", "app.example.com", "/"), "X-Forwarded-Host", "public.example.com")}, // sent twice
		{"auth-request", nil},
		{"auth-request", []string{"X-Original-URL", "https://app.example.com/"}},
		{"auth-request", []string{"X-Original-Method", "GET", "X-Original-URL", "/relative"}},
		{"auth-request", []string{"X-Original-Method", "GET", "X-Original-URL", "javascript://app.example.com/"}},
		{"auth-request", []string{"X-Original-Method", "GET", "X-Original-URL", "https://user@app.example.com/"}},
	}
	for _, c := range cases {
		expect(t, h.do("GET", "/api/authz/"+c.ep, nil, c.hdr...), 400, "bad_request")
	}
	// A malformed or oversized credential signs no one in: 401, as proxies understand it.
	expect(t, h.do("GET", "/api/authz/forward-auth", nil, fwd("GET", "app.example.com", "/", "Authorization", "Basic eDp5")...), 401, "invalid_token")
	expect(t, h.do("GET", "/api/authz/forward-auth", nil, fwd("GET", "app.example.com", "/", bearer(strings.Repeat("a", 9000))...)...), 401, "invalid_token")
	expect(t, h.do("GET", "/api/authz/forward-auth", nil, fwd("GET", "app.example.com", "/", cookie(h.server.CookieName()+"=forged")...)...), 401, "session_expired")
}

// TestForwardAuthRefusesUntrustedPeers: with the peer outside --trusted-proxies, nothing the
// request says about the original request is believed: it is refused.
func TestForwardAuthRefusesUntrustedPeers(t *testing.T) {
	h := newAuthzHarness(t, []netip.Prefix{netip.MustParsePrefix("192.0.2.0/24")})
	expect(t, h.do("GET", "/api/authz/forward-auth", nil, fwd("GET", "public.example.com", "/")...), 403, "forbidden")
	expect(t, h.do("GET", "/api/authz/auth-request", nil, "X-Original-Method", "GET", "X-Original-URL", "https://public.example.com/"), 403, "forbidden")
}

// TestForwardAuthForgedClientAddress: X-Forwarded-For is read from the right; what the client
// wrote to the left of the last trusted proxy does not make it a member of a bypass network.
func TestForwardAuthForgedClientAddress(t *testing.T) {
	h := newAuthzHarness(t, loopback)
	ep := "/api/authz/forward-auth"
	expect(t, h.do("GET", ep, nil, fwd("GET", "lan.example.com", "/", "X-Forwarded-For", "10.1.1.1")...), 200, "")
	expect(t, h.do("GET", ep, nil, fwd("GET", "lan.example.com", "/", "X-Forwarded-For", "10.1.1.1, 203.0.113.7")...), 401, "token_missing")
	expect(t, h.do("GET", ep, nil, fwd("GET", "lan.example.com", "/", "X-Forwarded-For", "10.1.1.1", "X-Forwarded-For", "203.0.113.7, 127.0.0.1")...), 401, "token_missing")
	expect(t, h.do("GET", ep, nil, fwd("GET", "lan.example.com", "/", "X-Forwarded-For", "10.1.1.1, garbage")...), 401, "token_missing")
}

// TestForwardAuthRevocation: a session signed out everywhere and a revoked token are refused
// at the next check.
func TestForwardAuthRevocation(t *testing.T) {
	h := newAuthzHarness(t, loopback)
	h.addUser("bob", gatehouse.RoleUser)
	c := h.loginSession("bob", testPassword)
	tok, _ := h.loginToken("bob", testPassword)
	ep := "/api/authz/forward-auth"
	expect(t, h.do("GET", ep, nil, fwd("GET", "app.example.com", "/", cookie(c)...)...), 200, "")
	expect(t, h.do("GET", ep, nil, fwd("GET", "app.example.com", "/", bearer(tok)...)...), 200, "")
	expect(t, h.do("POST", "/api/logout-all", nil, cookie(c)...), 204, "")
	expect(t, h.do("GET", ep, nil, fwd("GET", "app.example.com", "/", cookie(c)...)...), 401, "session_expired")
	expect(t, h.do("GET", ep, nil, fwd("GET", "app.example.com", "/", bearer(tok)...)...), 401, "invalid_token")
}

// TestSignInReturnsToAllowedDomains: the sign-in page sends a signed-in browser back to rd or
// next only on an allowed domain; anything else goes to /account (no open redirect).
func TestSignInReturnsToAllowedDomains(t *testing.T) {
	h := newAuthzHarness(t, loopback)
	h.addUser("carol", gatehouse.RoleUser)
	c := h.loginSession("carol", testPassword)
	cases := map[string]string{
		"/?rd=https%3A%2F%2Fapp.example.com%2Fx%3Fy%3D1":   "https://app.example.com/x?y=1",
		"/?next=https%3A%2F%2Fexample.com%2F":              "https://example.com/",
		"/?next=%2Faccount%3Ftab%3D1":                      "/account?tab=1",
		"/?rd=https%3A%2F%2Fevil.com%2F":                   "/account",
		"/?rd=%2F%2Fevil.com":                              "/account",
		"/?rd=%2F%5Cevil.com":                              "/account",
		"/?rd=https%3A%2F%2Fapp.example.com%40evil.com%2F": "/account",
		"/?rd=javascript%3Aalert(1)":                       "/account",
	}
	for path, want := range cases {
		r := h.do("GET", path, nil, cookie(c)...)
		if r.status != 303 || r.header.Get("Location") != want {
			t.Errorf("GET %s: %d to %q, want 303 to %q", path, r.status, r.header.Get("Location"), want)
		}
	}
	// The session cookie covers the subdomains, and the sign-in form may lead back to them.
	r := h.do("POST", "/api/login", map[string]string{"username": "carol", "password": testPassword, "mode": "session"})
	if sc := r.header.Get("Set-Cookie"); !strings.Contains(sc, "Domain=example.com") {
		t.Errorf("Set-Cookie = %q, want Domain=example.com", sc)
	}
	page := h.do("GET", "/?rd=https%3A%2F%2Fapp.example.com%2F", nil)
	if csp := page.header.Get("Content-Security-Policy"); !strings.Contains(csp, "form-action 'self' example.com:* *.example.com:*;") {
		t.Errorf("sign-in page CSP = %q", csp)
	}
	if !strings.Contains(page.raw, `value="https://app.example.com/"`) {
		t.Errorf("the sign-in form does not carry the return address")
	}
}

// TestAnonymousChecksKeepNothing: a check without a credential creates no state: after
// 100,000 of them the heap is as it was and the session store holds what it held.
func TestAnonymousChecksKeepNothing(t *testing.T) {
	testkit.Slow(t, "100,000 anonymous forward-auth checks")
	h := newAuthzHarness(t, loopback)
	req := httptest.NewRequest("GET", "/api/authz/forward-auth", nil)
	req.RemoteAddr = "127.0.0.1:40000"
	for i := 0; i+1 < len(fwd("GET", "app.example.com", "/x", "Accept", "text/html")); i += 2 {
		kv := fwd("GET", "app.example.com", "/x", "Accept", "text/html")
		req.Header.Set(kv[i], kv[i+1])
	}
	check := func() {
		w := httptest.NewRecorder()
		h.server.ServeHTTP(w, req)
		if w.Code != http.StatusFound {
			t.Fatalf("anonymous check: %d %s", w.Code, w.Body)
		}
	}
	for range 1000 { // warm up pools and caches
		check()
	}
	before := heapInUse()
	sessions := countSessions(t, h)
	deadline := time.Now().Add(2 * time.Minute)
	for i := range 100_000 {
		check()
		if i%1000 == 0 && time.Now().After(deadline) {
			t.Fatalf("only %d checks in two minutes", i)
		}
	}
	after := heapInUse()
	if grown := int64(after) - int64(before); grown > 4<<20 {
		t.Errorf("the heap grew by %d KiB over 100,000 anonymous checks (%d -> %d)", grown>>10, before>>10, after>>10)
	}
	if n := countSessions(t, h); n != sessions {
		t.Errorf("sessions: %d before, %d after", sessions, n)
	}
}

func heapInUse() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapInuse
}

func countSessions(t *testing.T, h *harness) int {
	t.Helper()
	n, err := sqlite.NewSessionStore(h.db).CountSessions(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return n
}
