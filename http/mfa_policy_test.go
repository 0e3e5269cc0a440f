package http_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse"
	"github.com/gatehouse-auth/gatehouse/authn"
	"github.com/gatehouse-auth/gatehouse/internal/webauthntest"
	"github.com/gatehouse-auth/gatehouse/mfa"
)

// registerPasskey registers a discoverable credential of a over the API with access.
func registerPasskey(t *testing.T, h *harness, access string, a *webauthntest.Authenticator) {
	t.Helper()
	r := h.do("POST", "/api/me/mfa/webauthn", nil, bearer(access)...)
	expect(t, r, 200, "")
	resp, err := a.Create(webauthnOptions(t, r.body["options"]))
	if err != nil {
		t.Fatal(err)
	}
	expect(t, h.do("POST", "/api/me/mfa/webauthn/finish", map[string]any{"registration_token": r.str("registration_token"),
		"name": "phone", "credential": json.RawMessage(resp)}, bearer(access)...), 201, "")
}

// passkeyLogin signs in with a passkey alone, in token mode.
func passkeyLogin(t *testing.T, h *harness, a *webauthntest.Authenticator) response {
	t.Helper()
	b := h.do("POST", "/api/login/passkey", map[string]string{"mode": "token"})
	expect(t, b, 200, "")
	assertion, err := a.Get(webauthnOptions(t, b.body["options"]))
	if err != nil {
		t.Fatal(err)
	}
	return h.do("POST", "/api/login/passkey/finish", map[string]any{"passkey_token": b.str("passkey_token"), "credential": json.RawMessage(assertion)})
}

// TestPasskeyLoginNeedsVerifiedAddress: with --require-verified-email, a passkey sign-in is
// refused like a password sign-in while the address is not verified, and issues nothing.
func TestPasskeyLoginNeedsVerifiedAddress(t *testing.T) {
	h, _ := mfaHarness(t, nil, nil, options{authnConfig: func(c *authn.Config) { c.RequireVerifiedEmail = true }})
	u := h.addUser("vera", gatehouse.RoleUser)
	setVerified := func(v bool) {
		if _, err := h.users.UpdateUser(context.Background(), u.ID, gatehouse.UserUpdate{EmailVerified: &v}); err != nil {
			t.Fatal(err)
		}
	}
	setVerified(true)
	access, _ := h.loginToken("vera", testPassword)
	a := webauthntest.New(mfaOrigin)
	registerPasskey(t, h, access, a)
	r := passkeyLogin(t, h, a)
	expect(t, r, 200, "")
	if got, acr := amrOf(t, tokenClaims(t, r.str("access_token"))); acr != "aal2" || len(got) != 3 || got[1] != "user" {
		t.Fatalf("passkey sign-in: amr %q acr %q", got, acr)
	}
	setVerified(false)
	r = passkeyLogin(t, h, a)
	expect(t, r, 403, "forbidden")
	if r.str("access_token") != "" || len(r.header.Values("Set-Cookie")) != 0 {
		t.Fatalf("a credential for an unverified address: %s", r.raw)
	}
	expect(t, h.do("POST", "/api/login", map[string]string{"username": "vera", "password": testPassword}), 403, "forbidden")
}

// policyHarness is a server whose admins must sign in with a second factor.
func policyHarness(t *testing.T) *harness {
	t.Helper()
	h, _ := mfaHarness(t, nil, nil, options{authnConfig: func(c *authn.Config) {
		c.RequireMFARoles = []gatehouse.Role{gatehouse.RoleAdmin}
	}})
	return h
}

