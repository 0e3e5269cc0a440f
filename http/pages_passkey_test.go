package http_test

import (
	"encoding/base64"
	"html"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/gatehouse-auth/gatehouse"
	"github.com/gatehouse-auth/gatehouse/internal/webauthntest"
	"github.com/gatehouse-auth/gatehouse/sqlite"
)

// The pages' security keys and passkeys, with the software authenticator of
// internal/webauthntest playing the browser's WebAuthn API (the page's script only carries the
// options to the browser and its answer back in a form; the browser tests of cmd/gatehouse run
// that script in chromium with its virtual authenticator).

var (
	optionsAttr = regexp.MustCompile(`data-webauthn-options="([^"]*)"`)
	regToken    = regexp.MustCompile(`name="registration_token" value="([^"]+)"`)
	passkeyTok  = regexp.MustCompile(`name="passkey_token" value="([^"]+)"`)
	mfaTokenRe  = regexp.MustCompile(`name="mfa_token" value="([^"]+)"`)
	keyIDRe     = regexp.MustCompile(`action="/account/mfa/webauthn/([A-Za-z0-9_-]+)/delete"`)
	nonceRe     = regexp.MustCompile(`script-src 'nonce-([A-Za-z0-9_-]+)'`)
)

// find returns the first group of re in the page, failing the test without one.
func find(t *testing.T, p page, re *regexp.Regexp) string {
	t.Helper()
	m := re.FindStringSubmatch(p.body)
	if m == nil {
		t.Fatalf("page lacks %s; status %d, body %s", re, p.status, p.body)
	}
	return html.UnescapeString(m[1])
}

// addKeyOnPage adds a security key from the account page of b with the authenticator a; it
// returns the page that answered the ceremony.
func addKeyOnPage(t *testing.T, b *browser, a *webauthntest.Authenticator, name string) page {
	t.Helper()
	p := b.post("/account/mfa/webauthn", url.Values{"name": {name}})
	expectPage(t, p, 200, "Add a security key or passkey", `data-webauthn="create"`)
	answer, err := a.Create([]byte(find(t, p, optionsAttr)))
	if err != nil {
		t.Fatal(err)
	}
	return b.post("/account/mfa/webauthn/finish", url.Values{"registration_token": {find(t, p, regToken)},
		"name": {name}, "credential": {string(answer)}})
}

// passkeySignIn signs b in with a passkey of a from the sign-in page and returns the answer
// of the finishing form and the answer a gave.
func passkeySignIn(t *testing.T, b *browser, a *webauthntest.Authenticator) (page, url.Values) {
	t.Helper()
	p := b.post("/signin/passkey", url.Values{"next": {"/account"}})
	expectPage(t, p, 200, "Sign in with a passkey", `data-webauthn="get"`)
	answer, err := a.Get([]byte(find(t, p, optionsAttr)))
	if err != nil {
		t.Fatal(err)
	}
	form := url.Values{"passkey_token": {find(t, p, passkeyTok)}, "credential": {string(answer)}, "next": {"/account"}}
	return b.post("/signin/passkey/finish", form), form
}

