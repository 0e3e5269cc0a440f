package http_test

import (
	"strings"
	"testing"

	"github.com/gatehouse-auth/gatehouse"
)

func TestAdminProfileAndGroups(t *testing.T) {
	h := newHarness(t, options{})
	admin, _ := h.loginToken("admin", h.adminPW)
	u := h.addUser("kate", gatehouse.RoleUser)
	h.addUser("kathleen", gatehouse.RoleUser)
	access, _ := h.loginToken("kate", testPassword)

	r := h.do("GET", "/api/admin/users/"+u.ID, nil, bearer(admin)...)
	expect(t, r, 200, "")
	if r.body["user"].(map[string]any)["username"] != "kate" {
		t.Fatalf("GET user = %s", r.raw)
	}
	expect(t, h.do("GET", "/api/admin/users/"+gatehouse.NewID(h.clock.Now()), nil, bearer(admin)...), 404, "not_found")
	expect(t, h.do("GET", "/api/admin/users/"+u.ID, nil, bearer(access)...), 403, "forbidden")

	// Name and address change nothing a credential depends on: the user stays signed in.
	r = h.do("PATCH", "/api/admin/users/"+u.ID, map[string]any{"name": "Kate K.", "email": "Kate.K@Example.com"}, bearer(admin)...)
	expect(t, r, 200, "")
	got := r.body["user"].(map[string]any)
	if got["name"] != "Kate K." || got["email"] != "Kate.K@Example.com" || got["email_verified"] != false {
		t.Fatalf("PATCH profile = %s", r.raw)
	}
	expect(t, h.do("GET", "/api/me", nil, bearer(access)...), 200, "")

	// Groups are normalised, and a change of groups revokes like a change of role.
	r = h.do("PATCH", "/api/admin/users/"+u.ID, map[string]any{"groups": []string{"ops", "finance", "ops"}}, bearer(admin)...)
	expect(t, r, 200, "")
	if g := r.body["user"].(map[string]any)["groups"].([]any); len(g) != 2 || g[0] != "finance" {
		t.Fatalf("groups = %v", g)
	}
	expect(t, h.do("GET", "/api/me", nil, bearer(access)...), 401, "invalid_token")
	fresh, _ := h.loginToken("kate", testPassword)
	if g := claims(t, fresh)["groups"].([]any); len(g) != 2 {
		t.Fatalf("token groups = %v", g)
	}

	// Bad input: a 400 naming the field, and nothing changes.
	for body, field := range map[string]string{
		`{"nmae":"x"}`:                                  "nmae",
		`{"groups":["Finance"]}`:                        "groups",
		`{"groups":"finance"}`:                          "groups",
		`{"email":"kate@example.com\r\nBcc: x@y.test"}`: "email",
		`{"name":"Eve\r\nBcc: victim@example.net"}`:     "name",
		`{"email":"KATHLEEN@example.com"}`:              "email",
	} {
		r := h.do("PATCH", "/api/admin/users/"+u.ID, body, bearer(admin)...)
		if r.status != 400 && r.status != 409 || !strings.Contains(r.str("message"), field) {
			t.Errorf("PATCH %s = %d %s, want 400/409 naming %q", body, r.status, r.raw, field)
		}
	}
	expect(t, h.do("GET", "/api/me", nil, bearer(fresh)...), 200, "")

	// Search by username, name or address.
	r = h.do("GET", "/api/admin/users?q=KAT", nil, bearer(admin)...)
	expect(t, r, 200, "")
	if n := len(r.body["users"].([]any)); n != 2 {
		t.Fatalf("q=KAT found %d users: %s", n, r.raw)
	}
	r = h.do("GET", "/api/admin/users?q=example.com&limit=1", nil, bearer(admin)...)
	expect(t, r, 200, "")
	if len(r.body["users"].([]any)) != 1 || r.str("next") == "" {
		t.Fatalf("paged search = %s", r.raw)
	}
}
