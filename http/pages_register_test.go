package http_test

import (
	"fmt"
	"net/url"
	"strings"
	"testing"

	"github.com/gatehouse-auth/gatehouse/internal/smtptest"
)

// TestPageRegistration: with self-registration on, the sign-in page links to the registration
// page, whose form creates the account under the same rules as POST /api/register, mails a
// verification link read back from the SMTP server, and sends the browser to sign in.
func TestPageRegistration(t *testing.T) {
	o, srv := withMail(t, options{registration: true}, smtptest.Options{})
	h := newHarness(t, o)
	b := h.browser("page-register")
	expectPage(t, b.get("/"), 200, `href="/register"`)
	expectPage(t, b.get("/register"), 200, `action="/register"`, `name="confirm_password"`)
	const pw = "a registration passphrase"
	form := func(user, email, pw, confirm string) url.Values {
		return url.Values{"username": {user}, "email": {email}, "name": {"Rae"}, "password": {pw}, "confirm_password": {confirm}}
	}
	expectPage(t, b.post("/register", form("rae", "rae@example.com", pw, "another one")), 400, "differ")
	expectPage(t, b.post("/register", form("rae", "rae@example.com", "short", "short")), 400)
	expectPage(t, b.post("/register", form("Not A Name!", "rae@example.com", pw, pw)), 400)
	expectPage(t, b.post("/register", form("rae", "not an address", pw, pw)), 400)
	expectRedirect(t, b.post("/register", form("rae", "rae@example.com", pw, pw)), "/?msg=registered-verify")
	expectPage(t, b.get("/?msg=registered-verify"), 200, "confirm your e-mail address")
	// The same username, or the same address, again: 409 next to the field; nothing created.
	expectPage(t, b.post("/register", form("RAE", "other@example.com", pw, pw)), 409, "taken")
	expectPage(t, b.post("/register", form("rae2", "Rae@Example.com", pw, pw)), 409)
	tok := mailedToken(t, srv, "rae@example.com", "verify", 1)
	expectPage(t, b.get("/verify?token="+tok), 200, `action="/verify"`)
	expectPage(t, b.post("/verify", url.Values{"token": {tok}}), 200, "confirmed")
	b.signIn("rae", pw)
	access, _ := h.loginToken("rae", pw)
	if me := h.do("GET", "/api/me", nil, bearer(access)...); !strings.Contains(me.raw, `"email_verified":true`) || !strings.Contains(me.raw, `"role":"user"`) {
		t.Fatalf("me = %s", me.raw)
	}
	// Without an address: no mail, another message.
	expectRedirect(t, h.browser("x").post("/register", form("sol", "", pw, pw)), "/?msg=registered")
	// A form from another site creates nothing.
	expectPage(t, h.browser("y").postFrom("cross-site", "/register", form("mallory", "", pw, pw)), 403)
	expect(t, h.do("POST", "/api/login", map[string]string{"username": "mallory", "password": pw}), 401, "invalid_credentials")
}

// TestPageRegistrationOff: without self-registration the page is a 404 that says so, its form
// creates nothing, and the sign-in page does not link to it.
func TestPageRegistrationOff(t *testing.T) {
	h := newHarness(t, options{})
	b := h.browser("page-register-off")
	if p := b.get("/"); strings.Contains(p.body, `href="/register"`) {
		t.Fatal("the sign-in page links to a registration that is off")
	}
	expectPage(t, b.get("/register"), 404, "does not let visitors create accounts")
	const pw = "a registration passphrase"
	expectPage(t, b.post("/register", url.Values{"username": {"eve"}, "password": {pw}, "confirm_password": {pw}}), 404)
	expect(t, h.do("POST", "/api/login", map[string]string{"username": "eve", "password": pw}), 401, "invalid_credentials")
}

// TestPageRegistrationThrottled: the page and POST /api/register share the throttles: an
// address that registered 10 times through the API meets 429 on the page, with Retry-After.
func TestPageRegistrationThrottled(t *testing.T) {
	h := newHarness(t, options{registration: true})
	const pw = "a registration passphrase"
	for i := 0; i < 10; i++ {
		expect(t, h.do("POST", "/api/register", map[string]string{"username": fmt.Sprintf("api%d", i), "password": pw}), 201, "")
	}
	p := h.browser("z").post("/register", url.Values{"username": {"page0"}, "password": {pw}, "confirm_password": {pw}})
	expectPage(t, p, 429, "try again")
	if p.header.Get("Retry-After") == "" {
		t.Fatal("no Retry-After on the throttled page")
	}
}
