package http_test

import (
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse"
	"github.com/gatehouse-auth/gatehouse/argon2"
)

func TestTokenFlow(t *testing.T) {
	h := newHarness(t, options{})
	access, refresh := h.loginToken("admin", h.adminPW)
	if access == "" || refresh == "" || strings.Count(access, ".") != 2 || strings.Contains(refresh, ".") {
		t.Fatalf("login gave access %q refresh %q", access, refresh)
	}
	r := h.do("GET", "/api/protected", nil, bearer(access)...)
	expect(t, r, 200, "")
	if r.str("message") != "Welcome admin" || r.str("auth") != "token" {
		t.Fatalf("protected = %s", r.raw)
	}
	if u := r.body["user"].(map[string]any); u["role"] != "admin" || u["username"] != "admin" {
		t.Fatalf("protected user = %v", u)
	}
	if cc := r.header.Get("Cache-Control"); cc != "no-store" {
		t.Fatalf("Cache-Control = %q", cc)
	}
	me := h.do("GET", "/api/me", nil, bearer(access)...)
	expect(t, me, 200, "")
	if me.body["user"].(map[string]any)["created_at"] == nil {
		t.Fatalf("me = %s", me.raw)
	}
	expect(t, h.do("POST", "/api/logout", nil, bearer(access)...), 204, "")
	r = h.do("GET", "/api/protected", nil, bearer(access)...)
	expect(t, r, 401, "invalid_token")
	if !strings.Contains(r.header.Get("WWW-Authenticate"), `error="invalid_token"`) {
		t.Fatalf("WWW-Authenticate = %q", r.header.Get("WWW-Authenticate"))
	}
	// The logout also killed the token's refresh family.
	expect(t, h.do("POST", "/api/token/refresh", map[string]string{"refresh_token": refresh}), 401, "invalid_token")
}

func TestLoginResponseShape(t *testing.T) {
	h := newHarness(t, options{})
	r := h.do("POST", "/api/login", map[string]string{"username": "admin", "password": h.adminPW})
	expect(t, r, 200, "")
	if r.str("token") == "" || r.str("token") != r.str("access_token") || r.str("token_type") != "Bearer" {
		t.Fatalf("token response = %s", r.raw)
	}
	if exp, _ := r.body["expires_in"].(float64); exp != 900 {
		t.Fatalf("expires_in = %v, want 900", r.body["expires_in"])
	}
	if r.header.Get("Cache-Control") != "no-store" {
		t.Fatalf("login Cache-Control = %q", r.header.Get("Cache-Control"))
	}
	// Default mode "session" when configured so.
	h2 := newHarness(t, options{defaultMode: "session"})
	r = h2.do("POST", "/api/login", map[string]string{"username": "admin", "password": h2.adminPW})
	expect(t, r, 200, "")
	if r.header.Get("Set-Cookie") == "" || r.body["user"] == nil || r.str("expires_at") == "" {
		t.Fatalf("session login = %s %v", r.raw, r.header)
	}
}

func TestSessionFlow(t *testing.T) {
	for _, store := range []string{"sqlite", "memory", "redis"} {
		t.Run(store, func(t *testing.T) {
			h := newHarness(t, options{sessionStore: store, redis: redisFor(store)})
			r := h.do("POST", "/api/login", map[string]string{"username": "admin", "password": h.adminPW, "mode": "session"})
			expect(t, r, 200, "")
			sc := r.header.Get("Set-Cookie")
			for _, want := range []string{"gatehouse_session=", "HttpOnly", "SameSite=Lax", "Path=/"} {
				if !strings.Contains(sc, want) {
					t.Fatalf("Set-Cookie %q lacks %q", sc, want)
				}
			}
			if strings.Contains(sc, "Secure") {
				t.Fatalf("cookie Secure without TLS: %q", sc)
			}
			c := h.loginSession("admin", h.adminPW)
			r = h.do("GET", "/api/protected", nil, cookie(c)...)
			expect(t, r, 200, "")
			if r.str("auth") != "session" {
				t.Fatalf("auth = %q", r.str("auth"))
			}
			list := h.do("GET", "/api/sessions", nil, cookie(c)...)
			expect(t, list, 200, "")
			sessions := list.body["sessions"].([]any)
			if len(sessions) != 2 {
				t.Fatalf("sessions = %s", list.raw)
			}
			current := 0
			for _, s := range sessions {
				m := s.(map[string]any)
				if m["current"] == true {
					current++
				}
				if strings.Contains(c, m["id"].(string)) {
					t.Fatal("the session handle is the cookie secret")
				}
				for _, k := range []string{"created_at", "last_seen_at", "expires_at", "ip", "user_agent"} {
					if _, ok := m[k]; !ok {
						t.Fatalf("session lacks %s: %v", k, m)
					}
				}
			}
			if current != 1 {
				t.Fatalf("%d sessions marked current", current)
			}
			access, _ := h.loginToken("admin", h.adminPW)
			expect(t, h.do("POST", "/api/logout-all", nil, cookie(c)...), 204, "")
			expect(t, h.do("GET", "/api/protected", nil, cookie(c)...), 401, "session_expired")
			expect(t, h.do("GET", "/api/protected", nil, bearer(access)...), 401, "invalid_token")
			// A login right after "log out everywhere", in the same second, works.
			access2, _ := h.loginToken("admin", h.adminPW)
			expect(t, h.do("GET", "/api/protected", nil, bearer(access2)...), 200, "")
			c2 := h.loginSession("admin", h.adminPW)
			expect(t, h.do("GET", "/api/protected", nil, cookie(c2)...), 200, "")
		})
	}
}

