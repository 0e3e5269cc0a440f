package http_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/gatehouse-auth/gatehouse"
	"github.com/gatehouse-auth/gatehouse/account"
)

// hostile are inputs that try to break out of HTML text, attributes and URLs.
var hostile = []string{
	`<script>alert(1)</script>`,
	`"><script>alert(2)</script>`,
	`' autofocus onfocus='alert(3)`,
	`</title><img src=x onerror=alert(4)>`,
	`javascript:alert(5)`,
	"\xff\xfe not utf-8 \x00 nul",
	strings.Repeat("<b>", 3000),
}

// noMarkup checks that nothing of a hostile input came through as markup. The pages have no
// script of their own, so any "<script" is an injection.
func noMarkup(t testing.TB, where string, p page) {
	t.Helper()
	for _, bad := range []string{"<script", "<img src=x", "<b><b>", "onfocus='alert", "</title><img"} {
		if strings.Contains(p.body, bad) {
			t.Fatalf("%s: response contains %q unescaped; body %s", where, bad, p.body)
		}
	}
	if p.status >= 500 {
		t.Fatalf("%s: status %d", where, p.status)
	}
}

// TestPageHostileInput posts hostile strings in every field of every form, and in URLs, the
// user agent and stored account fields: no page shows them as markup, none answers 5xx, and
// none changes anything it should not.
func TestPageHostileInput(t *testing.T) {
	h := newHarness(t, options{})
	alice := h.addUser("alice", "user")
	admin := h.browser("admin")
	admin.signIn("admin", h.adminPW)
	forms := map[string][]string{
		"/":                                       {"username", "password", "next"},
		"/admin/users":                            {"username", "password", "name", "email", "role"},
		"/admin/users/" + alice.ID + "/role":      {"role"},
		"/admin/users/" + alice.ID + "/disabled":  {"disabled"},
		"/admin/users/" + alice.ID + "/password":  {"password"},
		"/admin/users/" + alice.ID + "/delete":    {"confirm"},
		"/account/password":                       {"current_password", "new_password", "confirm_password"},
		"/admin/sessions/" + alice.ID + "/revoke": {"x"},
	}
	for path, fields := range forms {
		for _, evil := range hostile {
			for _, f := range fields {
				form := url.Values{}
				for _, other := range fields {
					form.Set(other, "ok value")
				}
				form.Set(f, evil)
				admin.get("/account") // a fresh token, as a real page would have
				noMarkup(t, "POST "+path+" "+f, admin.post(path, form))
				// Every field hostile at once too.
				for _, other := range fields {
					form.Set(other, evil)
				}
				noMarkup(t, "POST "+path+" all", admin.post(path, form))
			}
		}
	}
	for _, evil := range hostile {
		q := url.QueryEscape(evil)
		for _, path := range []string{"/?next=" + q, "/?msg=" + q, "/admin?q=" + q, "/admin?after=" + q,
			"/admin?q=" + q + "&after=" + alice.ID, "/account?msg=" + q, "/admin/users/" + url.PathEscape(evil)} {
			noMarkup(t, "GET "+path, admin.get(path))
		}
		noMarkup(t, "revoke", admin.post("/account/sessions/"+url.PathEscape(evil)+"/revoke", nil))
	}
	// Alice is untouched by all of that (the hostile role, disabled and confirm values were
	// refused; passwords were set, which is fine, but never to a hostile value that then
	// logged in as markup).
	u, _ := h.users.UserByID(t.Context(), alice.ID)
	if u.Role != gatehouse.RoleUser || u.Disabled {
		t.Fatalf("alice changed: %+v", u)
	}
	// An admin's own account is still fine.
	expectPage(t, admin.get("/account"), 200)
}

// TestPageStoredHostileValues stores hostile values where the rules allow them (name, e-mail,
// user agent) and checks every page that shows them.
func TestPageStoredHostileValues(t *testing.T) {
	h := newHarness(t, options{})
	evil, err := h.acct.Create(t.Context(), account.NewUser{
		Username: "eve", Password: testPassword,
		Name:  `<script>alert("name")</script>`,
		Email: `<script>alert("mail")</script>@example.com`,
	})
	if err != nil {
		t.Fatal(err)
	}
	eve := h.browser(`<script>alert("ua")</script> "><img src=x onerror=alert(1)>`)
	eve.signIn("eve", testPassword)
	p := eve.get("/account")
	noMarkup(t, "account", p)
	expectPage(t, p, 200, `&lt;script&gt;alert(&#34;name&#34;)&lt;/script&gt;`, `&lt;script&gt;alert(&#34;ua&#34;)`)
	admin := h.browser("admin")
	admin.signIn("admin", h.adminPW)
	for _, path := range []string{"/admin", "/admin?q=script", "/admin/users/" + evil.ID} {
		p := admin.get(path)
		noMarkup(t, path, p)
		expectPage(t, p, 200, `&lt;script&gt;alert(&#34;mail&#34;)&lt;/script&gt;@example.com`)
	}
}

// TestPageOversizedAndOddRequests: bodies over the limit, odd content types and methods.
func TestPageOversizedAndOddRequests(t *testing.T) {
	h := newHarness(t, options{})
	b := h.browser("test")
	b.signIn("admin", h.adminPW)
	big := url.Values{"csrf": {b.csrf}, "name": {strings.Repeat("x", 70<<10)}}
	expectPage(t, b.post("/admin/users", big), 413, "larger than")
	expectPage(t, b.post("/", url.Values{"username": {strings.Repeat("x", 70<<10)}}), 413)
	// A multipart body is not read as a form: no token, refused.
	req, _ := http.NewRequest("POST", h.srv.URL+"/account/signout-everywhere", strings.NewReader("--x--\r\n"))
	req.Header.Set("Content-Type", "multipart/form-data; boundary=x")
	expectPage(t, b.send(req, "same-origin"), 403)
	// A malformed url-encoded body.
	req, _ = http.NewRequest("POST", h.srv.URL+"/", strings.NewReader("username=%zz"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	expectPage(t, b.send(req, "same-origin"), 400)
	expectPage(t, b.get("/account"), 200)
}
