package http_test

import (
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/gatehouse-auth/gatehouse"
)

func TestPageAdminOnlyForAdmins(t *testing.T) {
	h := newHarness(t, options{})
	h.addUser("alice", "user")
	b := h.browser("test")
	b.signIn("alice", testPassword)
	expectPage(t, b.get("/admin"), 403, "This page is for administrators.")
	if strings.Contains(b.get("/account").body, `href="/admin"`) {
		t.Fatal("a user sees the admin link")
	}
	expectPage(t, b.post("/admin/users", url.Values{"username": {"mallory"}, "password": {testPassword}}), 403)
	if _, err := h.users.UserByUsername(t.Context(), "mallory"); err == nil {
		t.Fatal("a user created a user through the admin form")
	}
}

func TestPageAdminUsers(t *testing.T) {
	h := newHarness(t, options{})
	alice := h.addUser("alice", "user")
	for i := range 45 {
		h.addUser(fmt.Sprintf("user%02d", i), "user")
	}
	b := h.browser("test")
	b.signIn("admin", h.adminPW)
	p := b.get("/admin")
	expectPage(t, p, 200, "Users", ">admin<", ">alice<", `rel="next"`, `<label for="q">Search users</label>`)
	if n := strings.Count(p.body, `<a href="/admin/users/`); n != 20 {
		t.Fatalf("first page shows %d users, want 20", n)
	}
	// Paging walks every user exactly once.
	seen := map[string]bool{}
	next := "/admin"
	for pages := 0; next != ""; pages++ {
		if pages > 5 {
			t.Fatal("paging does not end")
		}
		p := b.get(next)
		expectPage(t, p, 200)
		for _, m := range userLink.FindAllStringSubmatch(p.body, -1) {
			if seen[m[1]] {
				t.Fatalf("user %s on two pages", m[1])
			}
			seen[m[1]] = true
		}
		next = ""
		if m := nextLink.FindStringSubmatch(p.body); m != nil {
			next = strings.ReplaceAll(m[1], "&amp;", "&")
		}
	}
	if len(seen) != 47 {
		t.Fatalf("paging showed %d users, want 47", len(seen))
	}
	// Search by username, name and e-mail, without regard to case.
	expectPage(t, b.get("/admin?q=ALI"), 200, ">alice<")
	if p := b.get("/admin?q=user1"); strings.Count(p.body, `<a href="/admin/users/`) != 10 {
		t.Fatalf("search user1 found %d, want 10", strings.Count(p.body, `<a href="/admin/users/`))
	}
	expectPage(t, b.get("/admin?q=alice%40example"), 200, ">alice<")
	expectPage(t, b.get("/admin?q=zzz"), 200, "No user matches")
	expectPage(t, b.get("/admin?q="+strings.Repeat("x", 101)), 400, `id="q-error">Search for at most 100 characters.`)
	expectPage(t, b.get("/admin?after=garbage"), 400, "That page link is not valid")

	// The user's page.
	expectPage(t, b.get("/admin/users/"+alice.ID), 200, "alice", "alice@example.com", "Change role", "Delete user")
	expectPage(t, b.get("/admin/users/"+gatehouse.NewID(h.clock.Now())), 404, "No such user.")
	expectPage(t, b.get("/admin/users/nope"), 404)
}

var (
	userLink = regexp.MustCompile(`<a href="/admin/users/([0-9a-z]{26})">`)
	nextLink = regexp.MustCompile(`href="([^"]+)" rel="next"`)
)

func TestPageAdminCreate(t *testing.T) {
	h := newHarness(t, options{})
	h.addUser("alice", "user")
	b := h.browser("test")
	b.signIn("admin", h.adminPW)
	b.get("/admin")
	form := func(user, pw, email, role string) url.Values {
		return url.Values{"username": {user}, "password": {pw}, "name": {"Bob B."}, "email": {email}, "role": {role}}
	}
	for _, c := range []struct {
		form   url.Values
		status int
		want   string
	}{
		{form("", testPassword, "", "user"), 400, `id="new-username-error">Must be 1 to 64 characters.`},
		{form("bob smith", testPassword, "", "user"), 400, `id="new-username-error">May contain only`},
		{form("ALICE", testPassword, "", "user"), 409, `id="new-username-error">This username is taken.`},
		{form("bob", "short", "", "user"), 400, `id="new-password-error">Must be at least 15 characters.`},
		{form("bob", testPassword, "bob", "user"), 400, `id="new-email-error">Must look like name@example.com.`},
		{form("bob", testPassword, "", "root"), 400, `id="new-role-error">Must be &#34;user&#34; or &#34;admin&#34;.`},
	} {
		p := b.post("/admin/users", c.form)
		expectPage(t, p, c.status, c.want, `value="Bob B."`)
	}
	// Every mistake at once, each next to its field.
	expectPage(t, b.post("/admin/users", url.Values{"username": {"a b"}, "password": {"short"}, "email": {"x"}, "role": {"root"}, "name": {"\x01"}}), 400,
		`id="new-username-error"`, `id="new-password-error"`, `id="new-email-error"`, `id="new-role-error"`, `id="new-name-error"`)
	if _, err := h.users.UserByUsername(t.Context(), "bob"); err == nil {
		t.Fatal("an invalid form created the user")
	}
	p := b.post("/admin/users", form("bob", testPassword, "bob@example.com", "admin"))
	if p.status != 303 || !strings.HasPrefix(p.location, "/admin/users/") {
		t.Fatalf("create: %d %q", p.status, p.location)
	}
	expectPage(t, b.get(p.location), 200, "The user is created.", "bob@example.com", "role-admin")
	h.loginToken("bob", testPassword)
}