func TestSessionLogoutClearsCookie(t *testing.T) {
	h := newHarness(t, options{})
	c := h.loginSession("admin", h.adminPW)
	r := h.do("POST", "/api/logout", nil, cookie(c)...)
	expect(t, r, 204, "")
	if sc := r.header.Get("Set-Cookie"); !strings.Contains(sc, "Max-Age=0") {
		t.Fatalf("logout Set-Cookie = %q", sc)
	}
	expect(t, h.do("GET", "/api/protected", nil, cookie(c)...), 401, "session_expired")
}

func TestBearerWinsOverCookie(t *testing.T) {
	h := newHarness(t, options{})
	h.addUser("bob", gatehouse.RoleUser)
	c := h.loginSession("admin", h.adminPW)
	access, _ := h.loginToken("bob", testPassword)
	r := h.do("GET", "/api/protected", nil, append(cookie(c), bearer(access)...)...)
	expect(t, r, 200, "")
	if r.str("auth") != "token" || r.str("message") != "Welcome bob" {
		t.Fatalf("both present: %s", r.raw)
	}
	// A bad bearer token is not rescued by a good cookie.
	expect(t, h.do("GET", "/api/protected", nil, append(cookie(c), bearer("garbage")...)...), 401, "invalid_token")
}

func TestTokenMissing(t *testing.T) {
	h := newHarness(t, options{})
	for _, path := range []string{"/api/protected", "/api/me", "/api/sessions", "/api/admin/users"} {
		r := h.do("GET", path, nil)
		expect(t, r, 401, "token_missing")
		if r.header.Get("WWW-Authenticate") == "" {
			t.Fatalf("%s: no WWW-Authenticate", path)
		}
	}
	expect(t, h.do("POST", "/api/logout", nil), 401, "token_missing")
	expect(t, h.do("POST", "/api/logout-all", nil), 401, "token_missing")
}

func TestLoginErrors(t *testing.T) {
	h := newHarness(t, options{})
	unknown := h.do("POST", "/api/login", map[string]string{"username": "nobody", "password": testPassword})
	expect(t, unknown, 401, "invalid_credentials")
	wrong := h.do("POST", "/api/login", map[string]string{"username": "admin", "password": "wrong password but long"})
	expect(t, wrong, 401, "invalid_credentials")
	if unknown.raw != wrong.raw {
		t.Fatalf("unknown user and wrong password answer differently:\n%s\n%s", unknown.raw, wrong.raw)
	}
	cases := []struct {
		name, body, code string
		status           int
	}{
		{"empty body", "", "bad_request", 400},
		{"malformed", `{"username": "admin",`, "bad_request", 400},
		{"not an object", `["admin"]`, "bad_request", 400},
		{"two objects", `{"username":"a","password":"b"} {}`, "bad_request", 400},
		{"wrong type", `{"username": 42, "password": "x"}`, "bad_request", 400},
		{"null username", `{"username": null, "password": "x"}`, "bad_request", 400},
		{"missing password", `{"username": "admin"}`, "bad_request", 400},
		{"bad mode", `{"username": "admin", "password": "xxxxxxxxxxxxxxxx", "mode": "cookie"}`, "bad_request", 400},
		{"password too long", `{"username": "admin", "password": "` + strings.Repeat("a", 1025) + `"}`, "bad_request", 400},
		{"body too large", `{"username": "admin", "password": "` + strings.Repeat("a", 70<<10) + `"}`, "too_large", 413},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := h.do("POST", "/api/login", c.body)
			expect(t, r, c.status, c.code)
		})
	}
	if r := h.do("POST", "/api/login", `{"username": 42, "password": "x"}`); !strings.Contains(r.str("message"), "username") {
		t.Fatalf("wrong-type message does not name the field: %s", r.raw)
	}
	// Unknown fields are ignored.
	expect(t, h.do("POST", "/api/login", `{"username":"admin","password":"`+h.adminPW+`","extra":[1,2]}`), 200, "")
}