// TestPagePasskeyLifecycle: a key added from the account page is listed, asked for after the
// password (and passes), signs in without a password, and once removed (with the password)
// signs nobody in.
func TestPagePasskeyLifecycle(t *testing.T) {
	h, _ := mfaHarness(t, nil, nil, options{})
	h.addUser("kim", gatehouse.RoleUser)
	b := h.browser("Mozilla/5.0 (X11; Linux x86_64) Chrome/120.0")
	b.signIn("kim", testPassword)
	expectPage(t, b.get("/"), 303)
	expectPage(t, h.browser("x").get("/"), 200, `action="/signin/passkey"`, "Sign in with a passkey")
	a := webauthntest.New(mfaOrigin)
	// A browser without script submits the ceremony's form without an answer: nothing happens.
	p := b.post("/account/mfa/webauthn", url.Values{"name": {"nothing"}})
	expectPage(t, p, 200, "<noscript>")
	expectPage(t, b.post("/account/mfa/webauthn/finish", url.Values{"registration_token": {find(t, p, regToken)}, "name": {"nothing"}}),
		400, "needs JavaScript")
	expectPage(t, h.browser("x").post("/signin/passkey/finish", url.Values{"passkey_token": {"x"}}), 400, "sign in with your password")
	p = addKeyOnPage(t, b, a, "yubikey")
	expectPage(t, p, 200, "yubikey", `id="recovery-codes"`)
	if n := strings.Count(p.body, "<li><code>"); n != 10 {
		t.Fatalf("%d recovery codes shown with the first factor", n)
	}
	acct := b.get("/account")
	expectPage(t, acct, 200, `class="key-name">yubikey<`, "passkey", "10 unused recovery codes left")
	keyID := find(t, acct, keyIDRe)

	// After the password, the key passes the second step.
	b2 := h.browser("Mozilla/5.0 (X11; Linux x86_64) Chrome/120.0")
	p = b2.post("/", url.Values{"username": {"kim"}, "password": {testPassword}})
	expectPage(t, p, 200, "Second step", `data-webauthn="get"`, `<option value="recovery_code"`)
	if p.header.Get("Set-Cookie") != "" {
		t.Fatalf("a cookie before the second step: %v", p.header)
	}
	// Without script the key form carries no answer: the step is shown again, the token alive.
	expectPage(t, b2.post("/signin/second-factor", url.Values{"mfa_token": {find(t, p, mfaTokenRe)}, "method": {"webauthn"}}),
		400, "No answer came", `data-webauthn="get"`)
	answer, err := a.Get([]byte(find(t, p, optionsAttr)))
	if err != nil {
		t.Fatal(err)
	}
	expectRedirect(t, b2.post("/signin/second-factor", url.Values{"mfa_token": {find(t, p, mfaTokenRe)}, "method": {"webauthn"},
		"credential": {string(answer)}}), "/account")
	expectPage(t, b2.get("/account"), 200, "Your account")
	expectMethods(t, h, b2, "pwd hwk mfa")

	// Without a password.
	b3 := h.browser("Mozilla/5.0 (X11; Linux x86_64) Chrome/120.0")
	p, _ = passkeySignIn(t, b3, a)
	expectRedirect(t, p, "/account")
	expectPage(t, b3.get("/account"), 200, "Your account", "kim")
	expectPage(t, b3.get("/account"), 200, "<time") // the key's last use is shown
	expectMethods(t, h, b3, "hwk user mfa")         // the key, its user verification, two factors

	// Removing asks for the password or a code; a wrong one changes nothing.
	expectPage(t, b.post("/account/mfa/webauthn/"+keyID+"/delete", url.Values{}), 400, "Enter your password")
	expectPage(t, b.post("/account/mfa/webauthn/"+keyID+"/delete", url.Values{"password": {"not the password at all"}}), 400, "That password is not right")
	expectPage(t, b.get("/account"), 200, `class="key-name">yubikey<`)
	expectPage(t, b.post("/account/mfa/webauthn/%25%25/delete", url.Values{"password": {testPassword}}), 404)
	expectRedirect(t, b.post("/account/mfa/webauthn/"+keyID+"/delete", url.Values{"password": {testPassword}}), "/account?msg=key-removed")
	expectPage(t, b.get("/account"), 200, "No security key or passkey yet")

	// Removed, the passkey signs nobody in, and the password alone signs in again.
	p, _ = passkeySignIn(t, h.browser("x"), a)
	expectPage(t, p, 401, "That passkey was not accepted")
	if p.header.Get("Set-Cookie") != "" {
		t.Fatalf("a refused passkey set a cookie: %v", p.header)
	}
	h.browser("y").signIn("kim", testPassword)
}