// startEnrolment logs in with the right password and expects the enrolment step, with no
// credential of any kind.
func startEnrolment(t *testing.T, h *harness, user, pw, mode string) string {
	t.Helper()
	r := h.do("POST", "/api/login", map[string]string{"username": user, "password": pw, "mode": mode})
	expect(t, r, 200, "")
	m, _ := r.body["methods"].([]any)
	if r.body["mfa_required"] != true || r.body["mfa_enrollment_required"] != true || len(m) != 1 || m[0] != "totp" || r.str("mfa_token") == "" {
		t.Fatalf("login of an admin without a factor answered %s", r.raw)
	}
	if r.str("access_token") != "" || r.str("refresh_token") != "" || len(r.header.Values("Set-Cookie")) != 0 {
		t.Fatalf("a credential before enrolment: %s %v", r.raw, r.header)
	}
	return r.str("mfa_token")
}

// TestRequireMFARolesEnrolAtSignIn: an admin without a factor gets no credential for the
// password alone; the enrolment step's token gives the key once, a wrong code is refused, a
// right one signs in with two factors and the recovery codes, and the token is then used up.
// The token does not pass for a second step, expires, and users of other roles sign in as
// before.
func TestRequireMFARolesEnrolAtSignIn(t *testing.T) {
	h := policyHarness(t)
	h.addUser("uma", gatehouse.RoleUser)
	h.addUser("ada", gatehouse.RoleAdmin)
	if r := h.do("POST", "/api/login", map[string]string{"username": "uma", "password": testPassword, "mode": "token"}); r.str("access_token") == "" {
		t.Fatalf("a user of another role: %s", r.raw)
	}
	tok := startEnrolment(t, h, "admin", h.adminPW, "token")
	expect(t, h.do("POST", "/api/login/mfa", map[string]string{"mfa_token": tok, "method": "totp", "code": "123456"}), 401, "invalid_token")
	expect(t, h.do("POST", "/api/login/mfa/totp", map[string]string{}), 400, "bad_request")
	expect(t, h.do("POST", "/api/login/mfa/totp", map[string]string{"mfa_token": "not-a-token"}), 401, "invalid_token")
	en := h.do("POST", "/api/login/mfa/totp", map[string]string{"mfa_token": tok})
	expect(t, en, 200, "")
	secret := en.str("secret")
	wrong := "000000"
	if totpCode(t, secret, h.clock.Now()) == wrong {
		wrong = "111111"
	}
	confirm := func(code string) response {
		return h.do("POST", "/api/login/mfa/totp/confirm", map[string]string{"mfa_token": tok, "code": code})
	}
	expect(t, confirm(""), 400, "bad_request")
	if r := confirm(wrong); r.status != 401 || r.str("access_token") != "" {
		t.Fatalf("wrong code: %d %s", r.status, r.raw)
	}
	r := confirm(totpCode(t, secret, h.clock.Now()))
	expect(t, r, 200, "")
	if codes, _ := r.body["recovery_codes"].([]any); len(codes) != 10 || r.str("refresh_token") == "" {
		t.Fatalf("enrolment answered %s", r.raw)
	}
	access := r.str("access_token")
	checkAMR(t, h, "enrolled at sign-in", access, access, []string{"pwd", "otp", "mfa"}, "aal2")
	expect(t, h.do("GET", "/api/admin/users", nil, bearer(access)...), 200, "")
	// Used up: neither the key nor the confirmation answers again.
	h.clock.Advance(30 * time.Second)
	expect(t, confirm(totpCode(t, secret, h.clock.Now())), 401, "invalid_token")
	expect(t, h.do("POST", "/api/login/mfa/totp", map[string]string{"mfa_token": tok}), 401, "invalid_token")
	// From now on the admin passes the second step like everyone with a factor.
	p := h.do("POST", "/api/login", map[string]string{"username": "admin", "password": h.adminPW, "mode": "session"})
	if m, _ := p.body["methods"].([]any); p.body["mfa_required"] != true || p.body["mfa_enrollment_required"] != nil || len(m) == 0 || m[0] != "totp" {
		t.Fatalf("second sign-in: %s", p.raw)
	}

	// An enrolment token expires with the second step's lifetime.
	tok = startEnrolment(t, h, "ada", testPassword, "session")
	h.clock.Advance(mfa.DefaultChallengeTTL + time.Second)
	expect(t, h.do("POST", "/api/login/mfa/totp", map[string]string{"mfa_token": tok}), 401, "invalid_token")
}

