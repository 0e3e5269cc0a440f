package http_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/gatehouse-auth/gatehouse"
)

// send sends body with exactly the Content-Type given ("" for none) and the header pairs hdr.
func (h *harness) send(method, path, contentType, body string, hdr ...string) response {
	h.t.Helper()
	req, err := http.NewRequest(method, h.srv.URL+path, strings.NewReader(body))
	if err != nil {
		h.t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	out := response{status: resp.StatusCode, header: resp.Header, raw: string(raw)}
	_ = json.Unmarshal(raw, &out.body)
	return out
}

// TestJSONRoutesRequireJSON: every route that reads a JSON body answers 415
// unsupported_media_type, with the standard error body, to a body sent as text/plain, as a
// form, as multipart, without a Content-Type or in another charset, and changes nothing;
// application/json with or without charset=utf-8 is read. The OAuth endpoints stay
// form-encoded, as their RFCs require.
func TestJSONRoutesRequireJSON(t *testing.T) {
	h := newHarness(t, options{registration: true})
	admin, _ := h.loginToken("admin", h.adminPW)
	bob := h.addUser("bob", gatehouse.RoleUser)
	bobAccess, _ := h.loginToken("bob", testPassword)
	routes := []struct {
		method, path, body string
		hdr                []string
	}{
		{"POST", "/api/register", `{"username":"mallory","password":"mallory's long passphrase"}`, nil},
		{"POST", "/api/login", `{"username":"admin","password":"` + h.adminPW + `"}`, nil},
		{"POST", "/api/token/refresh", `{"refresh_token":"x"}`, nil},
		{"POST", "/api/admin/users", `{"username":"mallory","password":"mallory's long passphrase","role":"admin"}`, bearer(admin)},
		{"PATCH", "/api/admin/users/" + bob.ID, `{"role":"admin"}`, bearer(admin)},
		{"POST", "/api/me/password", `{"current_password":"` + testPassword + `","new_password":"bob's brand new passphrase"}`, bearer(bobAccess)},
	}
	for _, rt := range routes {
		for _, ct := range []string{"", "text/plain", "text/plain; charset=utf-8", "application/x-www-form-urlencoded",
			"multipart/form-data; boundary=x", "application/json; charset=iso-8859-1", "application/jsonx", "json"} {
			r := h.send(rt.method, rt.path, ct, rt.body, rt.hdr...)
			expect(t, r, 415, "unsupported_media_type")
			if len(r.body) != 2 {
				t.Fatalf("%s %s as %q: not the standard error body: %s", rt.method, rt.path, ct, r.raw)
			}
		}
	}
	// Nothing above changed anything.
	if _, err := h.users.UserByUsername(t.Context(), "mallory"); err == nil {
		t.Fatal("a refused request created a user")
	}
	if u, _ := h.users.UserByID(t.Context(), bob.ID); u.Role != gatehouse.RoleUser {
		t.Fatal("a refused request changed a role")
	}
	expect(t, h.do("GET", "/api/protected", nil, bearer(bobAccess)...), 200, "")

	for _, ct := range []string{"application/json; charset=utf-8", "Application/JSON; charset=UTF-8", "application/json;charset=\"utf-8\""} {
		expect(t, h.send("POST", "/api/login", ct, `{"username":"bob","password":"`+testPassword+`"}`), 200, "")
	}
	// The OAuth endpoints read forms and refuse JSON with their own error format.
	expect(t, h.postForm("/oauth2/revoke", url.Values{"token": {"x"}}), 200, "")
	r := h.send("POST", "/oauth2/token", "application/json", `{"grant_type":"refresh_token","refresh_token":"x"}`)
	if r.status != 400 || r.str("error") != "invalid_request" {
		t.Fatalf("JSON to /oauth2/token: %d %s", r.status, r.raw)
	}
}

// TestCrossSiteFormCannotActThroughACookie: the attack that created an admin user through an
// admin's cookie, from a browser that sends no Sec-Fetch-Site: a page of another origin posts a
// form (or text/plain holding JSON) to the admin API. Its Origin names the same host and port
// with another scheme, which the host comparison of CrossOriginProtection lets through.
func TestCrossSiteFormCannotActThroughACookie(t *testing.T) {
	h := newHarness(t, options{secure: true}) // served to browsers over HTTPS (a TLS proxy in front)
	c := h.loginSession("admin", h.adminPW)
	host := strings.TrimPrefix(h.srv.URL, "http://")
	body := `{"username":"mallory","password":"mallory's long passphrase","role":"admin"}`
	otherScheme := []string{"Origin", "http://" + host}
	for _, ct := range []string{"text/plain", "application/x-www-form-urlencoded", "application/json"} {
		expect(t, h.send("POST", "/api/admin/users", ct, body, append(cookie(c), otherScheme...)...), 403, "forbidden")
	}
	// A form to the body-less routes is refused on its origin alone.
	expect(t, h.send("POST", "/api/logout-all", "application/x-www-form-urlencoded", "", append(cookie(c), otherScheme...)...), 403, "forbidden")
	// Other origins that share the host: another port, null.
	for _, o := range []string{"https://" + strings.Split(host, ":")[0] + ":1", "null", "https://evil.example"} {
		expect(t, h.send("POST", "/api/admin/users", "application/json", body, append(cookie(c), "Origin", o)...), 403, "forbidden")
	}
	// text/plain from the right origin is still refused: only JSON is read.
	expect(t, h.send("POST", "/api/admin/users", "text/plain", body, append(cookie(c), "Origin", "https://"+host)...), 415, "unsupported_media_type")
	if _, err := h.users.UserByUsername(t.Context(), "mallory"); err == nil {
		t.Fatal("a cross-site request created a user")
	}
	// The site's own page (same scheme, host and port) gets through.
	expect(t, h.send("POST", "/api/admin/users", "application/json", body, append(cookie(c), "Origin", "https://"+host)...), 201, "")
	// The web pages' forms apply the same check.
	p := h.send("POST", "/signout", "application/x-www-form-urlencoded", "", append(cookie(c), otherScheme...)...)
	if p.status != 403 {
		t.Fatalf("cross-scheme form to /signout: %d", p.status)
	}
}

// TestOriginSchemeFromTrustedProxy: behind a trusted proxy that says X-Forwarded-Proto, the
// scheme it reports is the one the Origin must have; an untrusted peer's header is ignored.
func TestOriginSchemeFromTrustedProxy(t *testing.T) {
	h := newHarness(t, options{proxies: proxied})
	c := h.loginSession("admin", h.adminPW)
	host := strings.TrimPrefix(h.srv.URL, "http://")
	https := []string{"X-Forwarded-Proto", "https"}
	expect(t, h.send("POST", "/api/logout", "", "", append(append(cookie(c), https...), "Origin", "http://"+host)...), 403, "forbidden")
	expect(t, h.send("POST", "/api/logout", "", "", append(append(cookie(c), https...), "Origin", "https://"+host)...), 204, "")

	plain := newHarness(t, options{})
	c = plain.loginSession("admin", plain.adminPW)
	host = strings.TrimPrefix(plain.srv.URL, "http://")
	expect(t, plain.send("POST", "/api/logout", "", "", append(append(cookie(c), https...), "Origin", "https://"+host)...), 403, "forbidden")
	expect(t, plain.send("POST", "/api/logout", "", "", append(append(cookie(c), https...), "Origin", "http://"+host)...), 204, "")
}