// TestPagePasskeyAttacks: an assertion made for another user's challenge, a replayed
// assertion, a registration answer for another user's ceremony, and cross-origin posts to the
// pages' WebAuthn endpoints are all refused and change nothing.
func TestPagePasskeyAttacks(t *testing.T) {
	h, _ := mfaHarness(t, nil, nil, options{})
	h.addUser("alice", gatehouse.RoleUser)
	h.addUser("mallory", gatehouse.RoleUser)
	alice, mallory := h.browser("alice"), h.browser("mallory")
	alice.signIn("alice", testPassword)
	mallory.signIn("mallory", testPassword)
	aliceKey, malloryKey := webauthntest.New(mfaOrigin), webauthntest.New(mfaOrigin)
	expectPage(t, addKeyOnPage(t, alice, aliceKey, "alice's key"), 200, `id="recovery-codes"`)
	expectPage(t, addKeyOnPage(t, mallory, malloryKey, "mallory's key"), 200, `id="recovery-codes"`)

	// Mallory knows alice's password and answers alice's second step with her own key.
	b := h.browser("m2")
	p := b.post("/", url.Values{"username": {"alice"}, "password": {testPassword}})
	expectPage(t, p, 200, "Second step")
	token := find(t, p, mfaTokenRe)
	options := []byte(find(t, p, optionsAttr))
	if _, err := malloryKey.Get(options); err == nil {
		t.Fatal("mallory's authenticator answered a request that names only alice's key")
	}
	// Her key signs alice's challenge anyway (a tampered browser does what it is told).
	forged, err := malloryKey.Assert(malloryKey.Creds[0], challengeOf(t, options))
	if err != nil {
		t.Fatal(err)
	}
	p = b.post("/signin/second-factor", url.Values{"mfa_token": {token}, "method": {"webauthn"}, "credential": {string(forged)}})
	expectPage(t, p, 401, "not accepted", `data-webauthn="get"`)
	if p.header.Get("Set-Cookie") != "" {
		t.Fatalf("another user's key set a cookie: %v", p.header)
	}
	// Alice's real answer passes; replayed, on the same or a new sign-in, it passes nothing.
	answer, err := aliceKey.Get(options)
	if err != nil {
		t.Fatal(err)
	}
	form := url.Values{"mfa_token": {token}, "method": {"webauthn"}, "credential": {string(answer)}}
	expectRedirect(t, h.browser("a2").post("/signin/second-factor", form), "/account")
	expectPage(t, h.browser("a3").post("/signin/second-factor", form), 401, "Please sign in again")
	b = h.browser("a4")
	p = b.post("/", url.Values{"username": {"alice"}, "password": {testPassword}})
	form.Set("mfa_token", find(t, p, mfaTokenRe))
	expectPage(t, b.post("/signin/second-factor", form), 401, "not accepted")

	// A passkey answer replayed after it signed in: refused.
	p, finish := passkeySignIn(t, h.browser("a5"), aliceKey)
	expectRedirect(t, p, "/account")
	p = h.browser("a6").post("/signin/passkey/finish", finish)
	expectPage(t, p, 401, "Please try again")
	// An answer for one passkey ceremony on another's token: refused.
	other := h.browser("a7").post("/signin/passkey", url.Values{})
	finish.Set("passkey_token", find(t, other, passkeyTok))
	expectPage(t, h.browser("a7").post("/signin/passkey/finish", finish), 401, "not accepted")

	// Mallory's session finishes alice's registration ceremony: refused, nothing is added.
	p = alice.post("/account/mfa/webauthn", url.Values{"name": {"second"}})
	created, err := malloryKey.Create([]byte(find(t, p, optionsAttr)))
	if err != nil {
		t.Fatal(err)
	}
	mallory.get("/account")
	expectPage(t, mallory.post("/account/mfa/webauthn/finish", url.Values{"registration_token": {find(t, p, regToken)},
		"name": {"planted"}, "credential": {string(created)}}), 400, "No security key added")
	if body := alice.get("/account").body + mallory.get("/account").body; strings.Contains(body, "planted") {
		t.Fatal("a registration finished by another user's session was stored")
	}

	// Cross-origin posts to every WebAuthn page endpoint are refused before anything runs.
	acct := alice.get("/account")
	keyID := find(t, acct, keyIDRe)
	for _, path := range []string{"/signin/passkey", "/signin/passkey/finish", "/account/mfa/webauthn",
		"/account/mfa/webauthn/finish", "/account/mfa/webauthn/" + keyID + "/delete", "/account/mfa/webauthn/" + keyID + "/rename",
		"/account/mfa/totp/delete",
		"/account/mfa/recovery-codes", "/signin/second-factor"} {
		p := alice.postFrom("cross-site", path, url.Values{"csrf": {alice.csrf}, "password": {testPassword}})
		expectPage(t, p, 403, "Request refused")
	}
	// Same origin without the page's token: refused too.
	expectPage(t, alice.post("/account/mfa/webauthn/"+keyID+"/delete", url.Values{"csrf": {"forged"}, "password": {testPassword}}), 403)
	expectPage(t, alice.get("/account"), 200, `class="key-name">alice&#39;s key<`, "10 unused recovery codes left")
}