func TestRefreshRotationAndReuse(t *testing.T) {
	h := newHarness(t, options{})
	_, r0 := h.loginToken("admin", h.adminPW)
	resp := h.do("POST", "/api/token/refresh", map[string]string{"refresh_token": r0})
	expect(t, resp, 200, "")
	a1, r1 := resp.str("access_token"), resp.str("refresh_token")
	if r1 == r0 || a1 == "" {
		t.Fatal("refresh did not rotate")
	}
	expect(t, h.do("GET", "/api/protected", nil, bearer(a1)...), 200, "")
	// Replaying r0 is reuse: the family dies, r1 with it.
	expect(t, h.do("POST", "/api/token/refresh", map[string]string{"refresh_token": r0}), 401, "invalid_token")
	expect(t, h.do("POST", "/api/token/refresh", map[string]string{"refresh_token": r1}), 401, "invalid_token")
	// Bad input.
	expect(t, h.do("POST", "/api/token/refresh", map[string]string{}), 400, "bad_request")
	expect(t, h.do("POST", "/api/token/refresh", map[string]string{"refresh_token": "garbage"}), 401, "invalid_token")
	expect(t, h.do("POST", "/api/token/refresh", map[string]any{"refresh_token": 7}), 400, "bad_request")
	// An access token is not a refresh token, and a refresh token is not a bearer token.
	_, r2 := h.loginToken("admin", h.adminPW)
	expect(t, h.do("POST", "/api/token/refresh", map[string]string{"refresh_token": a1}), 401, "invalid_token")
	expect(t, h.do("GET", "/api/protected", nil, bearer(r2)...), 401, "invalid_token")
}

func TestRefreshFamilyExpires(t *testing.T) {
	h := newHarness(t, options{})
	_, r0 := h.loginToken("admin", h.adminPW)
	h.clock.Advance(30*24*time.Hour + time.Second)
	r := h.do("POST", "/api/token/refresh", map[string]string{"refresh_token": r0})
	if r.status != 401 {
		t.Fatalf("refresh after the family's lifetime: %d %s", r.status, r.raw)
	}
}

func TestConcurrentRefreshExactlyOneWins(t *testing.T) {
	h := newHarness(t, options{})
	_, r0 := h.loginToken("admin", h.adminPW)
	const n = 20
	var wg sync.WaitGroup
	codes := make(chan int, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			codes <- h.do("POST", "/api/token/refresh", map[string]string{"refresh_token": r0}).status
		}()
	}
	wg.Wait()
	close(codes)
	wins := 0
	for c := range codes {
		switch c {
		case 200:
			wins++
		case 401:
		default:
			t.Errorf("unexpected status %d", c)
		}
	}
	if wins != 1 {
		t.Fatalf("%d of %d concurrent refreshes won, want exactly 1", wins, n)
	}
}

func TestNotFoundAndMethodNotAllowed(t *testing.T) {
	h := newHarness(t, options{})
	expect(t, h.do("GET", "/nope", nil), 404, "not_found")
	expect(t, h.do("GET", "/api/nope", nil), 404, "not_found")
	r := h.do("GET", "/api/login", nil)
	expect(t, r, 405, "bad_request")
	if r.header.Get("Allow") != "POST" {
		t.Fatalf("Allow = %q", r.header.Get("Allow"))
	}
	expect(t, h.do("PUT", "/api/sessions/x", nil), 405, "bad_request")
}

