package http_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/gatehouse-auth/gatehouse"
)

func TestRBAC(t *testing.T) {
	h := newHarness(t, options{})
	bob := h.addUser("bob", gatehouse.RoleUser)
	userTok, _ := h.loginToken("bob", testPassword)
	userCookie := h.loginSession("bob", testPassword)
	adminTok, _ := h.loginToken("admin", h.adminPW)
	admin := []struct{ method, path string }{
		{"GET", "/api/admin/users"},
		{"POST", "/api/admin/users"},
		{"PATCH", "/api/admin/users/" + bob.ID},
		{"DELETE", "/api/admin/users/" + bob.ID},
		{"GET", "/api/admin/users/" + bob.ID + "/sessions"},
		{"DELETE", "/api/admin/users/" + bob.ID + "/sessions"},
		{"DELETE", "/api/admin/sessions/" + bob.ID},
	}
	for _, rt := range admin {
		expect(t, h.do(rt.method, rt.path, `{}`, bearer(userTok)...), 403, "forbidden")
		expect(t, h.do(rt.method, rt.path, `{}`, cookie(userCookie)...), 403, "forbidden")
	}
	expect(t, h.do("GET", "/api/admin/users", nil, bearer(adminTok)...), 200, "")
	// An admin can do what a user can.
	expect(t, h.do("GET", "/api/protected", nil, bearer(adminTok)...), 200, "")
}

func TestDemotedAdminLosesAccessAtOnce(t *testing.T) {
	h := newHarness(t, options{})
	carol := h.addUser("carol", gatehouse.RoleAdmin)
	tok, refresh := h.loginToken("carol", testPassword)
	c := h.loginSession("carol", testPassword)
	expect(t, h.do("GET", "/api/admin/users", nil, bearer(tok)...), 200, "")
	expect(t, h.do("GET", "/api/admin/users", nil, cookie(c)...), 200, "")

	adminTok, _ := h.loginToken("admin", h.adminPW)
	r := h.do("PATCH", "/api/admin/users/"+carol.ID, map[string]string{"role": "user"}, bearer(adminTok)...)
	expect(t, r, 200, "")
	if r.body["user"].(map[string]any)["role"] != "user" {
		t.Fatalf("patch = %s", r.raw)
	}
	expect(t, h.do("GET", "/api/admin/users", nil, bearer(tok)...), 401, "invalid_token")
	expect(t, h.do("GET", "/api/admin/users", nil, cookie(c)...), 401, "session_expired")
	expect(t, h.do("POST", "/api/token/refresh", map[string]string{"refresh_token": refresh}), 401, "invalid_token")
	// Signing in again gives the new role.
	tok2, _ := h.loginToken("carol", testPassword)
	expect(t, h.do("GET", "/api/admin/users", nil, bearer(tok2)...), 403, "forbidden")
	expect(t, h.do("GET", "/api/protected", nil, bearer(tok2)...), 200, "")
	// The admin who made the change is untouched.
	expect(t, h.do("GET", "/api/admin/users", nil, bearer(adminTok)...), 200, "")
}

func TestDisableAndDelete(t *testing.T) {
	h := newHarness(t, options{})
	adminTok, _ := h.loginToken("admin", h.adminPW)
	dave := h.addUser("dave", gatehouse.RoleUser)
	tok, _ := h.loginToken("dave", testPassword)
	c := h.loginSession("dave", testPassword)
	expect(t, h.do("PATCH", "/api/admin/users/"+dave.ID, map[string]bool{"disabled": true}, bearer(adminTok)...), 200, "")
	expect(t, h.do("GET", "/api/protected", nil, bearer(tok)...), 401, "invalid_token")
	expect(t, h.do("GET", "/api/protected", nil, cookie(c)...), 401, "session_expired")
	expect(t, h.do("POST", "/api/login", map[string]string{"username": "dave", "password": testPassword}), 403, "forbidden")
	expect(t, h.do("POST", "/api/login", map[string]string{"username": "dave", "password": "a wrong password!!"}), 401, "invalid_credentials")
	expect(t, h.do("PATCH", "/api/admin/users/"+dave.ID, map[string]bool{"disabled": false}, bearer(adminTok)...), 200, "")
	tok, _ = h.loginToken("dave", testPassword)
	expect(t, h.do("GET", "/api/protected", nil, bearer(tok)...), 200, "")

	expect(t, h.do("DELETE", "/api/admin/users/"+dave.ID, nil, bearer(adminTok)...), 204, "")
	expect(t, h.do("GET", "/api/protected", nil, bearer(tok)...), 401, "invalid_token")
	expect(t, h.do("DELETE", "/api/admin/users/"+dave.ID, nil, bearer(adminTok)...), 404, "not_found")
	expect(t, h.do("POST", "/api/login", map[string]string{"username": "dave", "password": testPassword}), 401, "invalid_credentials")
}

