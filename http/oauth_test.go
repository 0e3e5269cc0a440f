package http_test

import (
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse"
	"github.com/gatehouse-auth/gatehouse/authn"
	ghttp "github.com/gatehouse-auth/gatehouse/http"
)

const introspectionSecret = "a resource server secret of 32+ bytes"

// oauthHarness is a harness whose introspection client secret is configured.
func oauthHarness(t *testing.T) *harness {
	return newHarness(t, options{configure: func(_ *authn.Deps, c *ghttp.Config) {
		c.IntrospectionSecret = introspectionSecret
	}})
}

func basicAuth(id, secret string) []string {
	return []string{"Authorization", "Basic " + base64.StdEncoding.EncodeToString([]byte(id+":"+secret))}
}

var clientAuth = basicAuth(ghttp.DefaultIntrospectionClientID, introspectionSecret)

// postForm sends a form-encoded POST; hdr are extra header pairs (a Content-Type among them
// replaces the form's).
func (h *harness) postForm(path string, form url.Values, hdr ...string) response {
	h.t.Helper()
	req, err := http.NewRequest("POST", h.srv.URL+path, strings.NewReader(form.Encode()))
	if err != nil {
		h.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
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

func (h *harness) introspect(tok string, auth []string) response {
	h.t.Helper()
	return h.postForm("/oauth2/introspect", url.Values{"token": {tok}}, auth...)
}

// expectOAuth checks an OAuth error answer.
func expectOAuth(t *testing.T, r response, status int, code string) {
	t.Helper()
	if r.status != status || r.str("error") != code {
		t.Fatalf("got %d %s, want %d %q", r.status, r.raw, status, code)
	}
	if r.header.Get("Cache-Control") != "no-store" {
		t.Fatalf("OAuth error without Cache-Control: no-store: %v", r.header)
	}
}

// expectInactive checks that the answer is exactly {"active": false}.
func expectInactive(t *testing.T, r response) {
	t.Helper()
	if r.status != 200 || strings.TrimSpace(r.raw) != `{"active":false}` {
		t.Fatalf("got %d %s, want exactly {\"active\":false}", r.status, r.raw)
	}
}

func TestIntrospectionNeedsAuthentication(t *testing.T) {
	h := oauthHarness(t)
	h.addUser("bob", gatehouse.RoleUser)
	userTok, _ := h.loginToken("bob", testPassword)
	adminTok, _ := h.loginToken("admin", h.adminPW)

	r := h.introspect(userTok, nil)
	expectOAuth(t, r, 401, "invalid_client")
	if len(r.header.Values("WWW-Authenticate")) == 0 {
		t.Fatal("401 without WWW-Authenticate")
	}
	for _, auth := range [][]string{
		basicAuth(ghttp.DefaultIntrospectionClientID, introspectionSecret+"x"),
		basicAuth(ghttp.DefaultIntrospectionClientID, ""),
		basicAuth("someone-else", introspectionSecret),
		{"Authorization", "Digest abc"},
	} {
		expectOAuth(t, h.introspect(userTok, auth), 401, "invalid_client")
	}
	expectOAuth(t, h.introspect(userTok, bearer("not.a.token")), 401, "invalid_token")
	r = h.introspect(userTok, bearer(userTok))
	expectOAuth(t, r, 403, "insufficient_scope")

	if r := h.introspect(userTok, clientAuth); r.status != 200 || r.body["active"] != true {
		t.Fatalf("client secret: %d %s", r.status, r.raw)
	}
	// RFC 6749 form-encodes the credentials inside the Basic header.
	encoded := basicAuth(url.QueryEscape(ghttp.DefaultIntrospectionClientID), url.QueryEscape(introspectionSecret))
	if r := h.introspect(userTok, encoded); r.status != 200 || r.body["active"] != true {
		t.Fatalf("form-encoded client secret: %d %s", r.status, r.raw)
	}
	if r := h.introspect(userTok, bearer(adminTok)); r.status != 200 || r.body["active"] != true {
		t.Fatalf("admin bearer: %d %s", r.status, r.raw)
	}
	// A revoked admin token no longer authenticates.
	expect(t, h.do("POST", "/api/logout", nil, bearer(adminTok)...), 204, "")
	expectOAuth(t, h.introspect(userTok, bearer(adminTok)), 401, "invalid_token")

	// Without a configured secret, Basic never works.
	plain := newHarness(t, options{})
	expectOAuth(t, plain.introspect("x", basicAuth(ghttp.DefaultIntrospectionClientID, "")), 401, "invalid_client")
	d := h.do("GET", "/.well-known/openid-configuration", nil)
	if m, _ := d.body["introspection_endpoint_auth_methods_supported"].([]any); len(m) != 1 || m[0] != "client_secret_basic" {
		t.Fatalf("discovery auth methods: %s", d.raw)
	}
}

func TestIntrospectionAnswers(t *testing.T) {
	h := oauthHarness(t)
	u := h.addUser("carol", gatehouse.RoleUser)
	access, refresh := h.loginToken("carol", testPassword)

	r := h.introspect(access, clientAuth)
	if r.status != 200 {
		t.Fatalf("introspect: %d %s", r.status, r.raw)
	}
	for k, v := range map[string]any{
		"active": true, "sub": u.ID, "username": "carol", "role": "user", "iss": "http://gatehouse.test",
		"aud": "gatehouse", "token_type": "Bearer", "token_use": "access_token", "email": "carol@example.com",
	} {
		if r.body[k] != v {
			t.Errorf("%s = %v, want %v", k, r.body[k], v)
		}
	}
	for _, k := range []string{"exp", "iat"} {
		if f, ok := r.body[k].(float64); !ok || f != float64(int64(f)) || f < 1e9 {
			t.Errorf("%s = %v: want whole seconds", k, r.body[k])
		}
	}
	if r.str("jti") == "" || r.str("sid") == "" {
		t.Errorf("jti/sid missing: %s", r.raw)
	}
	if r.header.Get("Cache-Control") != "no-store" {
		t.Error("introspection answer may be cached")
	}

	// Dead things are exactly {"active": false}.
	expectInactive(t, h.introspect(refresh, clientAuth))
	expectInactive(t, h.introspect("garbage", clientAuth))
	expectInactive(t, h.introspect("a.b.c", clientAuth))
	expectInactive(t, h.introspect(access+"x", clientAuth))
	expectInactive(t, h.introspect(strings.Repeat("a", 9000)+".b.c", clientAuth))

	// Revoked by jti.
	expect(t, h.do("POST", "/api/logout", nil, bearer(access)...), 204, "")
	expectInactive(t, h.introspect(access, clientAuth))

	// Revoked by the user's not-before time.
	access2, _ := h.loginToken("carol", testPassword)
	if r := h.introspect(access2, clientAuth); r.body["active"] != true {
		t.Fatalf("fresh token inactive: %s", r.raw)
	}
	expect(t, h.do("POST", "/api/logout-all", nil, bearer(access2)...), 204, "")
	expectInactive(t, h.introspect(access2, clientAuth))

	// Expired (past exp plus the clock-skew leeway).
	access3, _ := h.loginToken("carol", testPassword)
	h.clock.Advance(15*time.Minute + 31*time.Second)
	expectInactive(t, h.introspect(access3, clientAuth))
}

func TestOAuthMalformedRequests(t *testing.T) {
	h := oauthHarness(t)
	access, _ := h.loginToken("admin", h.adminPW)
	for _, path := range []string{"/oauth2/introspect", "/oauth2/revoke"} {
		expectOAuth(t, h.postForm(path, url.Values{}, clientAuth...), 400, "invalid_request")
		expectOAuth(t, h.postForm(path, url.Values{"token": {""}}, clientAuth...), 400, "invalid_request")
		expectOAuth(t, h.postForm(path, url.Values{"token": {access, access}}, clientAuth...), 400, "invalid_request")
		expectOAuth(t, h.postForm(path, url.Values{"token": {access}}, append([]string{"Content-Type", "application/json"}, clientAuth...)...), 400, "invalid_request")
		expectOAuth(t, h.postForm(path, url.Values{"token": {strings.Repeat("a", 70<<10)}}, clientAuth...), 413, "invalid_request")
		r := h.do("GET", path, nil)
		expect(t, r, 405, "bad_request")
		if !strings.Contains(r.header.Get("Allow"), "POST") {
			t.Errorf("405 Allow = %q", r.header.Get("Allow"))
		}
	}
	// The token still works: no malformed request revoked it.
	expect(t, h.do("GET", "/api/protected", nil, bearer(access)...), 200, "")
}

func TestRevokeEndpoint(t *testing.T) {
	h := oauthHarness(t)
	h.addUser("dave", gatehouse.RoleUser)

	// Unknown, malformed or foreign tokens: 200 and nothing happens.
	for _, tok := range []string{"unknown", gatehouse.NewSecret(), "a.b.c", strings.Repeat("x", 9000)} {
		r := h.postForm("/oauth2/revoke", url.Values{"token": {tok}, "token_type_hint": {"refresh_token"}})
		if r.status != 200 {
			t.Fatalf("revoke %.20q: %d %s", tok, r.status, r.raw)
		}
	}

	// An access token: denied by jti, and its refresh family dies with it.
	access, refresh := h.loginToken("dave", testPassword)
	if r := h.postForm("/oauth2/revoke", url.Values{"token": {access}, "token_type_hint": {"access_token"}}); r.status != 200 || r.header.Get("Cache-Control") != "no-store" {
		t.Fatalf("revoke access: %d %v", r.status, r.header)
	}
	expect(t, h.do("GET", "/api/protected", nil, bearer(access)...), 401, "invalid_token")
	expect(t, h.do("POST", "/api/token/refresh", map[string]string{"refresh_token": refresh}), 401, "invalid_token")

	// A refresh token: its family dies, whatever the hint says.
	access, refresh = h.loginToken("dave", testPassword)
	rotated := h.do("POST", "/api/token/refresh", map[string]string{"refresh_token": refresh})
	expect(t, rotated, 200, "")
	if r := h.postForm("/oauth2/revoke", url.Values{"token": {rotated.str("refresh_token")}, "token_type_hint": {"access_token"}}); r.status != 200 {
		t.Fatalf("revoke refresh: %d %s", r.status, r.raw)
	}
	expect(t, h.do("POST", "/api/token/refresh", map[string]string{"refresh_token": rotated.str("refresh_token")}), 401, "invalid_token")
	// Revoking the refresh token also denies every access token issued from its family (RFC
	// 7009 leaves it open; we close it): the first and the rotated one, and introspection agrees.
	expect(t, h.do("GET", "/api/protected", nil, bearer(access)...), 401, "invalid_token")
	expect(t, h.do("GET", "/api/protected", nil, bearer(rotated.str("access_token"))...), 401, "invalid_token")
	if r := h.introspect(rotated.str("access_token"), clientAuth); r.status != 200 || r.body["active"] != false {
		t.Fatalf("introspection of a token of a revoked family: %d %s", r.status, r.raw)
	}

	// A store that is down: 503, never a silent success.
	access, _ = h.loginToken("dave", testPassword)
	h.db.Close()
	expectOAuth(t, h.postForm("/oauth2/revoke", url.Values{"token": {access}}), 503, "temporarily_unavailable")
}

func TestOAuthTokenEndpoint(t *testing.T) {
	h := oauthHarness(t)
	_, refresh := h.loginToken("admin", h.adminPW)

	r := h.postForm("/oauth2/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {refresh}})
	if r.status != 200 || r.str("token_type") != "Bearer" || r.str("access_token") == "" || r.str("refresh_token") == "" || r.body["expires_in"] != 900.0 {
		t.Fatalf("refresh grant: %d %s", r.status, r.raw)
	}
	if r.header.Get("Cache-Control") != "no-store" || r.header.Get("Pragma") != "no-cache" {
		t.Fatalf("token response may be cached: %v", r.header)
	}
	expect(t, h.do("GET", "/api/protected", nil, bearer(r.str("access_token"))...), 200, "")

	// Reusing the rotated token kills the family.
	expectOAuth(t, h.postForm("/oauth2/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {refresh}}), 400, "invalid_grant")
	expectOAuth(t, h.postForm("/oauth2/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {r.str("refresh_token")}}), 400, "invalid_grant")

	_, refresh = h.loginToken("admin", h.adminPW)
	for _, c := range []struct {
		form url.Values
		code string
	}{
		{url.Values{"refresh_token": {refresh}}, "invalid_request"},
		{url.Values{"grant_type": {"password"}, "username": {"admin"}}, "unsupported_grant_type"},
		{url.Values{"grant_type": {"refresh_token"}}, "invalid_request"},
		{url.Values{"grant_type": {"refresh_token"}, "refresh_token": {refresh}, "scope": {"admin"}}, "invalid_scope"},
		{url.Values{"grant_type": {"refresh_token"}, "refresh_token": {"garbage"}}, "invalid_grant"},
	} {
		expectOAuth(t, h.postForm("/oauth2/token", c.form), 400, c.code)
	}
	// None of those spent the refresh token.
	if r := h.postForm("/oauth2/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {refresh}}); r.status != 200 {
		t.Fatalf("refresh after bad requests: %d %s", r.status, r.raw)
	}
}