func TestOperations(t *testing.T) {
	h := newHarness(t, options{})
	expect(t, h.do("GET", "/healthz", nil), 200, "")
	expect(t, h.do("GET", "/readyz", nil), 200, "")
	h.loginToken("admin", h.adminPW)
	m := h.do("GET", "/metrics", nil)
	expect(t, m, 200, "")
	for _, want := range []string{`gatehouse_http_requests_total{code="200",route="POST /api/login"} 1`, `gatehouse_logins_total{outcome="ok"} 1`, "go_goroutines"} {
		if !strings.Contains(m.raw, want) {
			t.Fatalf("metrics lack %q", want)
		}
	}
	jwks := h.do("GET", "/.well-known/jwks.json", nil)
	expect(t, jwks, 200, "")
	keys := jwks.body["keys"].([]any)
	k := keys[0].(map[string]any)
	if len(keys) != 1 || k["kid"] == "" || k["alg"] != "EdDSA" || k["d"] != nil {
		t.Fatalf("jwks = %s", jwks.raw)
	}
}

func TestStoreDownFailsClosed(t *testing.T) {
	h := newHarness(t, options{})
	access, refresh := h.loginToken("admin", h.adminPW)
	h.db.Close()
	expect(t, h.do("GET", "/readyz", nil), 503, "unavailable")
	expect(t, h.do("POST", "/api/login", map[string]string{"username": "admin", "password": h.adminPW}), 503, "unavailable")
	expect(t, h.do("POST", "/api/token/refresh", map[string]string{"refresh_token": refresh}), 503, "unavailable")
	expect(t, h.do("GET", "/api/me", nil, bearer(access)...), 503, "unavailable")
	// A session the process never saw cannot be checked: 503, never 200.
	expect(t, h.do("GET", "/api/protected", nil, cookie("gatehouse_session="+gatehouse.NewSecret())...), 503, "unavailable")
	expect(t, h.do("POST", "/api/logout", nil, bearer(access)...), 503, "unavailable")
}

func TestSecureCookies(t *testing.T) {
	h := newHarness(t, options{secure: true})
	r := h.do("POST", "/api/login", map[string]string{"username": "admin", "password": h.adminPW, "mode": "session"})
	expect(t, r, 200, "")
	sc := r.header.Get("Set-Cookie")
	if !strings.HasPrefix(sc, "__Host-gatehouse_session=") || !strings.Contains(sc, "Secure") || strings.Contains(sc, "Domain") {
		t.Fatalf("Set-Cookie = %q", sc)
	}
}

func TestRegistration(t *testing.T) {
	closed := newHarness(t, options{})
	expect(t, closed.do("POST", "/api/register", map[string]string{"username": "eve", "password": testPassword}), 403, "forbidden")
	h := newHarness(t, options{registration: true})
	r := h.do("POST", "/api/register", map[string]string{"username": "Eve", "password": testPassword, "name": "Eve", "email": "eve@example.com"})
	expect(t, r, 201, "")
	u := r.body["user"].(map[string]any)
	if u["role"] != "user" || u["username"] != "Eve" || u["id"] == "" || u["password_hash"] != nil || strings.Contains(r.raw, "argon2") {
		t.Fatalf("register = %s", r.raw)
	}
	expect(t, h.do("POST", "/api/register", map[string]string{"username": "eve", "password": testPassword}), 409, "conflict")
	expect(t, h.do("POST", "/api/register", map[string]string{"username": "short", "password": "too short"}), 400, "bad_request")
	expect(t, h.do("POST", "/api/register", map[string]string{"username": "bad name!", "password": testPassword}), 400, "bad_request")
	expect(t, h.do("POST", "/api/register", map[string]string{"username": strings.Repeat("a", 65), "password": testPassword}), 400, "bad_request")
	// Role cannot be chosen by the registrant.
	r = h.do("POST", "/api/register", map[string]string{"username": "mallory", "password": testPassword, "role": "admin"})
	expect(t, r, 201, "")
	if r.body["user"].(map[string]any)["role"] != "user" {
		t.Fatal("self-registration granted admin")
	}
	access, _ := h.loginToken("eve", testPassword)
	expect(t, h.do("GET", "/api/protected", nil, bearer(access)...), 200, "")
}

