package http_test

import (
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse"
)

// auditEvents returns the audit trail's events of action, newest first.
func (h *harness) auditEvents(action string) []map[string]any {
	h.t.Helper()
	admin, _ := h.loginToken("admin", h.adminPW)
	r := h.do("GET", "/api/admin/audit?limit=500&action="+action, nil, bearer(admin)...)
	expect(h.t, r, 200, "")
	var out []map[string]any
	for _, e := range r.body["events"].([]any) {
		out = append(out, e.(map[string]any))
	}
	return out
}

// countEvents counts events with that outcome and user id.
func countEvents(events []map[string]any, outcome, userID string) int {
	n := 0
	for _, e := range events {
		if e["outcome"] == outcome && e["user_id"] == userID {
			n++
		}
	}
	return n
}

// TestChangePasswordFormIsThrottledAndAudited: with a stolen session cookie, guessing the
// current password on the account page meets the login throttle (5 failures from one address,
// then 429 with Retry-After, the right password refused too), every failure is audited, and
// the failures count against the account: a login from the same address is held up as well.
func TestChangePasswordFormIsThrottledAndAudited(t *testing.T) {
	h := newHarness(t, options{})
	alice := h.addUser("alice", gatehouse.RoleUser)
	thief := h.browser("stolen cookie")
	thief.signIn("alice", testPassword)
	mine := "the attacker's own passphrase"
	form := func(cur string) url.Values {
		return url.Values{"current_password": {cur}, "new_password": {mine}, "confirm_password": {mine}}
	}
	for i := 0; i < 5; i++ {
		expectPage(t, thief.post("/account/password", form("guess number "+strings.Repeat("x", i+1))), 400,
			"The current password is not correct.")
	}
	for i := 0; i < 55; i++ {
		p := thief.post("/account/password", form("guess again "+strings.Repeat("y", i+1)))
		if p.status != 429 || p.header.Get("Retry-After") == "" {
			t.Fatalf("guess %d: status %d, Retry-After %q; want 429 with Retry-After", 6+i, p.status, p.header.Get("Retry-After"))
		}
	}
	// While throttled, the right password is refused as well: the form tells nothing.
	expectPage(t, thief.post("/account/password", form(testPassword)), 429, "Too many failed attempts")
	// The failures count against the account like failed logins.
	expectRateLimited(t, h.do("POST", "/api/login", loginBody("alice", testPassword)), 0)
	events := h.auditEvents(gatehouse.AuditPasswordChanged)
	if n := countEvents(events, gatehouse.AuditFailure, alice.ID); n != 5 {
		t.Fatalf("%d failed password_changed events for alice, want 5: %v", n, events)
	}
	if d := events[0]["detail"]; d != "current password: invalid_credentials" {
		t.Fatalf("detail %q", d)
	}

	// After the wait, the owner changes the password: audited as a success, done by herself.
	h.clock.Advance(time.Minute)
	owner := h.browser("owner")
	owner.signIn("alice", testPassword)
	newPW := "alice's brand new passphrase"
	expectRedirect(t, owner.post("/account/password", url.Values{"current_password": {testPassword},
		"new_password": {newPW}, "confirm_password": {newPW}}), "/account?msg=password-changed")
	events = h.auditEvents(gatehouse.AuditPasswordChanged)
	if events[0]["outcome"] != gatehouse.AuditSuccess || events[0]["user_id"] != alice.ID || events[0]["actor_id"] != alice.ID {
		t.Fatalf("latest password_changed event %v, want alice's success", events[0])
	}
	expectRedirect(t, thief.get("/account"), "/?msg=expired&next=%2Faccount")
}