func TestPasswordChangeByAdmin(t *testing.T) {
	h := newHarness(t, options{})
	adminTok, _ := h.loginToken("admin", h.adminPW)
	erin := h.addUser("erin", gatehouse.RoleUser)
	tok, _ := h.loginToken("erin", testPassword)
	expect(t, h.do("PATCH", "/api/admin/users/"+erin.ID, map[string]string{"password": "short"}, bearer(adminTok)...), 400, "bad_request")
	expect(t, h.do("GET", "/api/protected", nil, bearer(tok)...), 200, "") // a refused change changes nothing
	newPW := "a brand new passphrase"
	expect(t, h.do("PATCH", "/api/admin/users/"+erin.ID, map[string]string{"password": newPW}, bearer(adminTok)...), 200, "")
	expect(t, h.do("GET", "/api/protected", nil, bearer(tok)...), 401, "invalid_token")
	expect(t, h.do("POST", "/api/login", map[string]string{"username": "erin", "password": testPassword}), 401, "invalid_credentials")
	h.loginToken("erin", newPW)
}

func TestAdminUsers(t *testing.T) {
	h := newHarness(t, options{})
	adminTok, _ := h.loginToken("admin", h.adminPW)
	auth := bearer(adminTok)
	r := h.do("POST", "/api/admin/users", map[string]string{"username": "Frank", "password": testPassword, "role": "admin", "name": "Frank F", "email": "frank@example.com"}, auth...)
	expect(t, r, 201, "")
	if u := r.body["user"].(map[string]any); u["role"] != "admin" || u["name"] != "Frank F" || u["email"] != "frank@example.com" || u["disabled"] != false {
		t.Fatalf("created = %s", r.raw)
	}
	expect(t, h.do("POST", "/api/admin/users", map[string]string{"username": "FRANK", "password": testPassword}, auth...), 409, "conflict")
	expect(t, h.do("POST", "/api/admin/users", map[string]string{"username": "gina", "password": testPassword, "role": "root"}, auth...), 400, "bad_request")
	expect(t, h.do("POST", "/api/admin/users", map[string]string{"password": testPassword}, auth...), 400, "bad_request")
	expect(t, h.do("POST", "/api/admin/users", `{"username": "x", "password": true}`, auth...), 400, "bad_request")
	for i := 0; i < 5; i++ {
		h.addUser(fmt.Sprintf("user%d", i), gatehouse.RoleUser)
	}
	// 7 users in all: pages of 3.
	seen := map[string]bool{}
	after := ""
	for page := 0; page < 5; page++ {
		r := h.do("GET", "/api/admin/users?limit=3&after="+after, nil, auth...)
		expect(t, r, 200, "")
		for _, u := range r.body["users"].([]any) {
			id := u.(map[string]any)["id"].(string)
			if seen[id] {
				t.Fatalf("user %s on two pages", id)
			}
			seen[id] = true
		}
		after = r.str("next")
		if after == "" {
			break
		}
	}
	if len(seen) != 7 {
		t.Fatalf("paged through %d users, want 7", len(seen))
	}
	for _, q := range []string{"limit=0", "limit=-1", "limit=abc", "limit=100000", "after=../../x"} {
		expect(t, h.do("GET", "/api/admin/users?"+q, nil, auth...), 400, "bad_request")
	}
	expect(t, h.do("PATCH", "/api/admin/users/"+gatehouse.NewID(h.clock.Now()), map[string]string{"role": "user"}, auth...), 404, "not_found")
	expect(t, h.do("PATCH", "/api/admin/users/garbage", map[string]string{"role": "user"}, auth...), 404, "not_found")
	expect(t, h.do("PATCH", "/api/admin/users/garbage", `{"role": 5}`, auth...), 400, "bad_request")
	expect(t, h.do("PATCH", "/api/admin/users/"+h.addUser("hal", gatehouse.RoleUser).ID, map[string]string{"role": "superuser"}, auth...), 400, "bad_request")
}

