package http_test

import (
	"net/url"
	"strings"
	"testing"

	"github.com/gatehouse-auth/gatehouse"
	"github.com/gatehouse-auth/gatehouse/authn"
	ghttp "github.com/gatehouse-auth/gatehouse/http"
)

func deletionOn(d *authn.Deps, c *ghttp.Config) { c.AllowAccountDeletion = true }

// TestDeleteOwnAccount: DELETE /api/me erases the caller's account only with the password
// and the username again; then every session, access token and refresh token of the user is
// dead on the spot, the name is free, the session cookie is cleared, and the audit trail says
// the user did it. Refused requests change nothing.
func TestDeleteOwnAccount(t *testing.T) {
	h := newHarness(t, options{configure: deletionOn})
	u := h.addUser("ulla", gatehouse.RoleUser)
	access, refresh := h.loginToken("ulla", testPassword)
	cookieHdr := h.loginSession("ulla", testPassword)
	del := func(body any, hdr ...string) response { return h.do("DELETE", "/api/me", body, hdr...) }
	expect(t, del(map[string]string{"password": testPassword, "confirm_username": "someone"}, bearer(access)...), 400, "bad_request")
	expect(t, del(map[string]string{"password": "not the password at all", "confirm_username": "ulla"}, bearer(access)...), 400, "bad_request")
	expect(t, del(map[string]string{"confirm_username": "ulla"}, bearer(access)...), 400, "bad_request")
	expect(t, del(map[string]string{"password": testPassword, "confirm_username": "ulla", "force": "yes"}, bearer(access)...), 400, "bad_request")
	expect(t, del(nil, bearer(access)...), 415, "unsupported_media_type")
	// A page of another site cannot send it with the cookie.
	cross := []string{"Sec-Fetch-Site", "cross-site", "Origin", "https://evil.example"}
	expect(t, del(map[string]string{"password": testPassword, "confirm_username": "ulla"}, append(cookie(cookieHdr), cross...)...), 403, "")
	expect(t, h.do("GET", "/api/me", nil, bearer(access)...), 200, "") // nothing changed

	r := del(map[string]string{"password": testPassword, "confirm_username": "ULLA"}, cookie(cookieHdr)...)
	expect(t, r, 204, "")
	if sc := r.header.Get("Set-Cookie"); !strings.Contains(sc, "Max-Age=0") {
		t.Fatalf("the session cookie is not cleared: %q", sc)
	}
	expect(t, h.do("GET", "/api/me", nil, bearer(access)...), 401, "")
	expect(t, h.do("GET", "/api/me", nil, cookie(cookieHdr)...), 401, "")
	expect(t, h.do("POST", "/api/token/refresh", map[string]string{"refresh_token": refresh}), 401, "")
	expect(t, h.do("POST", "/api/login", map[string]string{"username": "ulla", "password": testPassword}), 401, "invalid_credentials")
	admin, _ := h.loginToken("admin", h.adminPW)
	expect(t, h.do("GET", "/api/admin/users/"+u.ID, nil, bearer(admin)...), 404, "")
	// Newest first: the deletion by the user, and the wrong password before it.
	events := h.auditEvents(gatehouse.AuditUserDeleted)
	if len(events) != 2 || events[0]["user_id"] != u.ID || events[0]["actor_id"] != u.ID || events[0]["outcome"] != "success" ||
		events[1]["user_id"] != u.ID || events[1]["outcome"] != "failure" {
		t.Fatalf("audit: %v", events)
	}
	// The name is free again.
	expect(t, h.do("POST", "/api/admin/users", map[string]string{"username": "ulla", "password": testPassword}, bearer(admin)...), 201, "")
}

// TestDeleteOwnAccountOff: without the server's consent the endpoint is 403 and deletes nothing.
func TestDeleteOwnAccountOff(t *testing.T) {
	h := newHarness(t, options{})
	h.addUser("vic", gatehouse.RoleUser)
	access, _ := h.loginToken("vic", testPassword)
	expect(t, h.do("DELETE", "/api/me", map[string]string{"password": testPassword, "confirm_username": "vic"}, bearer(access)...), 403, "forbidden")
	expect(t, h.do("GET", "/api/me", nil, bearer(access)...), 200, "")
}

// TestDeleteOwnAccountThrottled: the password check is a login's: guessing through DELETE
// /api/me meets the login throttle (429 with Retry-After), and the account stays.
func TestDeleteOwnAccountThrottled(t *testing.T) {
	h := newHarness(t, options{configure: deletionOn})
	h.addUser("wim", gatehouse.RoleUser)
	access, _ := h.loginToken("wim", testPassword)
	limited := false
	for i := 0; i < 30 && !limited; i++ {
		r := h.do("DELETE", "/api/me", map[string]string{"password": "guess number " + string(rune('a'+i)), "confirm_username": "wim"}, bearer(access)...)
		switch r.status {
		case 400:
		case 429:
			limited = r.header.Get("Retry-After") != ""
		default:
			t.Fatalf("guess %d: %d %s", i, r.status, r.raw)
		}
	}
	if !limited {
		t.Fatal("30 wrong passwords and no 429")
	}
	expect(t, h.do("GET", "/api/me", nil, bearer(access)...), 200, "")
}

// TestPageDeleteAccount: with deletion allowed the account page offers "Delete my account";
// its form wants the password and the username, refuses a form without the page's CSRF token
// or from another site, and then deletes the account, clears the cookie and sends the browser
// to sign-in, where the account no longer signs in.
func TestPageDeleteAccount(t *testing.T) {
	h := newHarness(t, options{configure: deletionOn})
	h.addUser("xia", gatehouse.RoleUser)
	b := h.browser("page-delete")
	b.signIn("xia", testPassword)
	expectPage(t, b.get("/account"), 200, `action="/account/delete"`)
	expectPage(t, b.post("/account/delete", url.Values{"password": {testPassword}, "confirm_username": {"someone"}}), 400, "username")
	expectPage(t, b.post("/account/delete", url.Values{"password": {"wrong password here"}, "confirm_username": {"xia"}}), 400, "not correct")
	expectPage(t, b.post("/account/delete", url.Values{"password": {testPassword}, "confirm_username": {"xia"}, "csrf": {"forged"}}), 403)
	expectPage(t, b.postFrom("cross-site", "/account/delete", url.Values{"password": {testPassword}, "confirm_username": {"xia"}}), 403)
	expectPage(t, b.get("/account"), 200) // still there
	expectRedirect(t, b.post("/account/delete", url.Values{"password": {testPassword}, "confirm_username": {"xia"}}), "/?msg=account-deleted")
	expectPage(t, b.get("/?msg=account-deleted"), 200, "Your account is deleted")
	expect(t, h.do("POST", "/api/login", map[string]string{"username": "xia", "password": testPassword}), 401, "invalid_credentials")

	// Off: no form.
	off := newHarness(t, options{})
	off.addUser("yves", gatehouse.RoleUser)
	ob := off.browser("page-delete-off")
	ob.signIn("yves", testPassword)
	if p := ob.get("/account"); strings.Contains(p.body, `action="/account/delete"`) {
		t.Fatal("the account page offers a deletion the server does not allow")
	}
	expectPage(t, ob.post("/account/delete", url.Values{"password": {testPassword}, "confirm_username": {"yves"}}), 403)
}