// challengeOf returns the challenge of assertion options (JSON as the page carries them).
func challengeOf(t *testing.T, options []byte) []byte {
	t.Helper()
	m := regexp.MustCompile(`"challenge":"([A-Za-z0-9_-]+)"`).FindSubmatch(options)
	if m == nil {
		t.Fatalf("no challenge in %s", options)
	}
	c, err := base64.RawURLEncoding.DecodeString(string(m[1]))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestPageScriptPolicy: pages run no script but the one the response's nonce allows. The
// nonce is new in every response; no page has an inline script or event handler; pages
// without a ceremony allow no script at all; the policy never allows inline code.
func TestPageScriptPolicy(t *testing.T) {
	h, _ := mfaHarness(t, nil, nil, options{})
	h.addUser("nia", gatehouse.RoleUser)
	b := h.browser("nia")
	b.signIn("nia", testPassword)
	seen := map[string]bool{}
	check := func(p page, wantScript bool) {
		t.Helper()
		csp := p.header.Get("Content-Security-Policy")
		for _, bad := range []string{"unsafe-inline", "unsafe-eval", "unsafe-hashes", "strict-dynamic"} {
			if strings.Contains(csp, bad) {
				t.Fatalf("policy allows %q: %s", bad, csp)
			}
		}
		if !strings.Contains(csp, "default-src 'none'") {
			t.Fatalf("policy without default-src 'none': %s", csp)
		}
		if regexp.MustCompile(`(?i)\son[a-z]+\s*=`).MatchString(p.body) || strings.Contains(p.body, "javascript:") {
			t.Fatalf("an inline handler in the page: %s", p.body)
		}
		tags := regexp.MustCompile(`(?is)<script\b([^>]*)>(.*?)</script>`).FindAllStringSubmatch(p.body, -1)
		m := nonceRe.FindStringSubmatch(csp)
		if !wantScript {
			if m != nil || strings.Contains(csp, "script-src") || len(tags) != 0 {
				t.Fatalf("a page without a ceremony allows or loads script: %s; %d script tags", csp, len(tags))
			}
			return
		}
		if m == nil || len(m[1]) < 22 || !strings.HasSuffix(csp, "; script-src 'nonce-"+m[1]+"'") {
			t.Fatalf("want one script source, a nonce of at least 128 bits: %s", csp)
		}
		if seen[m[1]] {
			t.Fatalf("nonce %s used in two responses", m[1])
		}
		seen[m[1]] = true
		if len(tags) != 1 {
			t.Fatalf("%d script tags, want the one", len(tags))
		}
		if attrs, body := tags[0][1], tags[0][2]; !strings.Contains(attrs, `nonce="`+m[1]+`"`) ||
			!strings.Contains(attrs, `src="/assets/webauthn.js"`) || strings.TrimSpace(body) != "" {
			t.Fatalf("script tag %q", tags[0][0])
		}
	}
	check(b.get("/account"), false)
	check(h.browser("x").get("/"), false)
	for range 3 {
		check(b.post("/account/mfa/webauthn", url.Values{"name": {"k"}}), true)
		check(h.browser("x").post("/signin/passkey", url.Values{}), true)
	}
	a := webauthntest.New(mfaOrigin)
	expectPage(t, addKeyOnPage(t, b, a, "k"), 200)
	check(h.browser("z").post("/", url.Values{"username": {"nia"}, "password": {testPassword}}), true)
	// A name with markup is shown as text, in the page and in the ceremony's hidden field.
	p := b.post("/account/mfa/webauthn", url.Values{"name": {`<script>alert(1)</script>`}})
	check(p, true)
	// The script itself is served as JavaScript, cacheable, and never sniffed as anything else.
	js := b.get("/assets/webauthn.js")
	expectPage(t, js, 200, "navigator.credentials.create", "navigator.credentials.get")
	if ct := js.header.Get("Content-Type"); !strings.HasPrefix(ct, "text/javascript") || js.header.Get("X-Content-Type-Options") != "nosniff" {
		t.Fatalf("script served as %q", ct)
	}
}

// TestPageFactorManagement removes the authenticator app from the account page (with a
// current code; not without one) and makes new recovery codes there: shown once, the old ones
// dead.
func TestPageFactorManagement(t *testing.T) {
	h, _ := mfaHarness(t, nil, nil, options{})
	h.addUser("ole", gatehouse.RoleUser)
	b := h.browser("ole")
	b.signIn("ole", testPassword)
	access, _ := h.loginToken("ole", testPassword)
	secret, oldCodes := enrolTOTPOverAPI(t, h, access)
	acct := b.get("/account")
	expectPage(t, acct, 200, `id="totp-on"`, `action="/account/mfa/totp/delete"`, `id="totp-code"`)

	p := b.post("/account/mfa/recovery-codes", url.Values{})
	expectPage(t, p, 200, "New recovery codes", `id="recovery-codes"`)
	fresh := regexp.MustCompile(`<li><code>([^<]+)</code></li>`).FindAllStringSubmatch(p.body, -1)
	if len(fresh) != 10 {
		t.Fatalf("%d new codes shown", len(fresh))
	}
	r := startLogin(t, h, "ole", "token")
	expect(t, h.do("POST", "/api/login/mfa", map[string]string{"mfa_token": r.str("mfa_token"), "method": "recovery_code", "code": oldCodes[0]}), 401, "invalid_credentials")
	expect(t, h.do("POST", "/api/login/mfa", map[string]string{"mfa_token": r.str("mfa_token"), "method": "recovery_code", "code": fresh[0][1]}), 200, "")

	wrong := "000000"
	if totpCode(t, secret, h.clock.Now()) == wrong {
		wrong = "111111"
	}
	expectPage(t, b.post("/account/mfa/totp/delete", url.Values{}), 400, "Enter your password")
	expectPage(t, b.post("/account/mfa/totp/delete", url.Values{"code": {wrong}}), 400, "That code is not right")
	expectPage(t, b.get("/account"), 200, `id="totp-on"`)
	expectRedirect(t, b.post("/account/mfa/totp/delete", url.Values{"code": {totpCode(t, secret, h.clock.Now())}}), "/account?msg=totp-removed")
	expectPage(t, b.get("/account?msg=totp-removed"), 200, "The authenticator app is removed", "Set up an authenticator app",
		"You get ten recovery codes with your first second factor")
	h.browser("again").signIn("ole", testPassword) // the password alone again
}

// TestPageKeyRenameAndAdminReset: a key is renamed from the account page (a bad name changes
// nothing); an admin sees a user's factors and resets them (with the box ticked; never the
// admin's own), which signs the user out everywhere and is audited.
func TestPageKeyRenameAndAdminReset(t *testing.T) {
	h, _ := mfaHarness(t, nil, nil, options{})
	h.addUser("rae", gatehouse.RoleUser)
	b := h.browser("rae")
	b.signIn("rae", testPassword)
	expectPage(t, addKeyOnPage(t, b, webauthntest.New(mfaOrigin), "old name"), 200)
	keyID := find(t, b.get("/account"), keyIDRe)
	expectPage(t, b.post("/account/mfa/webauthn/"+keyID+"/rename", url.Values{"name": {strings.Repeat("x", 65)}}), 400, `id="factor-error"`)
	expectPage(t, b.post("/account/mfa/webauthn/AAAA/rename", url.Values{"name": {"x"}}), 404)
	expectRedirect(t, b.post("/account/mfa/webauthn/"+keyID+"/rename", url.Values{"name": {"new name"}}), "/account?msg=key-renamed")
	expectPage(t, b.get("/account"), 200, `class="key-name">new name<`)
	events, _ := sqlite.NewAuditStore(h.db, 0).ListAudit(t.Context(), gatehouse.AuditQuery{Action: gatehouse.AuditFactorRenamed, Limit: 5})
	if len(events) != 1 || events[0].Detail != "webauthn: new name" {
		t.Fatalf("factor_renamed events: %+v", events)
	}

	u, err := h.users.UserByUsername(t.Context(), "rae")
	if err != nil {
		t.Fatal(err)
	}
	admin := h.browser("admin")
	admin.signIn("admin", h.adminPW)
	p := admin.get("/admin/users/" + u.ID)
	expectPage(t, p, 200, "Second factors", `class="key-name">new name<`, "10 unused", `action="/admin/users/`+u.ID+`/mfa/reset"`)
	expectPage(t, admin.post("/admin/users/"+u.ID+"/mfa/reset", url.Values{}), 400, "Tick the box")
	expectPage(t, admin.postFrom("cross-site", "/admin/users/"+u.ID+"/mfa/reset", url.Values{"confirm": {"yes"}, "csrf": {admin.csrf}}), 403)
	expectPage(t, b.get("/account"), 200, `class="key-name">new name<`) // nothing changed yet
	expectRedirect(t, admin.post("/admin/users/"+u.ID+"/mfa/reset", url.Values{"confirm": {"yes"}}), "/admin/users/"+u.ID+"?msg=factors-reset")
	expectPage(t, admin.get("/admin/users/"+u.ID+"?msg=factors-reset"), 200, "Every second factor of the user is removed", "0 unused")
	if p := b.get("/account"); p.status != 303 {
		t.Fatalf("the user's session survived the reset: %d", p.status)
	}
	h.browser("again").signIn("rae", testPassword) // the password alone again
	events, _ = sqlite.NewAuditStore(h.db, 0).ListAudit(t.Context(), gatehouse.AuditQuery{Action: gatehouse.AuditFactorsReset, Limit: 5})
	if len(events) != 1 || events[0].UserID != u.ID || events[0].ActorID != adminID(t, h) {
		t.Fatalf("factors_reset events: %+v", events)
	}
	expectPage(t, admin.post("/admin/users/"+adminID(t, h)+"/mfa/reset", url.Values{"confirm": {"yes"}}), 400, "your account page")
}

func adminID(t *testing.T, h *harness) string {
	t.Helper()
	u, err := h.users.UserByUsername(t.Context(), "admin")
	if err != nil {
		t.Fatal(err)
	}
	return u.ID
}

// expectMethods checks what the session of b records of its sign-in (GET /api/me: amr, and
// acr aal2 for two factors).
func expectMethods(t *testing.T, h *harness, b *browser, amr string) {
	t.Helper()
	r := h.do("GET", "/api/me", nil, cookie(b.cookieHeader())...)
	expect(t, r, 200, "")
	var got []string
	for _, m := range r.body["amr"].([]any) {
		got = append(got, m.(string))
	}
	if strings.Join(got, " ") != amr || r.str("acr") != "aal2" {
		t.Fatalf("the session records amr %v acr %q, want %q aal2", got, r.str("acr"), amr)
	}
}
