package http_test

import (
	"github.com/gatehouse-auth/gatehouse/authn"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse"
	"github.com/gatehouse-auth/gatehouse/internal/smtptest"
)

// A change of address goes through a link mailed to the new address; the account keeps the
// old one until the link is redeemed, once.
func TestChangeEmailThroughVerification(t *testing.T) {
	o, srv := withMail(t, options{}, smtptest.Options{})
	h := newHarness(t, o)
	h.addUser("liam", gatehouse.RoleUser)
	access, _ := h.loginToken("liam", testPassword)

	r := h.do("PATCH", "/api/me", map[string]any{"name": "Liam L.", "email": "liam.new@example.org"}, bearer(access)...)
	expect(t, r, 200, "")
	user := r.body["user"].(map[string]any)
	if user["name"] != "Liam L." || user["email"] != "liam@example.com" || r.body["email_verification_sent"] != true {
		t.Fatalf("PATCH /api/me = %s", r.raw)
	}
	tok := mailedToken(t, srv, "liam.new@example.org", "verify", 1)
	expect(t, h.do("GET", "/api/me", nil, bearer(access)...), 200, "") // a profile change signs nobody out
	expect(t, h.do("POST", "/api/email/verify", map[string]string{"token": tok}), 204, "")
	me := h.do("GET", "/api/me", nil, bearer(access)...)
	if u := me.body["user"].(map[string]any); u["email"] != "liam.new@example.org" || u["email_verified"] != true {
		t.Fatalf("after verification: %s", me.raw)
	}
	expect(t, h.do("POST", "/api/email/verify", map[string]string{"token": tok}), 401, "invalid_token")
	// A verification link is not a reset link.
	expect(t, h.do("POST", "/api/password/reset", map[string]string{"token": tok, "password": "whatever long passphrase"}), 401, "invalid_token")
}

func TestVerificationAttacks(t *testing.T) {
	o, srv := withMail(t, options{}, smtptest.Options{})
	h := newHarness(t, o)
	h.addUser("mia", gatehouse.RoleUser)
	h.addUser("noah", gatehouse.RoleUser)
	access, _ := h.loginToken("mia", testPassword)

	// Asking for another account's address tells nothing now; the link fails later.
	r := h.do("PATCH", "/api/me", map[string]any{"email": "NOAH@example.com"}, bearer(access)...)
	expect(t, r, 200, "")
	tok := mailedToken(t, srv, "NOAH@example.com", "verify", 1)
	expect(t, h.do("POST", "/api/email/verify", map[string]string{"token": tok}), 409, "conflict")

	// Expiry with the injected clock: 24 hours by default.
	expect(t, h.do("POST", "/api/me/email/verification", nil, bearer(access)...), 202, "")
	late := mailedToken(t, srv, "mia@example.com", "verify", 1)
	h.clock.Advance(24*time.Hour + time.Second)
	expect(t, h.do("POST", "/api/email/verify", map[string]string{"token": late}), 401, "invalid_token")
	access, _ = h.loginToken("mia", testPassword)

	// Header injection through the profile never reaches a mail.
	for _, body := range []map[string]any{
		{"name": "Mia\r\nBcc: victim@example.net"},
		{"email": "mia@example.com\r\nBcc: victim@example.net"},
		{"email": "mia@example.com, victim@example.net"},
		{"email": ""},
		{"nickname": "x"},
	} {
		expect(t, h.do("PATCH", "/api/me", body, bearer(access)...), 400, "bad_request")
	}
	// Re-sends are throttled per account.
	var last response
	for range 5 {
		last = h.do("POST", "/api/me/email/verification", nil, bearer(access)...)
	}
	expect(t, last, 429, "rate_limited")
	if last.header.Get("Retry-After") == "" {
		t.Fatal("429 without Retry-After")
	}
}

// Self-registration with an address mails a verification link; with the policy flag, sign-in
// waits for it (after the right password only).
func TestRegistrationVerifiesTheAddress(t *testing.T) {
	o, srv := withMail(t, options{registration: true,
		authnConfig: func(c *authn.Config) { c.RequireVerifiedEmail = true }}, smtptest.Options{})
	h := newHarness(t, o)
	r := h.do("POST", "/api/register", map[string]string{"username": "olga", "password": testPassword, "email": "olga@example.org"},
		"Origin", h.srv.URL)
	expect(t, r, 201, "")
	login := func(pw string) response {
		return h.do("POST", "/api/login", map[string]string{"username": "olga", "password": pw})
	}
	expect(t, login(testPassword), 403, "forbidden")
	expect(t, login("not the password at all"), 401, "invalid_credentials") // a guesser learns nothing
	tok := mailedToken(t, srv, "olga@example.org", "verify", 1)
	expect(t, h.do("POST", "/api/email/verify", map[string]string{"token": tok}), 204, "")
	h.loginToken("olga", testPassword)
	h.loginToken("admin", h.adminPW) // admins are exempt: the first admin has no address
}