func TestCrossOriginProtection(t *testing.T) {
	h := newHarness(t, options{})
	c := h.loginSession("admin", h.adminPW)
	cross := []string{"Sec-Fetch-Site", "cross-site", "Origin", "https://evil.example"}
	expect(t, h.do("POST", "/api/logout", nil, append(cookie(c), cross...)...), 403, "forbidden")
	expect(t, h.do("GET", "/api/protected", nil, cookie(c)...), 200, "") // still signed in
	// Safe methods are allowed cross-origin; SameSite=Lax governs the cookie there.
	expect(t, h.do("GET", "/api/protected", nil, append(cookie(c), cross...)...), 200, "")
	// Login CSRF is refused too.
	expect(t, h.do("POST", "/api/login", map[string]string{"username": "admin", "password": h.adminPW}, cross...), 403, "forbidden")
	// Bearer requests carry no ambient credential: allowed.
	access, _ := h.loginToken("admin", h.adminPW)
	expect(t, h.do("POST", "/api/logout", nil, append(bearer(access), cross...)...), 204, "")
	// Same-origin browser requests pass.
	same := []string{"Sec-Fetch-Site", "same-origin"}
	expect(t, h.do("POST", "/api/logout", nil, append(cookie(c), same...)...), 204, "")
}

func TestRestartKeepsSessionsAndTokens(t *testing.T) {
	dir := t.TempDir()
	clk := newClock()
	h := newHarness(t, options{dir: dir, clock: clk})
	c := h.loginSession("admin", h.adminPW)
	access, refresh := h.loginToken("admin", h.adminPW)
	revoked, _ := h.loginToken("admin", h.adminPW)
	expect(t, h.do("POST", "/api/logout", nil, bearer(revoked)...), 204, "")
	h.Close()

	h2 := newHarness(t, options{dir: dir, clock: clk})
	expect(t, h2.do("GET", "/api/protected", nil, cookie(c)...), 200, "")
	expect(t, h2.do("GET", "/api/protected", nil, bearer(access)...), 200, "")
	expect(t, h2.do("GET", "/api/protected", nil, bearer(revoked)...), 401, "invalid_token")
	expect(t, h2.do("POST", "/api/token/refresh", map[string]string{"refresh_token": refresh}), 200, "")
}

func TestAlgorithms(t *testing.T) {
	for _, alg := range []string{"EdDSA", "ES256", "HS256"} {
		t.Run(alg, func(t *testing.T) {
			h := newHarness(t, options{alg: alg})
			access, _ := h.loginToken("admin", h.adminPW)
			expect(t, h.do("GET", "/api/protected", nil, bearer(access)...), 200, "")
			jwks := h.do("GET", "/.well-known/jwks.json", nil)
			n := len(jwks.body["keys"].([]any))
			if (alg == "HS256") != (n == 0) {
				t.Fatalf("%s: %d keys published: %s", alg, n, jwks.raw)
			}
		})
	}
}

func TestHeadersOnErrors(t *testing.T) {
	h := newHarness(t, options{})
	r := h.do("GET", "/api/protected", nil, bearer("a.b.c")...)
	expect(t, r, 401, "invalid_token")
	if r.header.Get("Content-Type") != "application/json" || r.header.Get("Cache-Control") != "no-store" {
		t.Fatalf("headers = %v", r.header)
	}
	if _, err := h.client.Get(h.srv.URL + "/healthz"); err != nil {
		t.Fatal(err)
	}
}

// TestHashQueueAnswers503 runs the production argon2id parameters with a queue of one and a
// short wait: concurrent logins beyond it get 503 unavailable with Retry-After, never 500,
// and the login that got the slot succeeds.
func TestHashQueueAnswers503(t *testing.T) {
	// No throttle: six concurrent logins to one account from one address would pass its five
	// free attempts (each is counted when admitted), and this test is about the hashing queue.
	h := newHarness(t, options{noThrottle: true, hash: argon2.Options{Params: argon2.DefaultParams, MaxConcurrent: 1, MaxWait: time.Millisecond}})
	const n = 6
	var wg sync.WaitGroup
	results := make(chan response, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results <- h.do("POST", "/api/login", map[string]string{"username": "admin", "password": h.adminPW})
		}()
	}
	wg.Wait()
	close(results)
	ok, busy := 0, 0
	for r := range results {
		switch r.status {
		case 200:
			ok++
		case 503:
			expect(t, r, 503, "unavailable")
			if r.header.Get("Retry-After") == "" {
				t.Fatal("503 without Retry-After")
			}
			busy++
		default:
			t.Fatalf("login: %d %s", r.status, r.raw)
		}
	}
	if ok == 0 || busy == 0 {
		t.Fatalf("%d logins succeeded and %d were turned away; want both", ok, busy)
	}
}
