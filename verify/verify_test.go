package verify_test

import (
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse"
	"github.com/gatehouse-auth/gatehouse/internal/testkit"
	"github.com/gatehouse-auth/gatehouse/verify"
	"github.com/golang-jwt/jwt/v5"
)

func newVerifier(t testing.TB, g *gatehouseServer, edit func(*verify.Config)) *verify.Verifier {
	t.Helper()
	cfg := verify.Config{Issuer: g.srv.URL, Audience: audience, Now: g.clock.Now, Logger: quiet}
	if edit != nil {
		edit(&cfg)
	}
	v, err := verify.New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { v.Close() })
	return v
}

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

func following(failOpen bool) func(*verify.Config) {
	return func(c *verify.Config) {
		c.Revocations = &verify.RevocationConfig{ClientID: "resource-server", ClientSecret: clientSecret, FailOpen: failOpen}
	}
}

// protected is a handler chain of a service: the Verifier's middleware, a role check, and a
// handler that answers with the token's subject and role.
func protected(v *verify.Verifier, role gatehouse.Role) http.Handler {
	return v.Middleware(verify.RequireRole(role)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t, ok := verify.FromContext(r.Context())
		if !ok {
			http.Error(w, "no token in context", 500)
			return
		}
		json.NewEncoder(w).Encode(map[string]string{"sub": t.UserID, "role": string(t.Role), "username": t.Username})
	})))
}

