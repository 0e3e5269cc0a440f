package http_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"regexp"
	"strings"
	"testing"

	"github.com/gatehouse-auth/gatehouse/authn"
	ghttp "github.com/gatehouse-auth/gatehouse/http"
)

// get sends a request outside the API contract's checking client (paths that answer 404 on
// purpose) and returns the status and body.
func get(t *testing.T, method, url string, hdr ...string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Add(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

func adminListener(t *testing.T, h *harness) string {
	admin := httptest.NewServer(h.server.AdminHandler())
	t.Cleanup(admin.Close)
	return admin.URL
}

func TestAdminListenerServesMetricsProbesAndTheAdminAPI(t *testing.T) {
	h := newHarness(t, options{configure: func(_ *authn.Deps, c *ghttp.Config) {
		c.AdminListener, c.AdminAPIOnAdminListener = true, true
	}})
	admin := adminListener(t, h)
	access, _ := h.loginToken("admin", h.adminPW)
	for _, tc := range []struct {
		base, method, path string
		want               int
	}{
		{h.srv.URL, "GET", "/api/admin/users", 404}, // the public listener does not know it
		{h.srv.URL, "DELETE", "/api/admin/sessions/abc", 404},
		{h.srv.URL, "GET", "/api/admin/audit", 404},
		{h.srv.URL, "GET", "/metrics", 404},
		{h.srv.URL, "GET", "/healthz", 200}, // load balancers probe the public port
		{h.srv.URL, "GET", "/readyz", 200},
		{h.srv.URL, "GET", "/api/me", 200},
		{admin, "GET", "/api/admin/users", 200},
		{admin, "GET", "/api/admin/audit", 200},
		{admin, "POST", "/api/admin/users/x", 405},
		{admin, "GET", "/metrics", 200},
		{admin, "GET", "/healthz", 200},
		{admin, "GET", "/readyz", 200},
		{admin, "GET", "/api/me", 404}, // the admin listener serves nothing else
		{admin, "POST", "/api/login", 404},
		{admin, "GET", "/", 404},
	} {
		if got, body := get(t, tc.method, tc.base+tc.path, bearer(access)...); got != tc.want {
			t.Errorf("%s %s on the %s listener: %d, want %d: %s", tc.method, tc.path,
				map[bool]string{true: "admin", false: "public"}[tc.base == admin], got, tc.want, body)
		}
	}
}

func TestAdminListenerWithTheAdminAPIOnBoth(t *testing.T) {
	h := newHarness(t, options{configure: func(_ *authn.Deps, c *ghttp.Config) { c.AdminListener = true }})
	admin := adminListener(t, h)
	access, _ := h.loginToken("admin", h.adminPW)
	for _, tc := range []struct {
		base, path string
		want       int
	}{
		{h.srv.URL, "/api/admin/users", 200}, {h.srv.URL, "/metrics", 404},
		{admin, "/api/admin/users", 404}, {admin, "/metrics", 200},
	} {
		if got, _ := get(t, "GET", tc.base+tc.path, bearer(access)...); got != tc.want {
			t.Errorf("GET %s%s: %d, want %d", tc.base, tc.path, got, tc.want)
		}
	}
}

func TestWithoutAnAdminListenerEverythingIsPublic(t *testing.T) {
	h := newHarness(t, options{})
	access, _ := h.loginToken("admin", h.adminPW)
	for _, path := range []string{"/metrics", "/healthz", "/readyz", "/api/admin/users"} {
		if got, _ := get(t, "GET", h.srv.URL+path, bearer(access)...); got != 200 {
			t.Errorf("GET %s: %d", path, got)
		}
	}
}

// TestDurationHistograms checks the request and login histograms: labelled by route pattern
// and credential kind, never by a raw path.
func TestDurationHistograms(t *testing.T) {
	h := newHarness(t, options{})
	h.addUser("alice", "user")
	access, _ := h.loginToken("alice", testPassword)
	jar := h.loginSession("alice", testPassword)
	h.do("POST", "/api/login", map[string]string{"username": "alice", "password": "wrong password, long enough"})
	expect(t, h.do("GET", "/api/me", nil, bearer(access)...), 200, "")
	expect(t, h.do("GET", "/api/me", nil, cookie(jar)...), 200, "")
	expect(t, h.do("GET", "/api/me", nil), 401, "token_missing")
	get(t, "DELETE", h.srv.URL+"/api/sessions/raw-path-one", bearer(access)...)
	get(t, "DELETE", h.srv.URL+"/api/sessions/raw-path-two", bearer(access)...)
	get(t, "GET", h.srv.URL+"/no/such/raw-path-three")
	get(t, "POST", h.srv.URL+"/oauth2/introspect", "Authorization", "Basic cmVzb3VyY2Utc2VydmVyOng=")
	_, metrics := get(t, "GET", h.srv.URL+"/metrics")
	for _, want := range []string{
		`gatehouse_http_request_duration_seconds_bucket{auth="bearer",route="GET /api/me",le="0.005"}`,
		`gatehouse_http_request_duration_seconds_count{auth="cookie",route="GET /api/me"} 1`,
		`gatehouse_http_request_duration_seconds_count{auth="none",route="GET /api/me"} 1`,
		`gatehouse_http_request_duration_seconds_count{auth="bearer",route="DELETE /api/sessions/{id}"} 2`,
		`gatehouse_http_request_duration_seconds_count{auth="none",route="404"} 1`,
		`gatehouse_http_request_duration_seconds_count{auth="basic",route="POST /oauth2/introspect"} 1`,
		`gatehouse_login_duration_seconds_count{outcome="ok"} 2`,
		`gatehouse_login_duration_seconds_count{outcome="invalid_credentials"} 1`,
		`gatehouse_login_duration_seconds_bucket{outcome="ok",le="10"} 2`,
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	if strings.Contains(metrics, "raw-path") {
		t.Error("a raw path became a label")
	}
	// Every label value of the histogram is a route pattern or a fixed word.
	labels := regexp.MustCompile(`gatehouse_http_request_duration_seconds_count\{auth="([^"]*)",route="([^"]*)"\}`)
	for _, m := range labels.FindAllStringSubmatch(metrics, -1) {
		if !regexp.MustCompile(`^(none|cookie|bearer|basic)$`).MatchString(m[1]) ||
			!regexp.MustCompile(`^(404|405|(GET|POST|PUT|PATCH|DELETE) /[a-z0-9/{}$._-]*)$`).MatchString(m[2]) {
			t.Errorf("unexpected labels %q", m[0])
		}
	}
}

// TestAccessLogHoldsNoSecret drives logins, refreshes, a password change, cookies, bearer and
// basic credentials and secrets in query strings through a server with the access log on, and
// looks for every secret value in the log.
func TestAccessLogHoldsNoSecret(t *testing.T) {
	logs := &lockedBuffer{}
	proxy := netip.MustParsePrefix("127.0.0.0/8")
	h := newHarness(t, options{logs: logs, proxies: []netip.Prefix{proxy}, configure: func(_ *authn.Deps, c *ghttp.Config) {
		c.AccessLog = true
		c.IntrospectionSecret = "introspection-secret-value-of-32-bytes-or-more"
	}})
	alice := h.addUser("alice", "user")
	secrets := []string{testPassword, h.adminPW, "introspection-secret-value-of-32-bytes-or-more", "query-secret-one", "query-secret-two", "query-secret-three"}
	access, refresh := h.loginToken("alice", testPassword)
	r := h.do("POST", "/api/token/refresh", map[string]string{"refresh_token": refresh})
	expect(t, r, 200, "")
	access2, refresh2 := r.str("access_token"), r.str("refresh_token")
	jar := h.loginSession("alice", testPassword)
	secrets = append(secrets, access, refresh, access2, refresh2, jar[strings.Index(jar, "=")+1:])
	expect(t, h.do("GET", "/api/me", nil, bearer(access2)...), 200, "")
	expect(t, h.do("GET", "/api/me", nil, cookie(jar)...), 200, "")
	newPassword := "a new password that is long enough"
	secrets = append(secrets, newPassword)
	r = h.do("POST", "/api/me/password", map[string]string{"current_password": testPassword, "new_password": newPassword}, bearer(access2)...)
	expect(t, r, 200, "")
	secrets = append(secrets, r.str("access_token"), r.str("refresh_token"))
	h.do("POST", "/api/login", map[string]string{"username": "alice", "password": "a wrong password that is long"})
	secrets = append(secrets, "a wrong password that is long")
	get(t, "GET", h.srv.URL+"/reset?token=query-secret-one")
	get(t, "GET", h.srv.URL+"/api/me?access_token=query-secret-two", bearer("not.a.token-but-secret-looking")...)
	get(t, "GET", h.srv.URL+"/?next=/account&token=query-secret-three", "Cookie", h.server.CookieName()+"=cookie-value-sent-by-a-stranger")
	get(t, "POST", h.srv.URL+"/oauth2/introspect", "Authorization", "Basic cmVzb3VyY2Utc2VydmVyOmludHJvc3BlY3Rpb24tc2VjcmV0LXZhbHVlLW9mLTMyLWJ5dGVzLW9yLW1vcmU=",
		"X-Forwarded-For", "203.0.113.7")
	secrets = append(secrets, "not.a.token-but-secret-looking", "cookie-value-sent-by-a-stranger", "cmVzb3VyY2Utc2VydmVyOmludHJvc3BlY3Rpb24tc2VjcmV0LXZhbHVlLW9mLTMyLWJ5dGVzLW9yLW1vcmU=")

	out := logs.String()
	for _, s := range secrets {
		if s != "" && strings.Contains(out, s) {
			t.Errorf("the log holds the secret %q", s)
		}
	}
	lines := regexp.MustCompile(`(?m)^.*msg=request .*$`).FindAllString(out, -1)
	if len(lines) < 10 {
		t.Fatalf("%d access log lines:\n%s", len(lines), out)
	}
	for _, want := range []string{
		`method=GET route="GET /api/me" path=/api/me status=200 duration=`,
		`auth=bearer user=` + alice.ID + ` client_ip=127.0.0.1`,
		`auth=cookie user=` + alice.ID,
		`route=404 path=/reset status=404`,
		`route="GET /{$}" path=/ status=200`,
		`route="POST /oauth2/introspect" path=/oauth2/introspect status=400 duration=`,
		`route="POST /api/login" path=/api/login status=200 duration=`,
		`auth=none user=` + alice.ID,               // a login: the user is known once the password is checked
		`auth=basic user="" client_ip=203.0.113.7`, // through a trusted proxy: the client's address
	} {
		if !strings.Contains(out, want) {
			t.Errorf("the access log lacks %s:\n%s", want, strings.Join(lines, "\n"))
		}
	}
}

func TestAccessLogOff(t *testing.T) {
	logs := &lockedBuffer{}
	h := newHarness(t, options{logs: logs})
	expect(t, h.do("GET", "/healthz", nil), 200, "")
	if strings.Contains(logs.String(), "msg=request") {
		t.Fatalf("an access log line without Config.AccessLog:\n%s", logs)
	}
}
