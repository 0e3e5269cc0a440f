package http_test

import (
	"net/url"
	"strings"
	"testing"

	"github.com/gatehouse-auth/gatehouse"
	"github.com/gatehouse-auth/gatehouse/internal/smtptest"
)

// The pages of a reset: "Forgot password?" on the sign-in page, the form, the mail read back
// from the SMTP server, the reset form, and signing in with the new password.
func TestPagePasswordReset(t *testing.T) {
	o, srv := withMail(t, options{}, smtptest.Options{})
	h := newHarness(t, o)
	u := h.addUser("pia", gatehouse.RoleUser)
	b := h.browser("page-reset")
	expectPage(t, b.get("/"), 200, `href="/forgot"`)
	expectPage(t, b.get("/forgot"), 200, `action="/forgot"`)
	sent := b.post("/forgot", url.Values{"email": {"pia@example.com"}})
	none := b.post("/forgot", url.Values{"email": {"nobody@example.com"}})
	expectPage(t, sent, 200, "is on its way")
	if sent.body != none.body {
		t.Fatal("the page differs between an address with an account and one without")
	}
	tok := mailedToken(t, srv, u.Email, "reset", 1)
	// Opening the link does not use it (mail scanners fetch links).
	expectPage(t, b.get("/reset?token="+tok), 200, `name="token" value="`+tok+`"`)
	expectPage(t, b.get("/reset?token="+tok), 200)
	expectPage(t, b.post("/reset", url.Values{"token": {tok}, "password": {"x"}, "confirm_password": {"y"}}), 400, "differ")
	expectPage(t, b.post("/reset", url.Values{"token": {tok}, "password": {"short"}, "confirm_password": {"short"}}), 400)
	const pw = "a brand new page passphrase"
	expectRedirect(t, b.post("/reset", url.Values{"token": {tok}, "password": {pw}, "confirm_password": {pw}}), "/?msg=password-reset")
	expectPage(t, b.post("/reset", url.Values{"token": {tok}, "password": {pw}, "confirm_password": {pw}}), 401, "does not work")
	b.signIn("pia", pw)
	// A form from another site is refused.
	expectPage(t, h.browser("x").postFrom("cross-site", "/forgot", url.Values{"email": {"pia@example.com"}}), 403)
	expectPage(t, b.get("/reset?token=not-a-token"), 401)
}

func TestPageVerifyEmail(t *testing.T) {
	o, srv := withMail(t, options{}, smtptest.Options{})
	h := newHarness(t, o)
	h.addUser("quinn", gatehouse.RoleUser)
	access, _ := h.loginToken("quinn", testPassword)
	expect(t, h.do("POST", "/api/me/email/verification", nil, bearer(access)...), 202, "")
	tok := mailedToken(t, srv, "quinn@example.com", "verify", 1)
	b := h.browser("page-verify")
	p := b.get("/verify?token=" + tok)
	expectPage(t, p, 200, `action="/verify"`)
	expectPage(t, b.post("/verify", url.Values{"token": {tok}}), 200, "confirmed")
	expectPage(t, b.post("/verify", url.Values{"token": {tok}}), 401)
	me := h.do("GET", "/api/me", nil, bearer(access)...)
	if !strings.Contains(me.raw, `"email_verified":true`) {
		t.Fatalf("me = %s", me.raw)
	}
}