// TestRequireMFARolesRefusesOneFactor: a token or session of an admin whose sign-in used the
// password alone (made before the policy, or restored) is refused with 401
// insufficient_user_authentication and the RFC 9470 challenge; the last factor of an admin
// cannot be removed, while a second one can.
func TestRequireMFARolesRefusesOneFactor(t *testing.T) {
	h := policyHarness(t)
	ctx := context.Background()
	admin, err := h.users.UserByUsername(ctx, "admin")
	if err != nil {
		t.Fatal(err)
	}
	old, _, err := h.server.Authn.Tokens().IssueFor(admin, gatehouse.MethodPassword, "", h.clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	r := h.do("GET", "/api/me", nil, bearer(old)...)
	expect(t, r, 401, "insufficient_user_authentication")
	if c := r.header.Get("WWW-Authenticate"); !strings.Contains(c, `acr_values="aal2"`) {
		t.Fatalf("WWW-Authenticate %q", c)
	}
	// Enrol at sign-in, in session mode: the cookie works.
	tok := startEnrolment(t, h, "admin", h.adminPW, "session")
	en := h.do("POST", "/api/login/mfa/totp", map[string]string{"mfa_token": tok})
	r = h.do("POST", "/api/login/mfa/totp/confirm", map[string]string{"mfa_token": tok, "code": totpCode(t, en.str("secret"), h.clock.Now())})
	expect(t, r, 200, "")
	var sess string
	for _, c := range (&http.Response{Header: r.header}).Cookies() {
		if c.Name == h.server.CookieName() {
			sess = c.Name + "=" + c.Value
		}
	}
	expect(t, h.do("GET", "/api/me", nil, cookie(sess)...), 200, "")
	// The only factor stays.
	expect(t, h.do("DELETE", "/api/me/mfa/totp", map[string]string{"password": h.adminPW}, cookie(sess)...), 409, "conflict")
	f := h.do("GET", "/api/me/mfa", nil, cookie(sess)...)
	if f.body["totp"] != true {
		t.Fatalf("the factor went: %s", f.raw)
	}
	// With a security key as well, the app can go.
	a := webauthntest.New(mfaOrigin)
	w := h.do("POST", "/api/me/mfa/webauthn", nil, cookie(sess)...)
	expect(t, w, 200, "")
	resp, err := a.Create(webauthnOptions(t, w.body["options"]))
	if err != nil {
		t.Fatal(err)
	}
	expect(t, h.do("POST", "/api/me/mfa/webauthn/finish", map[string]any{"registration_token": w.str("registration_token"),
		"name": "key", "credential": json.RawMessage(resp)}, cookie(sess)...), 201, "")
	expect(t, h.do("DELETE", "/api/me/mfa/totp", map[string]string{"password": h.adminPW}, cookie(sess)...), 204, "")
	f = h.do("GET", "/api/me/mfa", nil, cookie(sess)...)
	creds, _ := f.body["webauthn"].([]any)
	if len(creds) != 1 {
		t.Fatalf("factors: %s", f.raw)
	}
	id := creds[0].(map[string]any)["id"].(string)
	expect(t, h.do("DELETE", "/api/me/mfa/webauthn/credentials/"+id, nil, cookie(sess)...), 409, "conflict")
}

// TestPageEnrolAtSignIn: on the sign-in page, an admin without a factor sets up an
// authenticator app before getting a session: no cookie until a right first code, a wrong code
// shows a new key, the recovery codes are shown once, the token is single-use, and an open
// redirect in next is dropped.
func TestPageEnrolAtSignIn(t *testing.T) {
	h := policyHarness(t)
	b := h.browser("Mozilla/5.0 (X11; Linux x86_64) Chrome/120.0")
	p := b.post("/", url.Values{"username": {"admin"}, "password": {h.adminPW}, "next": {"//evil.test/"}})
	expectPage(t, p, 200, "Set up a second factor", `name="mfa_token"`, `<svg`, `id="totp-secret"`, `autocomplete="one-time-code"`)
	if p.header.Get("Set-Cookie") != "" {
		t.Fatalf("a cookie before enrolment: %v", p.header)
	}
	token := regexp.MustCompile(`name="mfa_token" value="([^"]+)"`).FindStringSubmatch(p.body)[1]
	secretOf := func(body string) string {
		return regexp.MustCompile(`id="totp-secret">([A-Z2-7]+)<`).FindStringSubmatch(body)[1]
	}
	secret := secretOf(p.body)
	wrong := "000000"
	if totpCode(t, secret, h.clock.Now()) == wrong {
		wrong = "111111"
	}
	p = b.post("/signin/enrol", url.Values{"mfa_token": {token}, "code": {wrong}, "next": {"//evil.test/"}})
	expectPage(t, p, 401, "That code is not right", token)
	if p.header.Get("Set-Cookie") != "" {
		t.Fatalf("a cookie for a wrong code: %v", p.header)
	}
	secret = secretOf(p.body) // a new key: the one shown last is the one to confirm
	p = b.post("/signin/enrol", url.Values{"mfa_token": {token}, "code": {totpCode(t, secret, h.clock.Now())}, "next": {"//evil.test/"}})
	expectPage(t, p, 200, "Second factor set up", `id="recovery-codes"`, `href="/account"`)
	if strings.Contains(p.body, "evil.test") || p.header.Get("Set-Cookie") == "" {
		t.Fatalf("after enrolment: cookie %q, body %s", p.header.Get("Set-Cookie"), p.body)
	}
	expectPage(t, b.get("/admin"), 200, "Users")
	h.clock.Advance(30 * time.Second)
	p = h.browser("Mozilla/5.0 (X11; Linux x86_64) Chrome/120.0").post("/signin/enrol",
		url.Values{"mfa_token": {token}, "code": {totpCode(t, secret, h.clock.Now())}})
	expectPage(t, p, 401, "Sign in again")
}

// auditOutcomes returns "action outcome detail" of each audit event of the user, oldest first.
func auditOutcomes(t *testing.T, h *harness, admin, userID string) []string {
	t.Helper()
	r := h.do("GET", "/api/admin/audit?user_id="+userID+"&limit=100", nil, bearer(admin)...)
	expect(t, r, 200, "")
	var out []string
	events, _ := r.body["events"].([]any)
	for i := len(events) - 1; i >= 0; i-- {
		e := events[i].(map[string]any)
		out = append(out, e["action"].(string)+" "+e["outcome"].(string)+" "+e["detail"].(string))
	}
	return out
}

// TestMFAAuditTrail: every change and use of a factor is on the audit trail, with its
// outcome, and never with a code: a wrong first code, the enrolment, a rename, a wrong and a
// right second step, a recovery code, new recovery codes, a removal.
func TestMFAAuditTrail(t *testing.T) {
	h, _ := mfaHarness(t, nil, nil, options{})
	u := h.addUser("ava", gatehouse.RoleUser)
	admin, _ := h.loginToken("admin", h.adminPW)
	access, _ := h.loginToken("ava", testPassword)
	en := h.do("POST", "/api/me/mfa/totp", nil, bearer(access)...)
	secret := en.str("secret")
	wrong := "000000"
	if totpCode(t, secret, h.clock.Now()) == wrong {
		wrong = "111111"
	}
	h.do("POST", "/api/me/mfa/totp/confirm", map[string]string{"code": wrong}, bearer(access)...)
	conf := h.do("POST", "/api/me/mfa/totp/confirm", map[string]string{"code": totpCode(t, secret, h.clock.Now())}, bearer(access)...)
	expect(t, conf, 200, "")
	codes := conf.body["recovery_codes"].([]any)
	a := webauthntest.New(mfaOrigin)
	registerPasskey(t, h, access, a)
	f := h.do("GET", "/api/me/mfa", nil, bearer(access)...)
	id := f.body["webauthn"].([]any)[0].(map[string]any)["id"].(string)
	expect(t, h.do("PATCH", "/api/me/mfa/webauthn/credentials/"+id, map[string]string{"name": "work key"}, bearer(access)...), 204, "")
	expect(t, h.do("PATCH", "/api/me/mfa/webauthn/credentials/"+id, map[string]string{"name": "a\x01b"}, bearer(access)...), 400, "bad_request")
	expect(t, h.do("PATCH", "/api/me/mfa/webauthn/credentials/AAAA", map[string]string{"name": "x"}, bearer(access)...), 404, "not_found")
	if f = h.do("GET", "/api/me/mfa", nil, bearer(access)...); f.body["webauthn"].([]any)[0].(map[string]any)["name"] != "work key" {
		t.Fatalf("after the rename: %s", f.raw)
	}
	p := startLogin(t, h, "ava", "token")
	h.do("POST", "/api/login/mfa", map[string]string{"mfa_token": p.str("mfa_token"), "method": "totp", "code": wrong})
	h.clock.Advance(30 * time.Second)
	expect(t, h.do("POST", "/api/login/mfa", map[string]string{"mfa_token": p.str("mfa_token"), "method": "totp", "code": totpCode(t, secret, h.clock.Now())}), 200, "")
	p = startLogin(t, h, "ava", "token")
	expect(t, h.do("POST", "/api/login/mfa", map[string]string{"mfa_token": p.str("mfa_token"), "method": "recovery_code", "code": codes[0].(string)}), 200, "")
	expect(t, h.do("POST", "/api/me/mfa/recovery-codes", nil, bearer(access)...), 200, "")
	expect(t, h.do("DELETE", "/api/me/mfa/webauthn/credentials/"+id, nil, bearer(access)...), 204, "")

	got := strings.Join(auditOutcomes(t, h, admin, u.ID), "\n")
	for _, want := range []string{
		"factor_added failure totp: invalid_credentials", "factor_added success totp",
		"factor_added success webauthn", "factor_renamed success webauthn",
		"second_factor failure totp: invalid_credentials", "second_factor success totp",
		"second_factor success recovery_code", "recovery_codes success recovery_code: regenerated",
		"factor_removed success webauthn",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("no %q in the audit trail:\n%s", want, got)
		}
	}
	if strings.Contains(got, wrong) || strings.Contains(got, codes[0].(string)) || strings.Contains(got, secret) {
		t.Fatalf("a code or secret on the audit trail:\n%s", got)
	}
}