// TestChangePasswordAPI: POST /api/me/password checks the current password under the same
// throttle and audit trail as the form, refuses a new password the policy refuses without
// counting anything, and answers a new credential of the kind the caller used while every
// other session and token of the user ends.
func TestChangePasswordAPI(t *testing.T) {
	h := newHarness(t, options{})
	bob := h.addUser("bob", gatehouse.RoleUser)
	access, refresh := h.loginToken("bob", testPassword)
	other := h.loginSession("bob", testPassword)
	change := func(cur, next string, hdr ...string) response {
		return h.do("POST", "/api/me/password", map[string]string{"current_password": cur, "new_password": next}, hdr...)
	}
	newPW := "bob picks another passphrase"

	expect(t, change("", newPW, bearer(access)...), 400, "bad_request")
	expect(t, change(testPassword, "", bearer(access)...), 400, "bad_request")
	expect(t, change(testPassword, newPW), 401, "token_missing")
	for _, weak := range []string{"short", "passwordpassword", "bobbobbobbobbobbob"} {
		r := change(testPassword, weak, bearer(access)...)
		expect(t, r, 400, "bad_request")
		if !strings.HasPrefix(r.str("message"), "new_password: ") {
			t.Fatalf("weak %q: message %q does not name new_password", weak, r.str("message"))
		}
	}
	for i := 0; i < 5; i++ {
		r := change("not bob's password "+strings.Repeat("z", i+1), newPW, bearer(access)...)
		expect(t, r, 400, "bad_request")
		if r.str("message") != "current_password: is not correct" {
			t.Fatalf("message %q", r.str("message"))
		}
	}
	expectRateLimited(t, change(testPassword, newPW, bearer(access)...), 1)
	if n := countEvents(h.auditEvents(gatehouse.AuditPasswordChanged), gatehouse.AuditFailure, bob.ID); n != 5 {
		t.Fatalf("%d failed password_changed events, want 5 (weak new passwords count nothing)", n)
	}
	expect(t, h.do("GET", "/api/protected", nil, bearer(access)...), 200, "") // nothing changed

	h.clock.Advance(time.Second)
	r := change(testPassword, newPW, bearer(access)...)
	expect(t, r, 200, "")
	if r.str("access_token") == "" || r.str("refresh_token") == "" {
		t.Fatalf("no new token pair: %s", r.raw)
	}
	expect(t, h.do("GET", "/api/protected", nil, bearer(r.str("access_token"))...), 200, "")
	expect(t, h.do("GET", "/api/protected", nil, bearer(access)...), 401, "invalid_token")
	expect(t, h.refreshJSON(refresh), 401, "invalid_token")
	expect(t, h.do("GET", "/api/protected", nil, cookie(other)...), 401, "session_expired")
	expect(t, h.do("POST", "/api/login", loginBody("bob", testPassword)), 401, "invalid_credentials")

	// With a session cookie: a new session for this client, the cross-origin check applies.
	c := h.loginSession("bob", newPW)
	cross := []string{"Sec-Fetch-Site", "cross-site", "Origin", "https://evil.example"}
	expect(t, change(newPW, testPassword, append(cookie(c), cross...)...), 403, "forbidden")
	r = change(newPW, "and bob changes it once more", cookie(c)...)
	expect(t, r, 200, "")
	if !strings.Contains(r.header.Get("Set-Cookie"), h.server.CookieName()+"=") {
		t.Fatalf("no new session cookie: %v", r.header)
	}
	expect(t, h.do("GET", "/api/protected", nil, cookie(c)...), 401, "session_expired")
}

// TestPasswordPolicyOverTheAPI: the policy's refusals reach the client as 400 bad_request
// naming the field and the rule; a body that is not UTF-8 is refused before anything else, and
// a lone surrogate escape (which JSON decoding turns into U+FFFD) is refused too.
func TestPasswordPolicyOverTheAPI(t *testing.T) {
	h := newHarness(t, options{registration: true})
	for _, c := range []struct{ user, pw, rule string }{
		{"erin", "aaaaaaaaaaaaaaa", "repeated or consecutive"},
		{"erin", "passwordpassword", "same part repeated"},
		{"erin", strings.Repeat("\u200b", 15), "invisible or control"},
		{"erin", "erin2024!erin2024!", "besides the username"},
		{"erin", "my gatehouse account", "besides the name of this service"},
	} {
		r := h.do("POST", "/api/register", map[string]string{"username": c.user, "password": c.pw})
		expect(t, r, 400, "bad_request")
		if msg := r.str("message"); !strings.HasPrefix(msg, "password: ") || !strings.Contains(msg, c.rule) {
			t.Errorf("%q: message %q, want the rule %q", c.pw, msg, c.rule)
		}
	}
	r := h.do("POST", "/api/register", "{\"username\":\"erin\",\"password\":\"a fine passphrase \xff\xfe here\"}")
	expect(t, r, 400, "bad_request")
	if !strings.Contains(r.str("message"), "UTF-8") {
		t.Fatalf("invalid UTF-8: message %q", r.str("message"))
	}
	r = h.do("POST", "/api/register", `{"username":"erin","password":"a fine passphrase \ud800 here"}`)
	expect(t, r, 400, "bad_request")
	if !strings.Contains(r.str("message"), "U+FFFD") {
		t.Fatalf("lone surrogate: message %q", r.str("message"))
	}
	expect(t, h.do("POST", "/api/register", map[string]string{"username": "erin", "password": "a fine passphrase here"}), 201, "")
}
