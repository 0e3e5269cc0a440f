package http_test

import (
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/gatehouse-auth/gatehouse/internal/apispec"
)

// browser is an HTTP client that behaves like a browser on the web pages: a cookie jar, no
// automatic redirects (tests look at them), and the Sec-Fetch-Site header a browser sends.
type browser struct {
	t    testing.TB
	h    *harness
	c    *http.Client
	ua   string
	csrf string // the synchronizer token of the last page that had one
}

func (h *harness) browser(ua string) *browser {
	jar, _ := cookiejar.New(nil)
	c := apispec.Client(h.t) // checks every exchange against docs/openapi.yaml
	c.Jar = jar
	return &browser{t: h.t, h: h, ua: ua, c: c}
}

type page struct {
	status   int
	header   http.Header
	body     string
	location string
}

var csrfField = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

func (b *browser) send(req *http.Request, site string) page {
	b.t.Helper()
	req.Header.Set("User-Agent", b.ua)
	if site != "" {
		req.Header.Set("Sec-Fetch-Site", site)
	}
	resp, err := b.c.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	p := page{status: resp.StatusCode, header: resp.Header, body: string(raw), location: resp.Header.Get("Location")}
	if m := csrfField.FindStringSubmatch(p.body); m != nil {
		b.csrf = m[1]
	}
	if p.status >= 500 && p.status != http.StatusServiceUnavailable {
		b.t.Fatalf("%s %s: status %d; body %s", req.Method, req.URL.Path, p.status, p.body)
	}
	return p
}

func (b *browser) get(path string) page {
	b.t.Helper()
	req, _ := http.NewRequest("GET", b.h.srv.URL+path, nil)
	return b.send(req, "same-origin")
}

// post sends a form as the browser would from one of the site's own pages, with the last
// page's synchronizer token unless form has its own.
func (b *browser) post(path string, form url.Values) page {
	b.t.Helper()
	return b.postFrom("same-origin", path, form)
}