// TestForwardAuthOneFactorUnderPolicy: behind forward-auth, a valid token of an admin whose
// sign-in used the password alone, where admins must use a second factor, is not signed in
// (401, never a 500); the same admin's two-factor token passes.
func TestForwardAuthOneFactorUnderPolicy(t *testing.T) {
	h := newAuthzHarnessWith(t, loopback, func(o *options) {
		o.authnConfig = func(c *authn.Config) { c.RequireMFARoles = []gatehouse.Role{gatehouse.RoleAdmin} }
	})
	admin, err := h.users.UserByUsername(context.Background(), "admin")
	if err != nil {
		t.Fatal(err)
	}
	issue := func(amr gatehouse.AuthMethods) string {
		tok, _, err := h.server.Authn.Tokens().IssueFor(admin, amr, "", h.clock.Now())
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	r := h.do("GET", "/api/authz/forward-auth", nil, fwd("GET", "app.example.com", "/", bearer(issue(gatehouse.MethodPassword))...)...)
	expect(t, r, 401, "insufficient_user_authentication")
	expect(t, h.do("GET", "/api/authz/forward-auth", nil, fwd("GET", "app.example.com", "/",
		bearer(issue(gatehouse.MethodPassword|gatehouse.MethodOTP))...)...), 200, "")
}