// TestAdminPatchUnknownField: a misspelt field in a PATCH body is refused, naming it, and
// changes nothing (elsewhere unknown fields are ignored).
func TestAdminPatchUnknownField(t *testing.T) {
	h := newHarness(t, options{})
	adminTok, _ := h.loginToken("admin", h.adminPW)
	ivy := h.addUser("ivy", gatehouse.RoleUser)
	r := h.do("PATCH", "/api/admin/users/"+ivy.ID, `{"role": "admin", "disabld": true}`, bearer(adminTok)...)
	expect(t, r, 400, "bad_request")
	if !strings.Contains(r.str("message"), "disabld") {
		t.Fatalf("message does not name the field: %s", r.raw)
	}
	u, err := h.users.UserByID(context.Background(), ivy.ID)
	if err != nil || u.Role != gatehouse.RoleUser || u.Disabled {
		t.Fatalf("the refused PATCH changed the user: %+v, %v", u, err)
	}
	expect(t, h.do("POST", "/api/admin/users", `{"username": "jay", "password": "`+testPassword+`", "colour": "blue"}`, bearer(adminTok)...), 201, "")
}

func TestOwnSessions(t *testing.T) {
	h := newHarness(t, options{})
	ivan := h.addUser("ivan", gatehouse.RoleUser)
	_ = ivan
	phone := h.loginSession("ivan", testPassword, "User-Agent", "phone")
	laptop := h.loginSession("ivan", testPassword, "User-Agent", "laptop")
	other := h.loginSession("admin", h.adminPW)
	list := h.do("GET", "/api/sessions", nil, cookie(laptop)...)
	var phoneID string
	for _, s := range list.body["sessions"].([]any) {
		m := s.(map[string]any)
		if m["user_agent"] == "phone" {
			phoneID = m["id"].(string)
		}
	}
	if phoneID == "" {
		t.Fatalf("no phone session in %s", list.raw)
	}
	// Someone else cannot see or delete it: 404, no existence leak.
	expect(t, h.do("DELETE", "/api/sessions/"+phoneID, nil, cookie(other)...), 404, "not_found")
	expect(t, h.do("GET", "/api/protected", nil, cookie(phone)...), 200, "")
	expect(t, h.do("DELETE", "/api/sessions/"+phoneID, nil, cookie(laptop)...), 204, "")
	expect(t, h.do("GET", "/api/protected", nil, cookie(phone)...), 401, "session_expired")
	expect(t, h.do("GET", "/api/protected", nil, cookie(laptop)...), 200, "")
	expect(t, h.do("DELETE", "/api/sessions/"+phoneID, nil, cookie(laptop)...), 404, "not_found")
	expect(t, h.do("DELETE", "/api/sessions/garbage", nil, cookie(laptop)...), 404, "not_found")
	// With a token, the list has no current session.
	tok, _ := h.loginToken("ivan", testPassword)
	l := h.do("GET", "/api/sessions", nil, bearer(tok)...)
	expect(t, l, 200, "")
	if strings.Contains(l.raw, `"current":true`) {
		t.Fatalf("token caller has a current session: %s", l.raw)
	}
}

func TestAdminSessions(t *testing.T) {
	h := newHarness(t, options{})
	adminTok, _ := h.loginToken("admin", h.adminPW)
	judy := h.addUser("judy", gatehouse.RoleUser)
	c1 := h.loginSession("judy", testPassword)
	c2 := h.loginSession("judy", testPassword)
	tok, _ := h.loginToken("judy", testPassword)
	list := h.do("GET", "/api/admin/users/"+judy.ID+"/sessions", nil, bearer(adminTok)...)
	expect(t, list, 200, "")
	sessions := list.body["sessions"].([]any)
	if len(sessions) != 2 {
		t.Fatalf("sessions = %s", list.raw)
	}
	first := sessions[0].(map[string]any)["id"].(string)
	expect(t, h.do("DELETE", "/api/admin/sessions/"+first, nil, bearer(adminTok)...), 204, "")
	expect(t, h.do("DELETE", "/api/admin/sessions/"+first, nil, bearer(adminTok)...), 404, "not_found")
	alive := 0
	for _, c := range []string{c1, c2} {
		if h.do("GET", "/api/protected", nil, cookie(c)...).status == 200 {
			alive++
		}
	}
	if alive != 1 {
		t.Fatalf("%d sessions alive after revoking one of two", alive)
	}
	expect(t, h.do("DELETE", "/api/admin/users/"+judy.ID+"/sessions", nil, bearer(adminTok)...), 204, "")
	for _, c := range []string{c1, c2} {
		expect(t, h.do("GET", "/api/protected", nil, cookie(c)...), 401, "session_expired")
	}
	expect(t, h.do("GET", "/api/protected", nil, bearer(tok)...), 401, "invalid_token")
	expect(t, h.do("GET", "/api/admin/users/"+gatehouse.NewID(h.clock.Now())+"/sessions", nil, bearer(adminTok)...), 404, "not_found")
	expect(t, h.do("DELETE", "/api/admin/users/nope/sessions", nil, bearer(adminTok)...), 404, "not_found")
}
