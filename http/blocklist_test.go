package http_test

import (
	"strings"
	"testing"
)

// TestBlockedPasswordRejected: the embedded list of common and breached passwords applies to
// registration, admin creation and admin password changes, with a 400 that says why.
func TestBlockedPasswordRejected(t *testing.T) {
	h := newHarness(t, options{registration: true, minPassword: 8})
	admin, _ := h.loginToken("admin", h.adminPW)
	u := h.addUser("bob", "user")
	for _, tc := range []struct {
		method, path string
		body         map[string]string
		hdr          []string
	}{
		{"POST", "/api/register", map[string]string{"username": "newbie", "password": "Password1"}, nil},
		{"POST", "/api/register", map[string]string{"username": "newbie", "password": "ＱＷＥＲＴＹ１２３４５６７８９"}, nil},
		{"POST", "/api/admin/users", map[string]string{"username": "newbie", "password": "iloveyou"}, bearer(admin)},
		{"PATCH", "/api/admin/users/" + u.ID, map[string]string{"password": "1qaz2wsx3edc4rfv"}, bearer(admin)},
	} {
		r := h.do(tc.method, tc.path, tc.body, tc.hdr...)
		expect(t, r, 400, "bad_request")
		if !strings.HasPrefix(r.str("message"), "password: ") || !strings.Contains(r.str("message"), "common or breached") {
			t.Fatalf("%s %s: message %q", tc.method, tc.path, r.str("message"))
		}
	}
	expect(t, h.do("POST", "/api/register", map[string]string{"username": "newbie", "password": "ambling otter teacup"}), 201, "")
	expect(t, h.do("POST", "/api/login", map[string]string{"username": "bob", "password": testPassword}), 200, "")
}
