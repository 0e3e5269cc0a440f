package http_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse"
	"github.com/gatehouse-auth/gatehouse/access"
	"github.com/gatehouse-auth/gatehouse/account"
	"github.com/gatehouse-auth/gatehouse/argon2"
	"github.com/gatehouse-auth/gatehouse/authn"
	"github.com/gatehouse-auth/gatehouse/blocklist"
	"github.com/gatehouse-auth/gatehouse/forwardauth"
	ghttp "github.com/gatehouse-auth/gatehouse/http"
	"github.com/gatehouse-auth/gatehouse/internal/apispec"
	"github.com/gatehouse-auth/gatehouse/internal/testkit"
	"github.com/gatehouse-auth/gatehouse/memory"
	"github.com/gatehouse-auth/gatehouse/oidc"
	"github.com/gatehouse-auth/gatehouse/refresh"
	"github.com/gatehouse-auth/gatehouse/revocation"
	"github.com/gatehouse-auth/gatehouse/session"
	"github.com/gatehouse-auth/gatehouse/sqlite"
	"github.com/gatehouse-auth/gatehouse/token"
	"github.com/gatehouse-auth/gatehouse/web"
)

// clock is the tests' settable clock: nothing sleeps for expiry. Like a real clock it moves
// forward a little (1 ms) at every reading, so events have an order; it starts from the real
// time, because cookie jars and Redis TTLs compare against the real time.
type clock = testkit.Clock

func newClock() *clock { return testkit.NewSteppingClock(time.Millisecond) }

// fastParams keeps tests fast; the argon2 package tests the production parameters.
var fastParams = argon2.Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}

// options select the backends of a test server.
type options struct {
	sessionStore string // "sqlite" (default), "memory" or "redis" (needs redis)
	redis        string // "cached" or "uncached": revocations (and "redis" sessions) in the local Redis
	alg          string // default EdDSA
	dir          string // data directory; default a new temp dir
	registration bool
	defaultMode  string
	secure       bool
	clock        *clock
	logs         io.Writer
	hash         argon2.Options // default: fastParams
	throttle     gatehouse.Throttle
	noThrottle   bool // no throttle at all (default: an in-memory one on the test clock)
	minPassword  int
	limits       authn.Limits
	proxies      []netip.Prefix
	// configure, if set, edits the server's dependencies and configuration before it starts.
	configure func(*authn.Deps, *ghttp.Config)
	// authnConfig, if set, edits the use cases' configuration.
	authnConfig func(*authn.Config)
	// forwardAuth configures the forward-auth endpoints (their Authenticator is the server's
	// authn service); the zero value refuses every check. returns is the pages' Config.Returns.
	forwardAuth forwardauth.Config
	returns     *access.Returns
	// forwardAuthJWT, if set, is the lifetime of the Remote-JWT assertions the forward-auth
	// endpoints sign with the server's token keys (reused for a quarter of it), as
	// --forward-auth-jwt wires them.
	forwardAuthJWT time.Duration
}

// harness is a complete gatehouse server on a real 127.0.0.1 listener.
type harness struct {
	t       testing.TB
	srv     *httptest.Server
	server  *ghttp.Server
	pages   *web.Pages
	client  *http.Client // checks every exchange against docs/openapi.yaml
	clock   *clock
	db      *sqlite.DB
	dir     string
	users   gatehouse.UserStore
	acct    *account.Service
	authn   *authn.Service
	adminPW string
	closed  bool
}

const testPassword = "correct horse battery staple"