func TestPageAdminManage(t *testing.T) {
	h := newHarness(t, options{})
	alice := h.addUser("alice", "admin")
	admin := h.browser("admin's browser")
	admin.signIn("admin", h.adminPW)
	user := h.browser("alice's browser")
	user.signIn("alice", testPassword)
	expectPage(t, user.get("/admin"), 200)
	access, _ := h.loginToken("alice", testPassword)
	page := "/admin/users/" + alice.ID

	expectPage(t, admin.get(page), 200, "alice&#39;s browser")
	// Demote: the next click of the user lands on the sign-in page, the token is dead too.
	expectRedirect(t, admin.post(page+"/role", url.Values{"role": {"user"}}), page+"?msg=user-updated")
	expectRedirect(t, user.get("/admin"), "/?msg=expired&next=%2Fadmin")
	expect(t, h.do("GET", "/api/protected", nil, bearer(access)...), 401, "invalid_token")
	user.signIn("alice", testPassword)
	expectPage(t, user.get("/admin"), 403)
	// Unchanged role: nothing happens, the user stays signed in.
	expectRedirect(t, admin.post(page+"/role", url.Values{"role": {"user"}}), page+"?msg=user-unchanged")
	expectPage(t, user.get("/account"), 200)
	expectPage(t, admin.post(page+"/role", url.Values{"role": {"god"}}), 400, `id="role-error">Must be &#34;user&#34; or &#34;admin&#34;.`)

	// Disable, then enable.
	expectRedirect(t, admin.post(page+"/disabled", url.Values{"disabled": {"true"}}), page+"?msg=user-updated")
	expectRedirect(t, user.get("/account"), "/?msg=expired&next=%2Faccount")
	expectPage(t, user.post("/", url.Values{"username": {"alice"}, "password": {testPassword}}), 403, "This account is disabled.")
	expectPage(t, admin.post(page+"/disabled", url.Values{"disabled": {"maybe"}}), 400)
	expectRedirect(t, admin.post(page+"/disabled", url.Values{"disabled": {"false"}}), page+"?msg=user-updated")
	user.signIn("alice", testPassword)

	// View and revoke the user's session.
	r := h.do("GET", "/api/sessions", nil, cookie(user.cookieHeader())...)
	handle := r.body["sessions"].([]any)[0].(map[string]any)["id"].(string)
	expectPage(t, admin.get(page), 200, "/admin/sessions/"+handle+"/revoke")
	expectRedirect(t, admin.post("/admin/sessions/"+handle+"/revoke", nil), page+"?msg=user-session-revoked")
	expectRedirect(t, user.get("/account"), "/?msg=expired&next=%2Faccount")
	expectPage(t, admin.post("/admin/sessions/"+handle+"/revoke", nil), 404, "No such session.")

	// Sign the user out everywhere; set a password.
	user.signIn("alice", testPassword)
	expectRedirect(t, admin.post(page+"/signout-everywhere", nil), page+"?msg=user-signed-out")
	expectRedirect(t, user.get("/account"), "/?msg=expired&next=%2Faccount")
	expectPage(t, admin.post(page+"/password", url.Values{"password": {"short"}}), 400, `id="password-error">Must be at least 15 characters.`)
	expectRedirect(t, admin.post(page+"/password", url.Values{"password": {"alice's new long password"}}), page+"?msg=user-password-set")
	user.signIn("alice", "alice's new long password")

	// Delete needs the box ticked, then the user and their sessions are gone.
	expectPage(t, admin.post(page+"/delete", nil), 400, `id="confirm-error">Tick the box`)
	expectRedirect(t, admin.post(page+"/delete", url.Values{"confirm": {"yes"}}), "/admin?msg=user-deleted")
	expectRedirect(t, user.get("/account"), "/?msg=expired&next=%2Faccount")
	expectPage(t, admin.get(page), 404)
	expectPage(t, admin.post(page+"/role", url.Values{"role": {"admin"}}), 404)
}

func TestPageAdminOwnAccount(t *testing.T) {
	h := newHarness(t, options{})
	b := h.browser("test")
	b.signIn("admin", h.adminPW)
	me, err := h.users.UserByUsername(t.Context(), "admin")
	if err != nil {
		t.Fatal(err)
	}
	page := "/admin/users/" + me.ID
	expectPage(t, b.get(page), 200, "You cannot change the role of")
	for _, c := range []struct {
		path string
		form url.Values
	}{
		{"/role", url.Values{"role": {"user"}}},
		{"/disabled", url.Values{"disabled": {"true"}}},
		{"/delete", url.Values{"confirm": {"yes"}}},
	} {
		expectPage(t, b.post(page+c.path, c.form), 400, "You cannot change the role of, disable or delete your own account here")
	}
	u, _ := h.users.UserByID(t.Context(), me.ID)
	if u.Role != gatehouse.RoleAdmin || u.Disabled {
		t.Fatalf("own account changed: %+v", u)
	}
	expectPage(t, b.get("/account"), 200)
}