// serveTo calls h with the Authorization header value authz ("" for none).
func serveTo(h http.Handler, authz string) (int, map[string]any, http.Header) {
	req := httptest.NewRequest("GET", "/thing", nil)
	if authz != "" {
		req.Header.Set("Authorization", authz)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	var out map[string]any
	_ = json.Unmarshal(rec.Body.Bytes(), &out)
	return rec.Code, out, rec.Header()
}

func TestMiddleware(t *testing.T) {
	for _, alg := range []string{"EdDSA", "ES256"} {
		t.Run(alg, func(t *testing.T) {
			clk := newClock()
			g := newGatehouse(t, alg, clk)
			u := g.addUser("alice", gatehouse.RoleUser)
			v := newVerifier(t, g, nil)
			if algs := v.Algorithms(); len(algs) != 1 || algs[0] != alg {
				t.Fatalf("algorithms from discovery = %v", algs)
			}
			if v.JWKSURL() != g.srv.URL+"/.well-known/jwks.json" {
				t.Fatalf("JWKS URL = %s", v.JWKSURL())
			}
			userTok, adminTok := g.login("alice", password), g.login("admin", password+" admin")
			userOnly, adminOnly := protected(v, gatehouse.RoleUser), protected(v, gatehouse.RoleAdmin)

			status, out, _ := serveTo(userOnly, "Bearer "+userTok)
			if status != 200 || out["sub"] != u.ID || out["role"] != "user" || out["username"] != "alice" {
				t.Fatalf("user token: %d %v", status, out)
			}
			if status, _, _ := serveTo(adminOnly, "Bearer "+adminTok); status != 200 {
				t.Fatalf("admin token on admin route: %d", status)
			}
			if status, _, _ := serveTo(userOnly, "bearer   "+adminTok); status != 200 {
				t.Fatalf("admin on user route, lower-case scheme: %d", status)
			}
			for _, c := range []struct {
				h      http.Handler
				authz  string
				status int
				code   string
			}{
				{adminOnly, "Bearer " + userTok, 403, "forbidden"},
				{userOnly, "", 401, "token_missing"},
				{userOnly, "Basic abc", 401, "invalid_token"},
				{userOnly, "Bearer a b", 401, "invalid_token"},
				{userOnly, "Bearer garbage", 401, "invalid_token"},
				{userOnly, "Bearer " + userTok + "x", 401, "invalid_token"},
				{userOnly, "Bearer " + strings.Repeat("a", 9000), 413, "too_large"},
			} {
				status, out, hdr := serveTo(c.h, c.authz)
				if status != c.status || out["error"] != c.code || out["message"] == "" {
					t.Errorf("%.30q: %d %v, want %d %s", c.authz, status, out, c.status, c.code)
				}
				if status == 401 && hdr.Get("WWW-Authenticate") == "" {
					t.Errorf("%.30q: 401 without WWW-Authenticate", c.authz)
				}
			}
			// Handler passes the token as an argument and answers errors alike.
			byArg := v.Handler(func(w http.ResponseWriter, r *http.Request, tok *gatehouse.Token) {
				json.NewEncoder(w).Encode(map[string]string{"sub": tok.UserID})
			})
			if status, out, _ := serveTo(byArg, "Bearer "+userTok); status != 200 || out["sub"] != u.ID {
				t.Fatalf("Handler: %d %v", status, out)
			}
			if status, out, _ := serveTo(byArg, "Bearer garbage"); status != 401 || out["error"] != "invalid_token" {
				t.Fatalf("Handler, bad token: %d %v", status, out)
			}
			// RequireRole without the middleware in front: nobody gets through.
			if status, out, _ := serveTo(verify.RequireRole(gatehouse.RoleUser)(http.NotFoundHandler()), "Bearer "+userTok); status != 401 || out["error"] != "token_missing" {
				t.Fatalf("RequireRole alone: %d %v", status, out)
			}
			// Expiry uses the injected clock and the same leeway as the server.
			clk.Advance(15*time.Minute + 29*time.Second)
			if status, _, _ := serveTo(userOnly, "Bearer "+userTok); status != 200 {
				t.Fatalf("within the leeway: %d", status)
			}
			clk.Advance(time.Second)
			if status, out, _ := serveTo(userOnly, "Bearer "+userTok); status != 401 || out["error"] != "token_expired" {
				t.Fatalf("expired: %d %v", status, out)
			}
		})
	}
}

// TestSameDecisionsAsTheServer sends crafted tokens to gatehouse's /api/protected and to a
// service using the SDK: both must decide alike (status and error code).
func TestSameDecisionsAsTheServer(t *testing.T) {
	clk := newClock()
	g := newGatehouse(t, "EdDSA", clk)
	v := newVerifier(t, g, nil)
	svc := protected(v, gatehouse.RoleUser)
	good := g.login("admin", password+" admin")
	parts := strings.Split(good, ".")
	header := decode(t, parts[0])
	claims := decode(t, parts[1])
	with := func(seg int, key string, val any) string {
		m := map[string]any{}
		for k, v := range []map[string]any{header, claims}[seg] {
			m[k] = v
		}
		if val == nil {
			delete(m, key)
		} else {
			m[key] = val
		}
		p := append([]string(nil), parts...)
		p[seg] = encode(t, m)
		return strings.Join(p, ".")
	}
	cases := map[string]string{
		"valid":             good,
		"alg none":          encode(t, map[string]any{"alg": "none", "typ": "at+jwt", "kid": header["kid"]}) + "." + parts[1] + ".",
		"alg HS256":         with(0, "alg", "HS256"),
		"alg ES256":         with(0, "alg", "ES256"),
		"typ JWT":           with(0, "typ", "JWT"),
		"no typ":            with(0, "typ", nil),
		"no kid":            with(0, "kid", nil),
		"unknown kid":       with(0, "kid", "nope"),
		"jku header":        with(0, "jku", "http://attacker.example/jwks.json"),
		"crit header":       with(0, "crit", []string{"exp"}),
		"wrong iss":         with(1, "iss", "http://elsewhere"),
		"wrong aud":         with(1, "aud", "other"),
		"no exp":            with(1, "exp", nil),
		"role root":         with(1, "role", "root"),
		"two dots only":     "a.b",
		"bad base64":        "!!!." + parts[1] + "." + parts[2],
		"signature removed": parts[0] + "." + parts[1] + ".",
		"oversized":         strings.Repeat("a", 8193),
	}
	for name, tok := range cases {
		sStatus, sOut := g.call("GET", "/api/protected", "", auth(tok)...)
		vStatus, vOut, _ := serveTo(svc, "Bearer "+tok)
		if sStatus != vStatus || sOut["error"] != vOut["error"] {
			t.Errorf("%s: server %d %v, SDK %d %v", name, sStatus, sOut["error"], vStatus, vOut["error"])
		}
		if name != "valid" && vStatus == 200 {
			t.Errorf("%s: accepted", name)
		}
	}
}

func decode(t *testing.T, seg string) map[string]any {
	raw, err := base64.RawURLEncoding.DecodeString(seg)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func encode(t *testing.T, m map[string]any) string {
	raw, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return base64.RawURLEncoding.EncodeToString(raw)
}

// TestKeyRotationAtGatehouse: after a rotation the SDK refetches the keys on the new kid.
func TestKeyRotationAtGatehouse(t *testing.T) {
	clk := newClock()
	g := newGatehouse(t, "EdDSA", clk)
	v := newVerifier(t, g, nil)
	old := g.login("admin", password+" admin")
	if _, err := g.keys.Rotate(); err != nil {
		t.Fatal(err)
	}
	fresh := g.login("admin", password+" admin")
	for _, tok := range []string{fresh, old} {
		if _, err := v.Verify(tok); err != nil {
			t.Fatalf("after rotation: %v", err)
		}
	}
}

func TestRevocationsFollowed(t *testing.T) {
	clk := newClock()
	g := newGatehouse(t, "EdDSA", clk)
	u := g.addUser("bob", gatehouse.RoleUser)
	// Revoked before the service starts: the stream's snapshot carries it.
	early := g.login("bob", password)
	if status, _ := g.call("POST", "/api/logout", "", auth(early)...); status != 204 {
		t.Fatal("logout failed")
	}
	v := newVerifier(t, g, following(false))
	testkit.Eventually(t, 5*time.Second, "the snapshot", func() bool { _, err := v.Verify(early); return errors.Is(err, verify.ErrTokenRevoked) })

	// Revoked by jti while the service runs.
	tok := g.login("bob", password)
	if _, err := v.Verify(tok); err != nil {
		t.Fatalf("live token: %v", err)
	}
	g.call("POST", "/api/logout", "", auth(tok)...)
	testkit.Eventually(t, 5*time.Second, "the jti revocation", func() bool { _, err := v.Verify(tok); return errors.Is(err, verify.ErrTokenRevoked) })
	status, out, _ := serveTo(protected(v, gatehouse.RoleUser), "Bearer "+tok)
	if status != 401 || out["error"] != "invalid_token" || out["message"] != "the token has been revoked" {
		t.Fatalf("revoked token through the middleware: %d %v", status, out)
	}

	// Revoked by its refresh family: the reuse of a rotated refresh token is detected, and the
	// access tokens issued from that family (at login and with the rotation) are rejected too.
	var out2 map[string]any
	status, out2 = g.call("POST", "/api/login", `{"username":"bob","password":"`+password+`"}`)
	if status != 200 {
		t.Fatalf("login: %d %v", status, out2)
	}
	first, r0 := out2["access_token"].(string), out2["refresh_token"].(string)
	status, out2 = g.call("POST", "/api/token/refresh", `{"refresh_token":"`+r0+`"}`)
	if status != 200 {
		t.Fatalf("refresh: %d %v", status, out2)
	}
	rotated := out2["access_token"].(string)
	if _, err := v.Verify(rotated); err != nil {
		t.Fatalf("live rotated token: %v", err)
	}
	if status, _ := g.call("POST", "/api/token/refresh", `{"refresh_token":"`+r0+`"}`); status != 401 {
		t.Fatalf("reuse answered %d", status)
	}
	testkit.Eventually(t, 5*time.Second, "the family revocation", func() bool {
		_, e1 := v.Verify(first)
		_, e2 := v.Verify(rotated)
		return errors.Is(e1, verify.ErrTokenRevoked) && errors.Is(e2, verify.ErrTokenRevoked)
	})

	// Revoked by the user's not-before time (an admin logs bob out everywhere).
	t1, t2 := g.login("bob", password), g.login("bob", password)
	admin := g.login("admin", password+" admin")
	if status, _ := g.call("DELETE", "/api/admin/users/"+u.ID+"/sessions", "", auth(admin)...); status != 204 {
		t.Fatal("admin revoke failed")
	}
	testkit.Eventually(t, 5*time.Second, "the not-before time", func() bool {
		_, e1 := v.Verify(t1)
		_, e2 := v.Verify(t2)
		return errors.Is(e1, verify.ErrTokenRevoked) && errors.Is(e2, verify.ErrTokenRevoked)
	})
	clk.Advance(time.Millisecond)
	after := g.login("bob", password)
	if _, err := v.Verify(after); err != nil {
		t.Fatalf("a login after the revocation: %v", err)
	}
	if _, err := v.Verify(admin); err != nil {
		t.Fatalf("another user's token: %v", err)
	}
}

// TestRevocationsFailClosed: when the stream has been down for longer than MaxStaleness, the
// SDK rejects every token with 503 (or, with FailOpen, keeps its last view), and recovers when
// the stream is back.
func TestRevocationsFailClosed(t *testing.T) {
	for _, failOpen := range []bool{false, true} {
		clk := newClock()
		g := newGatehouse(t, "EdDSA", clk)
		v := newVerifier(t, g, following(failOpen))
		tok := g.login("admin", password+" admin")
		testkit.Eventually(t, 5*time.Second, "the snapshot", func() bool { _, err := v.Verify(tok); return err == nil })

		g.setStreamDown(true)
		clk.Advance(verify.DefaultMaxStaleness - time.Second)
		if _, err := v.Verify(tok); err != nil {
			t.Fatalf("within MaxStaleness: %v", err)
		}
		clk.Advance(2 * time.Second)
		_, err := v.Verify(tok)
		if failOpen {
			if err != nil {
				t.Fatalf("fail-open: %v", err)
			}
			continue
		}
		if !errors.Is(err, verify.ErrRevocationsStale) {
			t.Fatalf("stale, fail-closed: %v", err)
		}
		status, out, hdr := serveTo(protected(v, gatehouse.RoleUser), "Bearer "+tok)
		if status != 503 || out["error"] != "unavailable" || hdr.Get("Retry-After") == "" {
			t.Fatalf("stale through the middleware: %d %v", status, out)
		}
		g.setStreamDown(false)
		testkit.Eventually(t, 5*time.Second, "the stream to come back", func() bool { _, err := v.Verify(tok); return err == nil })
	}
}

func TestRevocationStreamRefusesBadCredentials(t *testing.T) {
	clk := newClock()
	g := newGatehouse(t, "EdDSA", clk)
	v := newVerifier(t, g, func(c *verify.Config) {
		c.Revocations = &verify.RevocationConfig{ClientID: "resource-server", ClientSecret: "wrong"}
	})
	tok := g.login("admin", password+" admin")
	// Never synced: stale from the start, so every token is refused.
	if _, err := v.Verify(tok); !errors.Is(err, verify.ErrRevocationsStale) {
		t.Fatalf("err = %v", err)
	}
	// An admin's bearer token through Authorize works instead.
	v2 := newVerifier(t, g, func(c *verify.Config) {
		c.Revocations = &verify.RevocationConfig{Authorize: func(r *http.Request) error {
			r.Header.Set("Authorization", "Bearer "+tok)
			return nil
		}}
	})
	testkit.Eventually(t, 5*time.Second, "the stream with a bearer token", func() bool { _, err := v2.Verify(tok); return err == nil })
}

func TestConfigErrors(t *testing.T) {
	clk := newClock()
	g := newGatehouse(t, "EdDSA", clk)
	ctx := context.Background()
	for name, cfg := range map[string]verify.Config{
		"no issuer":         {Audience: audience},
		"no audience":       {Issuer: g.srv.URL},
		"HS256":             {Issuer: g.srv.URL, Audience: audience, Algorithms: []string{"HS256"}},
		"none":              {Issuer: g.srv.URL, Audience: audience, Algorithms: []string{"none"}},
		"issuer mismatch":   {Issuer: g.srv.URL + "/", Audience: audience},
		"no discovery":      {Issuer: "http://127.0.0.1:1", Audience: audience},
		"JWKS unreachable":  {Issuer: g.srv.URL, Audience: audience, JWKSURL: g.srv.URL + "/nope"},
		"stream URL needed": {Issuer: g.srv.URL, Audience: audience, JWKSURL: g.srv.URL + "/.well-known/jwks.json", Revocations: &verify.RevocationConfig{}},
	} {
		if v, err := verify.New(ctx, cfg); err == nil {
			v.Close()
			t.Errorf("%s: accepted", name)
		}
	}
	// Without discovery: the JWKS URL and EdDSA by default.
	v, err := verify.New(ctx, verify.Config{Issuer: g.srv.URL, Audience: audience, JWKSURL: g.srv.URL + "/.well-known/jwks.json", Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	if _, err := v.Verify(g.login("admin", password+" admin")); err != nil {
		t.Fatalf("without discovery: %v", err)
	}
}

// TestNumericDatesMustBeNumbers: a token signed with gatehouse's own key whose exp, nbf or iat
// is a JSON string holding a number is refused by the SDK as by the server (RFC 7519: a
// NumericDate is a JSON number; the JWT library alone would read the string).
func TestNumericDatesMustBeNumbers(t *testing.T) {
	clk := newClock()
	g := newGatehouse(t, "EdDSA", clk)
	v := newVerifier(t, g, nil)
	good := g.login("admin", password+" admin")
	parts := strings.Split(good, ".")
	claims := decode(t, parts[1])
	priv := signingKeyOf(t, g)
	sign := func(c map[string]any) string {
		input := parts[0] + "." + encode(t, c)
		sig, err := jwt.SigningMethodEdDSA.Sign(input, priv)
		if err != nil {
			t.Fatal(err)
		}
		return input + "." + base64.RawURLEncoding.EncodeToString(sig)
	}
	if _, err := v.Verify(sign(claims)); err != nil {
		t.Fatalf("the same claims signed again: %v", err)
	}
	for _, claim := range []string{"exp", "nbf", "iat"} {
		c := map[string]any{}
		for k, val := range claims {
			c[k] = val
		}
		c[claim] = strconv.FormatFloat(claims[claim].(float64), 'f', -1, 64)
		tok := sign(c)
		if _, err := v.Verify(tok); gatehouse.ErrorCode(err) != gatehouse.EINVALIDTOKEN {
			t.Errorf("SDK, %s as a string: err = %v, want invalid_token", claim, err)
		}
		if status, out := g.call("GET", "/api/protected", "", auth(tok)...); status != 401 || out["error"] != "invalid_token" {
			t.Errorf("server, %s as a string: %d %v", claim, status, out)
		}
	}
}

// signingKeyOf reads the Ed25519 signing key from gatehouse's key file.
func signingKeyOf(t *testing.T, g *gatehouseServer) ed25519.PrivateKey {
	t.Helper()
	raw, err := os.ReadFile(g.keys.Path())
	if err != nil {
		t.Fatal(err)
	}
	var f struct {
		Keys []struct{ Key string } `json:"keys"`
	}
	if err := json.Unmarshal(raw, &f); err != nil || len(f.Keys) != 1 {
		t.Fatalf("key file: %v", err)
	}
	seed, err := base64.RawURLEncoding.DecodeString(f.Keys[0].Key)
	if err != nil {
		t.Fatal(err)
	}
	return ed25519.NewKeyFromSeed(seed)
}