func (b *browser) postFrom(site, path string, form url.Values) page {
	b.t.Helper()
	if form == nil {
		form = url.Values{}
	}
	if _, ok := form["csrf"]; !ok && b.csrf != "" {
		form.Set("csrf", b.csrf)
	}
	req, _ := http.NewRequest("POST", b.h.srv.URL+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return b.send(req, site)
}

// signIn signs in through the form and loads the account page (which sets the token).
func (b *browser) signIn(user, pw string) {
	b.t.Helper()
	p := b.post("/", url.Values{"username": {user}, "password": {pw}})
	if p.status != http.StatusSeeOther || p.location != "/account" {
		b.t.Fatalf("sign in as %s: %d %q; body %s", user, p.status, p.location, p.body)
	}
	if p := b.get("/account"); p.status != 200 {
		b.t.Fatalf("account after sign-in: %d", p.status)
	}
}

func (b *browser) cookieHeader() string {
	u, _ := url.Parse(b.h.srv.URL)
	for _, c := range b.c.Jar.Cookies(u) {
		if c.Name == b.h.server.CookieName() {
			return c.Name + "=" + c.Value
		}
	}
	return ""
}

func expectPage(t testing.TB, p page, status int, contains ...string) {
	t.Helper()
	if p.status != status {
		t.Fatalf("status %d, want %d (location %q); body %s", p.status, status, p.location, p.body)
	}
	for _, c := range contains {
		if !strings.Contains(p.body, c) {
			t.Fatalf("page lacks %q; body %s", c, p.body)
		}
	}
}

func expectRedirect(t testing.TB, p page, to string) {
	t.Helper()
	if p.status != http.StatusSeeOther || p.location != to {
		t.Fatalf("got %d to %q, want 303 to %q; body %s", p.status, p.location, to, p.body)
	}
}

func TestPageSignIn(t *testing.T) {
	h := newHarness(t, options{})
	h.addUser("alice", "user")
	b := h.browser("Mozilla/5.0 (X11; Linux x86_64) Chrome/120.0")
	p := b.get("/")
	expectPage(t, p, 200, `<label for="username">Username</label>`, `<label for="password">Password</label>`, `autocomplete="current-password"`)
	for _, hdr := range []string{"Content-Security-Policy", "X-Frame-Options", "X-Content-Type-Options"} {
		if p.header.Get(hdr) == "" {
			t.Fatalf("sign-in page lacks %s", hdr)
		}
	}
	if p.header.Get("Cache-Control") != "no-store" {
		t.Fatalf("Cache-Control = %q", p.header.Get("Cache-Control"))
	}

	// Wrong password and unknown user: the same answer, naming neither part.
	wrong := b.post("/", url.Values{"username": {"alice"}, "password": {"not the password at all"}})
	unknown := b.post("/", url.Values{"username": {"nobody"}, "password": {"not the password at all"}})
	expectPage(t, wrong, 401, "Incorrect username or password.", `value="alice"`)
	expectPage(t, unknown, 401, "Incorrect username or password.")
	if strings.Replace(wrong.body, `value="alice"`, `value="nobody"`, 1) != unknown.body {
		t.Fatalf("unknown user and wrong password answer differently:\n%s\n---\n%s", wrong.body, unknown.body)
	}

	// Empty fields: errors next to each field.
	p = b.post("/", url.Values{})
	expectPage(t, p, 400, `id="username-error">Enter your username.`, `id="password-error">Enter your password.`, `aria-invalid="true"`)
	// A password over the size limit is refused before hashing, next to the field.
	p = b.post("/", url.Values{"username": {"alice"}, "password": {strings.Repeat("x", 1025)}})
	expectPage(t, p, 400, `id="password-error">Must be at most 1024 bytes.`)

	// Success: a session cookie as docs/api.md says, then the account page.
	p = b.post("/", url.Values{"username": {"alice"}, "password": {testPassword}})
	expectRedirect(t, p, "/account")
	sc := p.header.Get("Set-Cookie")
	for _, want := range []string{"gatehouse_session=", "HttpOnly", "SameSite=Lax", "Path=/"} {
		if !strings.Contains(sc, want) {
			t.Fatalf("Set-Cookie %q lacks %q", sc, want)
		}
	}
	expectPage(t, b.get("/account"), 200, "Your account", "alice")
	// Signed in, the sign-in page sends the browser on.
	expectRedirect(t, b.get("/"), "/account")
	expectRedirect(t, b.get("/?next=/admin"), "/admin")
}

func TestPageSignInNext(t *testing.T) {
	h := newHarness(t, options{})
	h.addUser("alice", "user")
	for next, want := range map[string]string{
		"/account?x=1":         "/account?x=1",
		"//evil.example/":      "/account",
		"https://evil.example": "/account",
		`/\evil.example`:       "/account",
		"/%0d%0aSet-Cookie:x":  "/%0d%0aSet-Cookie:x", // escaped: just a path
		"javascript:alert(1)":  "/account",
		"":                     "/account",
	} {
		b := h.browser("test")
		p := b.post("/", url.Values{"username": {"alice"}, "password": {testPassword}, "next": {next}})
		expectRedirect(t, p, want)
	}
	// The form carries next through a failed attempt, escaped.
	b := h.browser("test")
	p := b.get(`/?next=/account%22%3E%3Cscript%3E`)
	expectPage(t, p, 200, `name="next" value="/account&#34;&gt;&lt;script&gt;"`)
}

func TestPageRedirectsWhenSignedOut(t *testing.T) {
	h := newHarness(t, options{})
	b := h.browser("test")
	expectRedirect(t, b.get("/account"), "/?next=%2Faccount")
	expectRedirect(t, b.get("/admin?q=x"), "/?next=%2Fadmin%3Fq%3Dx")
	expectRedirect(t, b.post("/account/signout-everywhere", nil), "/")

	// A dead session cookie is cleared and the page says why.
	b.signIn("admin", h.adminPW)
	if r := h.do("POST", "/api/logout-all", nil, cookie(b.cookieHeader())...); r.status != 204 {
		t.Fatalf("logout-all: %d", r.status)
	}
	p := b.get("/account")
	expectRedirect(t, p, "/?msg=expired&next=%2Faccount")
	if !strings.Contains(p.header.Get("Set-Cookie"), "Max-Age=0") {
		t.Fatalf("dead cookie not cleared: %q", p.header.Get("Set-Cookie"))
	}
	expectPage(t, b.get("/?msg=expired&next=%2Faccount"), 200, "Your session has ended.")
	// Unknown routes stay JSON 404s; other methods on / are 405.
	r := h.do("GET", "/nope", nil)
	expect(t, r, 404, "not_found")
	expect(t, h.do("DELETE", "/", nil), 405, "bad_request")
}

func TestPageForgery(t *testing.T) {
	h := newHarness(t, options{})
	b := h.browser("test")
	b.signIn("admin", h.adminPW)
	token := b.csrf
	if token == "" {
		t.Fatal("no synchronizer token on the account page")
	}
	refused := func(p page) {
		t.Helper()
		expectPage(t, p, 403, "Request refused")
		expectPage(t, b.get("/account"), 200, "Your account") // still signed in
	}
	// Another site (another port of this host is "same-site", and its cookies ride along).
	refused(b.postFrom("same-site", "/account/signout-everywhere", url.Values{"csrf": {token}}))
	refused(b.postFrom("cross-site", "/account/signout-everywhere", url.Values{"csrf": {token}}))
	// Without Sec-Fetch-Site, an Origin that is not this host.
	req, _ := http.NewRequest("POST", h.srv.URL+"/account/signout-everywhere", strings.NewReader("csrf="+token))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", "http://evil.example")
	refused(b.send(req, ""))
	// Same origin but without or with a wrong token.
	refused(b.post("/account/signout-everywhere", url.Values{"csrf": {""}}))
	wrong := "A" + token[1:]
	if wrong == token {
		wrong = "B" + token[1:]
	}
	refused(b.post("/account/signout-everywhere", url.Values{"csrf": {wrong}}))
	// Another session's token does not work either.
	other := h.browser("other")
	other.signIn("admin", h.adminPW)
	refused(b.post("/account/signout-everywhere", url.Values{"csrf": {other.csrf}}))
	// The sign-in form refuses other sites too (login CSRF).
	expectPage(t, h.browser("x").postFrom("cross-site", "/", url.Values{"username": {"admin"}, "password": {h.adminPW}}), 403)
	// The real thing works.
	expectRedirect(t, b.post("/account/signout-everywhere", url.Values{"csrf": {token}}), "/?msg=signed-out-everywhere")
}

func TestPageAccountSessions(t *testing.T) {
	h := newHarness(t, options{})
	h.addUser("alice", "user")
	laptop := h.browser("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/126.0 Safari/537.36")
	phone := h.browser("Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 Version/17.0 Mobile Safari/604.1")
	laptop.signIn("alice", testPassword)
	phone.signIn("alice", testPassword)
	access, _ := h.loginToken("alice", testPassword)

	p := laptop.get("/account")
	expectPage(t, p, 200, "Chrome on Windows", "Safari on iOS", "this device", "127.0.0.1")
	if strings.Count(p.body, "this device</span>") != 1 {
		t.Fatalf("want exactly one row marked this device: %s", p.body)
	}
	// Find the phone's handle: the row that is not current.
	r := h.do("GET", "/api/sessions", nil, cookie(phone.cookieHeader())...)
	var phoneHandle string
	for _, s := range r.body["sessions"].([]any) {
		if m := s.(map[string]any); m["current"] == true {
			phoneHandle = m["id"].(string)
		}
	}
	if !strings.Contains(p.body, "/account/sessions/"+phoneHandle+"/revoke") {
		t.Fatalf("no sign-out form for the phone's session")
	}
	expectRedirect(t, laptop.post("/account/sessions/"+phoneHandle+"/revoke", nil), "/account?msg=session-revoked")
	expectPage(t, laptop.get("/account?msg=session-revoked"), 200, "That session is signed out.")
	expectRedirect(t, phone.get("/account"), "/?msg=expired&next=%2Faccount")
	expect(t, h.do("GET", "/api/protected", nil, bearer(access)...), 200, "") // tokens untouched
	// Someone else's or an unknown handle changes nothing.
	expectRedirect(t, laptop.post("/account/sessions/"+phoneHandle+"/revoke", nil), "/account?msg=session-gone")
	expectRedirect(t, laptop.post("/account/sessions/not-a-handle/revoke", nil), "/account?msg=session-gone")

	// Sign out everywhere: sessions and tokens.
	phone.signIn("alice", testPassword)
	laptop.get("/account")
	expectRedirect(t, laptop.post("/account/signout-everywhere", nil), "/?msg=signed-out-everywhere")
	expectRedirect(t, laptop.get("/account"), "/?next=%2Faccount")
	expectRedirect(t, phone.get("/account"), "/?msg=expired&next=%2Faccount")
	expect(t, h.do("GET", "/api/protected", nil, bearer(access)...), 401, "invalid_token")

	// Sign out of this device only.
	laptop.signIn("alice", testPassword)
	phone.signIn("alice", testPassword)
	expectRedirect(t, laptop.post("/signout", nil), "/?msg=signed-out")
	expectRedirect(t, laptop.get("/account"), "/?next=%2Faccount")
	expectPage(t, phone.get("/account"), 200, "Your account")
}

func TestPageChangePassword(t *testing.T) {
	h := newHarness(t, options{})
	h.addUser("alice", "user")
	b, other := h.browser("one"), h.browser("two")
	b.signIn("alice", testPassword)
	other.signIn("alice", testPassword)
	access, refresh := h.loginToken("alice", testPassword)
	oldCookie := b.cookieHeader()
	newPW := "a brand new passphrase for alice"

	form := func(cur, next, confirm string) url.Values {
		return url.Values{"current_password": {cur}, "new_password": {next}, "confirm_password": {confirm}}
	}
	expectPage(t, b.post("/account/password", form("wrong wrong wrong wrong", newPW, newPW)), 400,
		`id="current_password-error">The current password is not correct.`)
	expectPage(t, b.post("/account/password", form(testPassword, newPW, newPW+"x")), 400,
		`id="confirm_password-error">The two new passwords differ.`)
	expectPage(t, b.post("/account/password", form(testPassword, "short", "short")), 400,
		`id="new_password-error">Must be at least 15 characters.`)
	expectPage(t, b.post("/account/password", form("", newPW, newPW)), 400, `id="current_password-error">Enter your current password.`)
	// Nothing above changed anything.
	expectPage(t, other.get("/account"), 200)
	expect(t, h.do("GET", "/api/protected", nil, bearer(access)...), 200, "")

	expectRedirect(t, b.post("/account/password", form(testPassword, newPW, newPW)), "/account?msg=password-changed")
	// This browser stays signed in, with a new session id; everything else is signed out.
	expectPage(t, b.get("/account?msg=password-changed"), 200, "Your password is changed.")
	if b.cookieHeader() == oldCookie {
		t.Fatal("the session id was not renewed")
	}
	expect(t, h.do("GET", "/api/protected", nil, cookie(oldCookie)...), 401, "session_expired")
	expectRedirect(t, other.get("/account"), "/?msg=expired&next=%2Faccount")
	expect(t, h.do("GET", "/api/protected", nil, bearer(access)...), 401, "invalid_token")
	expect(t, h.do("POST", "/api/token/refresh", map[string]string{"refresh_token": refresh}), 401, "invalid_token")
	expect(t, h.do("POST", "/api/login", map[string]string{"username": "alice", "password": testPassword}), 401, "invalid_credentials")
	h.loginToken("alice", newPW)
}

func TestPageAssets(t *testing.T) {
	h := newHarness(t, options{})
	b := h.browser("test")
	p := b.get("/assets/style.css")
	expectPage(t, p, 200, "font-family")
	etag := p.header.Get("ETag")
	if etag == "" || !strings.HasPrefix(p.header.Get("Content-Type"), "text/css") || !strings.Contains(p.header.Get("Cache-Control"), "public") {
		t.Fatalf("style.css headers %v", p.header)
	}
	req, _ := http.NewRequest("GET", h.srv.URL+"/assets/style.css", nil)
	req.Header.Set("If-None-Match", etag)
	expectPage(t, b.send(req, "same-origin"), 304)
	expectPage(t, b.get("/assets/favicon.svg"), 200, "<svg")
	expectPage(t, b.get("/assets/nope.css"), 404)
	expectPage(t, b.get("/assets/..%2fpages.go"), 404)
}