func newHarness(t testing.TB, o options) *harness {
	t.Helper()
	h := &harness{t: t, clock: o.clock, dir: o.dir, client: apispec.Client(t)}
	if h.clock == nil {
		h.clock = newClock()
	}
	testkit.CheckNearWallClock(t, h.clock.Now())
	if h.dir == "" {
		h.dir = t.TempDir()
	}
	if o.logs == nil {
		o.logs = io.Discard
	}
	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(h.dir, "gatehouse.db"), 0)
	if err != nil {
		t.Fatal(err)
	}
	h.db = db
	h.users = sqlite.NewUserStore(db)
	if o.hash.Params.Memory == 0 {
		o.hash = argon2.Options{Params: fastParams, MaxConcurrent: 4, MaxWait: 5 * time.Second}
	}
	hasher := argon2.New(o.hash)
	h.acct = account.New(h.users, hasher, account.Policy{MinPasswordLength: o.minPassword, Blocklist: blocklist.Common()}, h.clock.Now)
	if o.alg == "" {
		o.alg = "EdDSA"
	}
	keys, err := token.LoadKeySet(filepath.Join(h.dir, "keys.json"), token.KeyOptions{Alg: o.alg, Now: h.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	tokens, err := token.NewService(keys, token.Config{Issuer: "http://gatehouse.test", Audience: "gatehouse", Now: h.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	mirror, err := revocation.NewMirror(ctx, sqlite.NewRevocationStore(db), h.clock.Now)
	if err != nil {
		t.Fatal(err)
	}
	var store gatehouse.SessionStore = sqlite.NewSessionStore(db)
	if o.sessionStore == "memory" {
		store = memory.NewSessionStore()
	}
	var revs gatehouse.RevocationStore = mirror
	if o.redis != "" {
		store, revs = redisStores(t, o, store, sqlite.NewRevocationStore(db), h.clock.Now)
	}
	sessions := session.NewManager(store, revs, session.Options{Now: h.clock.Now, Cache: o.sessionStore == "sqlite" || o.sessionStore == ""})
	if o.throttle == nil && !o.noThrottle {
		o.throttle = memory.NewThrottle(memory.ThrottleOptions{Now: h.clock.Now})
	}
	logger := slog.New(slog.NewTextHandler(o.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	metrics := ghttp.NewMetrics(nil)
	ad := authn.Deps{
		Accounts: h.acct, Users: h.users, Sessions: sessions, Tokens: tokens,
		Refresh:     refresh.NewRefresher(sqlite.NewRefreshStore(db), 0, h.clock.Now),
		Revocations: revocation.NewFeed(revs), // as cmd/gatehouse wires it
		Throttle:    o.throttle, Audit: sqlite.NewAuditStore(db, 0),
	}
	acfg := authn.Config{Limits: o.limits, Logger: logger, Now: h.clock.Now, Hooks: authn.Hooks{Login: metrics.Login}}
	deps := ghttp.Deps{Ready: []func(context.Context) error{db.Ping}, Metrics: metrics}
	cfg := ghttp.Config{
		TrustedProxies:    o.proxies,
		AllowRegistration: o.registration, DefaultMode: o.defaultMode, SecureCookies: o.secure,
		Now: h.clock.Now, Logger: logger,
	}
	if o.configure != nil {
		o.configure(&ad, &cfg)
	}
	if o.authnConfig != nil {
		o.authnConfig(&acfg)
	}
	deps.Authn = authn.New(ad, acfg)
	h.authn = deps.Authn
	h.server = ghttp.New(deps, cfg)
	h.pages = web.Mount(h.server, deps.Authn, web.Config{Logger: logger, Returns: o.returns})
	o.forwardAuth.Authenticator = authnAuthenticator{deps.Authn}
	o.forwardAuth.Failures = authnAuthenticator{deps.Authn}
	if o.forwardAuthJWT > 0 {
		o.forwardAuth.Assertions = tokenAsserter{tokens, o.forwardAuthJWT}
		o.forwardAuth.AssertionReuse, o.forwardAuth.Now = o.forwardAuthJWT/4, h.clock.Now
	}
	forwardauth.New(o.forwardAuth).Mount(h.server.Handle)
	if o.alg != "HS256" { // ID tokens need an asymmetric key; cmd/gatehouse mounts it the same way
		if _, err := oidc.Mount(h.server, deps.Authn, oidc.Config{Clients: sqlite.NewClientStore(db), Users: h.users,
			Keys: keys, Flows: sqlite.NewChallengeStore(db), Refresh: refresh.NewRefresher(sqlite.NewRefreshStore(db), 0, h.clock.Now),
			Grants: sqlite.NewGrantStore(db), Logger: logger, Now: h.clock.Now}); err != nil {
			t.Fatal(err)
		}
	}
	h.srv = httptest.NewServer(h.server)
	t.Cleanup(h.Close)
	if _, _, err := h.acct.Bootstrap(ctx, testPassword+" admin"); err != nil {
		t.Fatal(err)
	}
	h.adminPW = testPassword + " admin"
	return h
}

// Close stops the server and closes the database (a restart test reopens the same dir).
func (h *harness) Close() {
	if h.closed {
		return
	}
	h.closed = true
	h.srv.Close()
	h.db.Close()
}

// response is a decoded answer.
type response struct {
	status int
	header http.Header
	body   map[string]any
	raw    string
}

func (r response) str(key string) string { s, _ := r.body[key].(string); return s }

// do sends a request; body may be nil, a string (sent as is) or a value (sent as JSON).
func (h *harness) do(method, path string, body any, hdr ...string) response {
	h.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		raw, _ := json.Marshal(b)
		rd = strings.NewReader(string(raw))
	}
	req, err := http.NewRequest(method, h.srv.URL+path, rd)
	if err != nil {
		h.t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Add(hdr[i], hdr[i+1])
	}
	resp, err := h.client.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	out := response{status: resp.StatusCode, header: resp.Header, raw: string(raw)}
	_ = json.Unmarshal(raw, &out.body)
	return out
}

func bearer(tok string) []string { return []string{"Authorization", "Bearer " + tok} }

// expect checks status and, for errors, the API error code.
func expect(t testing.TB, r response, status int, code string) {
	t.Helper()
	if r.status != status {
		t.Fatalf("status = %d, want %d; body %s", r.status, status, r.raw)
	}
	if code != "" && r.str("error") != code {
		t.Fatalf("error = %q, want %q; body %s", r.str("error"), code, r.raw)
	}
	if code != "" && r.str("message") == "" {
		t.Fatalf("error without a message: %s", r.raw)
	}
}

// loginToken logs in with mode token and returns the access and refresh tokens.
func (h *harness) loginToken(user, pw string) (access, refresh string) {
	h.t.Helper()
	r := h.do("POST", "/api/login", map[string]string{"username": user, "password": pw, "mode": "token"})
	expect(h.t, r, 200, "")
	return r.str("access_token"), r.str("refresh_token")
}

// loginSession logs in with mode session and returns the session cookie header value.
func (h *harness) loginSession(user, pw string, hdr ...string) string {
	h.t.Helper()
	r := h.do("POST", "/api/login", map[string]string{"username": user, "password": pw, "mode": "session"}, hdr...)
	expect(h.t, r, 200, "")
	for _, c := range (&http.Response{Header: r.header}).Cookies() {
		if c.Name == h.server.CookieName() {
			return c.Name + "=" + c.Value
		}
	}
	h.t.Fatalf("login set no session cookie: %v", r.header)
	return ""
}

func cookie(c string) []string { return []string{"Cookie", c} }

// addUser creates a user directly through the account service.
func (h *harness) addUser(name string, role gatehouse.Role) *gatehouse.User {
	h.t.Helper()
	u, err := h.acct.Create(context.Background(), account.NewUser{Username: name, Password: testPassword, Role: role, Name: strings.ToUpper(name), Email: name + "@example.com"})
	if err != nil {
		h.t.Fatal(err)
	}
	return u
}
