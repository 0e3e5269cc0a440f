package http_test

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"

	"github.com/gatehouse-auth/gatehouse"
	"github.com/gatehouse-auth/gatehouse/authn"
	ghttp "github.com/gatehouse-auth/gatehouse/http"
	"github.com/gatehouse-auth/gatehouse/internal/webauthntest"
	"github.com/gatehouse-auth/gatehouse/memory"
	"github.com/gatehouse-auth/gatehouse/mfa"
	"github.com/gatehouse-auth/gatehouse/sqlite"
)

const (
	mfaRPID   = "localhost"
	mfaOrigin = "http://localhost:8080"
)

// mfaStores are second-factor stores that several test servers can share, as instances share
// their database.
type mfaStores struct {
	factors    *memory.FactorStore
	challenges *memory.ChallengeStore
	key        []byte
}

func newMFAStores() *mfaStores {
	k := make([]byte, mfa.KeySize)
	_, _ = rand.Read(k)
	return &mfaStores{factors: memory.NewFactorStore(), challenges: memory.NewChallengeStore(), key: k}
}

// mfaHarness is a test server with second factors on st (new stores when nil).
func mfaHarness(t *testing.T, c *clock, st *mfaStores, o options) (*harness, *mfaStores) {
	t.Helper()
	if st == nil {
		st = newMFAStores()
	}
	if c == nil {
		c = newClock()
	}
	sealer, err := mfa.NewSealer(st.key)
	if err != nil {
		t.Fatal(err)
	}
	svc, err := mfa.New(mfa.Config{Factors: st.factors, Challenges: st.challenges, Sealer: sealer, Now: c.Now,
		WebAuthn: &mfa.WebAuthnConfig{RPID: mfaRPID, Origins: []string{mfaOrigin}}})
	if err != nil {
		t.Fatal(err)
	}
	o.clock = c
	o.configure = func(d *authn.Deps, _ *ghttp.Config) { d.MFA = svc }
	return newHarness(t, o), st
}

func totpCode(t *testing.T, secret string, at time.Time) string {
	t.Helper()
	c, err := totp.GenerateCodeCustom(secret, at, totp.ValidateOpts{Period: 30, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// enrolTOTPOverAPI enrols an authenticator app for the holder of access and returns its
// secret and recovery codes; the clock moves to the next step.
func enrolTOTPOverAPI(t *testing.T, h *harness, access string) (string, []string) {
	t.Helper()
	r := h.do("POST", "/api/me/mfa/totp", nil, bearer(access)...)
	expect(t, r, 200, "")
	secret := r.str("secret")
	r = h.do("POST", "/api/me/mfa/totp/confirm", map[string]string{"code": totpCode(t, secret, h.clock.Now())}, bearer(access)...)
	expect(t, r, 200, "")
	var codes []string
	for _, c := range r.body["recovery_codes"].([]any) {
		codes = append(codes, c.(string))
	}
	h.clock.Advance(30 * time.Second)
	return secret, codes
}

// startLogin posts a password login and checks that it asks for a second step and carries no
// credential; it returns the mfa_token.
func startLogin(t *testing.T, h *harness, user, mode string) response {
	t.Helper()
	r := h.do("POST", "/api/login", map[string]string{"username": user, "password": testPassword, "mode": mode})
	expect(t, r, 200, "")
	if r.body["mfa_required"] != true || r.str("mfa_token") == "" {
		t.Fatalf("login of a user with a factor answered %s", r.raw)
	}
	if r.str("access_token") != "" || r.str("refresh_token") != "" || len(r.header.Values("Set-Cookie")) != 0 {
		t.Fatalf("a credential before the second step: %s %v", r.raw, r.header)
	}
	return r
}

func TestMFALoginWithTOTP(t *testing.T) {
	h, _ := mfaHarness(t, nil, nil, options{})
	h.addUser("tina", gatehouse.RoleUser)
	access, _ := h.loginToken("tina", testPassword)
	secret, codes := enrolTOTPOverAPI(t, h, access)
	if len(codes) != 10 {
		t.Fatalf("%d recovery codes", len(codes))
	}
	r := h.do("GET", "/api/me/mfa", nil, bearer(access)...)
	expect(t, r, 200, "")
	if r.body["totp"] != true || r.body["recovery_codes_left"] != float64(10) {
		t.Fatalf("factors = %s", r.raw)
	}

	p := startLogin(t, h, "tina", "token")
	tok := p.str("mfa_token")
	if m := p.body["methods"].([]any); len(m) != 2 || m[0] != "totp" || m[1] != "recovery_code" {
		t.Fatalf("methods = %v", m)
	}
	wrong := "000000"
	if totpCode(t, secret, h.clock.Now()) == wrong {
		wrong = "111111"
	}
	expect(t, h.do("POST", "/api/login/mfa", map[string]string{"mfa_token": tok, "method": "totp", "code": wrong}), 401, "invalid_credentials")
	code := totpCode(t, secret, h.clock.Now())
	r = h.do("POST", "/api/login/mfa", map[string]string{"mfa_token": tok, "method": "totp", "code": code})
	expect(t, r, 200, "")
	if r.str("access_token") == "" || r.str("refresh_token") == "" {
		t.Fatalf("second step answered %s", r.raw)
	}
	expect(t, h.do("GET", "/api/me", nil, bearer(r.str("access_token"))...), 200, "")
	// The token is used up; the code too, even with a fresh token.
	expect(t, h.do("POST", "/api/login/mfa", map[string]string{"mfa_token": tok, "method": "totp", "code": code}), 401, "invalid_token")
	p2 := startLogin(t, h, "tina", "token")
	expect(t, h.do("POST", "/api/login/mfa", map[string]string{"mfa_token": p2.str("mfa_token"), "method": "totp", "code": code}), 401, "invalid_credentials")
	// A recovery code passes once.
	r = h.do("POST", "/api/login/mfa", map[string]string{"mfa_token": p2.str("mfa_token"), "method": "recovery_code", "code": codes[0]})
	expect(t, r, 200, "")
	p3 := startLogin(t, h, "tina", "token")
	expect(t, h.do("POST", "/api/login/mfa", map[string]string{"mfa_token": p3.str("mfa_token"), "method": "recovery_code", "code": codes[0]}), 401, "invalid_credentials")
}

func TestMFALoginSessionModeIsBound(t *testing.T) {
	h, _ := mfaHarness(t, nil, nil, options{})
	h.addUser("sara", gatehouse.RoleUser)
	access, _ := h.loginToken("sara", testPassword)
	secret, _ := enrolTOTPOverAPI(t, h, access)
	count := func() (n int) {
		for _, table := range []string{"sessions", "refresh_families"} {
			var c int
			if err := h.db.SQL().QueryRow("SELECT count(*) FROM " + table).Scan(&c); err != nil {
				t.Fatal(err)
			}
			n += c
		}
		return n
	}
	before := count()
	p := startLogin(t, h, "sara", "session")
	startLogin(t, h, "sara", "token")
	if after := count(); after != before {
		t.Fatalf("the password step stored %d sessions or refresh families", after-before)
	}
	// The second step cannot change the mode: a mode field is not part of it.
	r := h.do("POST", "/api/login/mfa", map[string]string{"mfa_token": p.str("mfa_token"), "method": "totp",
		"code": totpCode(t, secret, h.clock.Now()), "mode": "token"})
	expect(t, r, 200, "")
	if r.str("access_token") != "" || len(r.header.Values("Set-Cookie")) != 1 || r.body["user"] == nil {
		t.Fatalf("session login answered %s %v", r.raw, r.header)
	}
}

func TestMFATokenExpires(t *testing.T) {
	h, _ := mfaHarness(t, nil, nil, options{})
	h.addUser("eve", gatehouse.RoleUser)
	access, _ := h.loginToken("eve", testPassword)
	secret, _ := enrolTOTPOverAPI(t, h, access)
	p := startLogin(t, h, "eve", "token")
	h.clock.Advance(5 * time.Minute)
	r := h.do("POST", "/api/login/mfa", map[string]string{"mfa_token": p.str("mfa_token"), "method": "totp", "code": totpCode(t, secret, h.clock.Now())})
	expect(t, r, 401, "invalid_token")
	for _, bad := range []map[string]string{
		{"mfa_token": "garbage", "method": "totp", "code": "123456"},
		{"mfa_token": gatehouse.NewSecret(), "method": "totp", "code": "123456"},
		{"mfa_token": access, "method": "totp", "code": "123456"},
	} {
		expect(t, h.do("POST", "/api/login/mfa", bad), 401, "invalid_token")
	}
	expect(t, h.do("POST", "/api/login/mfa", map[string]string{"method": "totp"}), 400, "bad_request")
	expect(t, h.do("POST", "/api/login/mfa", "not json"), 400, "bad_request")
}

// TestMFAWrongCodesThrottled: wrong codes are throttled per user, and a right password (a new
// login) does not forgive them.
func TestMFAWrongCodesThrottled(t *testing.T) {
	h, _ := mfaHarness(t, nil, nil, options{})
	h.addUser("gus", gatehouse.RoleUser)
	access, _ := h.loginToken("gus", testPassword)
	secret, _ := enrolTOTPOverAPI(t, h, access)
	wrong := func() string {
		c := totpCode(t, secret, h.clock.Now())
		if c == "000000" {
			return "111111"
		}
		return "000000"
	}
	for range 5 {
		p := startLogin(t, h, "gus", "token")
		expect(t, h.do("POST", "/api/login/mfa", map[string]string{"mfa_token": p.str("mfa_token"), "method": "totp", "code": wrong()}), 401, "invalid_credentials")
	}
	p := startLogin(t, h, "gus", "token")
	r := h.do("POST", "/api/login/mfa", map[string]string{"mfa_token": p.str("mfa_token"), "method": "totp", "code": totpCode(t, secret, h.clock.Now())})
	expect(t, r, 429, "rate_limited")
	if r.header.Get("Retry-After") == "" {
		t.Fatal("429 without Retry-After")
	}
	h.clock.Advance(2 * time.Second)
	r = h.do("POST", "/api/login/mfa", map[string]string{"mfa_token": p.str("mfa_token"), "method": "totp", "code": totpCode(t, secret, h.clock.Now())})
	expect(t, r, 200, "")
	events, err := sqlite.NewAuditStore(h.db, 0).ListAudit(context.Background(), gatehouse.AuditQuery{Action: gatehouse.AuditSecondFactor, Limit: 20})
	if err != nil || len(events) != 7 {
		t.Fatalf("%d second_factor events (%v), want 7 (5 wrong, 1 throttled, 1 right)", len(events), err)
	}
	for _, e := range events {
		if e.UserID == "" || (e.Outcome == gatehouse.AuditSuccess) != (e == events[0]) {
			t.Fatalf("audit event %+v", e)
		}
	}
}

// TestMFACodeReplayOnAnotherInstance: two servers share the stores; a code accepted by one is
// refused by the other.
func TestMFACodeReplayOnAnotherInstance(t *testing.T) {
	c := newClock()
	one, st := mfaHarness(t, c, nil, options{})
	two, _ := mfaHarness(t, c, st, options{dir: one.dir})
	one.addUser("ivy", gatehouse.RoleUser)
	access, _ := one.loginToken("ivy", testPassword)
	secret, _ := enrolTOTPOverAPI(t, one, access)
	code := totpCode(t, secret, c.Now())
	p1, p2 := startLogin(t, one, "ivy", "token"), startLogin(t, two, "ivy", "token")
	expect(t, one.do("POST", "/api/login/mfa", map[string]string{"mfa_token": p1.str("mfa_token"), "method": "totp", "code": code}), 200, "")
	expect(t, two.do("POST", "/api/login/mfa", map[string]string{"mfa_token": p2.str("mfa_token"), "method": "totp", "code": code}), 401, "invalid_credentials")
}

func TestMFARemoveTOTPNeedsProof(t *testing.T) {
	h, _ := mfaHarness(t, nil, nil, options{})
	h.addUser("rex", gatehouse.RoleUser)
	access, _ := h.loginToken("rex", testPassword)
	enrolTOTPOverAPI(t, h, access)
	expect(t, h.do("DELETE", "/api/me/mfa/totp", map[string]string{}, bearer(access)...), 400, "bad_request")
	expect(t, h.do("DELETE", "/api/me/mfa/totp", map[string]string{"password": "wrong password entirely"}, bearer(access)...), 400, "bad_request")
	expect(t, h.do("DELETE", "/api/me/mfa/totp", map[string]string{"password": testPassword}, bearer(access)...), 204, "")
	r := h.do("POST", "/api/login", map[string]string{"username": "rex", "password": testPassword, "mode": "token"})
	expect(t, r, 200, "")
	if r.str("access_token") == "" {
		t.Fatalf("login after removing the factor: %s", r.raw)
	}
	expect(t, h.do("POST", "/api/me/mfa/recovery-codes", nil, bearer(access)...), 404, "not_found")
}

func webauthnOptions(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestMFAWebAuthnSecondFactorAndPasskey(t *testing.T) {
	h, _ := mfaHarness(t, nil, nil, options{})
	h.addUser("pia", gatehouse.RoleUser)
	access, _ := h.loginToken("pia", testPassword)
	r := h.do("POST", "/api/me/mfa/webauthn", nil, bearer(access)...)
	expect(t, r, 200, "")
	a := webauthntest.New(mfaOrigin)
	resp, err := a.Create(webauthnOptions(t, r.body["options"]))
	if err != nil {
		t.Fatal(err)
	}
	fin := h.do("POST", "/api/me/mfa/webauthn/finish", map[string]any{"registration_token": r.str("registration_token"),
		"name": "phone", "credential": json.RawMessage(resp)}, bearer(access)...)
	expect(t, fin, 201, "")
	cred := fin.body["credential"].(map[string]any)
	if cred["name"] != "phone" || cred["discoverable"] != true || len(fin.body["recovery_codes"].([]any)) != 10 {
		t.Fatalf("registration answered %s", fin.raw)
	}
	// As a second factor.
	p := startLogin(t, h, "pia", "session")
	assertion, err := a.Get(webauthnOptions(t, p.body["webauthn"]))
	if err != nil {
		t.Fatal(err)
	}
	r = h.do("POST", "/api/login/mfa", map[string]any{"mfa_token": p.str("mfa_token"), "method": "webauthn", "webauthn": json.RawMessage(assertion)})
	expect(t, r, 200, "")
	if len(r.header.Values("Set-Cookie")) != 1 {
		t.Fatalf("no session cookie: %v", r.header)
	}
	// Without a password.
	b := h.do("POST", "/api/login/passkey", map[string]string{"mode": "token"})
	expect(t, b, 200, "")
	assertion, err = a.Get(webauthnOptions(t, b.body["options"]))
	if err != nil {
		t.Fatal(err)
	}
	r = h.do("POST", "/api/login/passkey/finish", map[string]any{"passkey_token": b.str("passkey_token"), "credential": json.RawMessage(assertion)})
	expect(t, r, 200, "")
	me := h.do("GET", "/api/me", nil, bearer(r.str("access_token"))...)
	expect(t, me, 200, "")
	// Replayed, the answer signs nobody in.
	expect(t, h.do("POST", "/api/login/passkey/finish", map[string]any{"passkey_token": b.str("passkey_token"), "credential": json.RawMessage(assertion)}), 401, "invalid_token")
	// From another origin (a phishing page relaying the ceremony): refused.
	a.Origin = "http://localhost:9999"
	b = h.do("POST", "/api/login/passkey", map[string]string{})
	assertion, _ = a.Get(webauthnOptions(t, b.body["options"]))
	expect(t, h.do("POST", "/api/login/passkey/finish", map[string]any{"passkey_token": b.str("passkey_token"), "credential": json.RawMessage(assertion)}), 401, "invalid_credentials")
	// Removed, it is no factor any more.
	expect(t, h.do("DELETE", "/api/me/mfa/webauthn/credentials/"+cred["id"].(string), nil, bearer(access)...), 204, "")
	expect(t, h.do("DELETE", "/api/me/mfa/webauthn/credentials/"+cred["id"].(string), nil, bearer(access)...), 404, "not_found")
	expect(t, h.do("DELETE", "/api/me/mfa/webauthn/credentials/%25%25", nil, bearer(access)...), 404, "not_found")
	r = h.do("POST", "/api/login", map[string]string{"username": "pia", "password": testPassword, "mode": "token"})
	if r.str("access_token") == "" {
		t.Fatalf("login after removing the key: %s", r.raw)
	}
}

func TestMFAAdminResetRevokesCredentials(t *testing.T) {
	h, _ := mfaHarness(t, nil, nil, options{})
	u := h.addUser("lost", gatehouse.RoleUser)
	access, _ := h.loginToken("lost", testPassword)
	enrolTOTPOverAPI(t, h, access)
	admin, _ := h.loginToken("admin", h.adminPW)
	expect(t, h.do("DELETE", "/api/admin/users/"+u.ID+"/mfa", nil, bearer(access)...), 403, "forbidden")
	expect(t, h.do("DELETE", "/api/admin/users/"+u.ID+"/mfa", nil, bearer(admin)...), 204, "")
	expect(t, h.do("DELETE", "/api/admin/users/nobody/mfa", nil, bearer(admin)...), 404, "not_found")
	expect(t, h.do("GET", "/api/me", nil, bearer(access)...), 401, "")
	r := h.do("POST", "/api/login", map[string]string{"username": "lost", "password": testPassword, "mode": "token"})
	if r.str("access_token") == "" {
		t.Fatalf("login after the reset: %s", r.raw)
	}
	events, _ := sqlite.NewAuditStore(h.db, 0).ListAudit(context.Background(), gatehouse.AuditQuery{Action: gatehouse.AuditFactorsReset, Limit: 5})
	if len(events) != 1 || events[0].UserID != u.ID || events[0].ActorID == "" {
		t.Fatalf("factors_reset events: %+v", events)
	}
}

func TestMFADisabledServer(t *testing.T) {
	h := newHarness(t, options{})
	access, _ := h.loginToken("admin", h.adminPW)
	expect(t, h.do("GET", "/api/me/mfa", nil, bearer(access)...), 404, "not_found")
	expect(t, h.do("POST", "/api/login/passkey", map[string]string{}), 404, "not_found")
	expect(t, h.do("POST", "/api/login/mfa", map[string]string{"mfa_token": "x", "method": "totp"}), 404, "not_found")
	_ = http.MethodGet
}

// TestPageSignInWithSecondFactor: the sign-in form of a user with an authenticator app asks for
// a code, starts no session before it, keeps the token through a wrong code, and starts the
// session after the right one.
func TestPageSignInWithSecondFactor(t *testing.T) {
	h, _ := mfaHarness(t, nil, nil, options{})
	h.addUser("paula", gatehouse.RoleUser)
	access, _ := h.loginToken("paula", testPassword)
	secret, codes := enrolTOTPOverAPI(t, h, access)
	b := h.browser("Mozilla/5.0 (X11; Linux x86_64) Chrome/120.0")
	p := b.post("/", url.Values{"username": {"paula"}, "password": {testPassword}, "next": {"/account"}})
	expectPage(t, p, 200, "Second step", `name="mfa_token"`, `autocomplete="one-time-code"`, `<option value="totp"`)
	if p.header.Get("Set-Cookie") != "" {
		t.Fatalf("a cookie before the second step: %v", p.header)
	}
	token := regexp.MustCompile(`name="mfa_token" value="([^"]+)"`).FindStringSubmatch(p.body)[1]
	wrong := "000000"
	if totpCode(t, secret, h.clock.Now()) == wrong {
		wrong = "111111"
	}
	p = b.post("/signin/second-factor", url.Values{"mfa_token": {token}, "method": {"totp"}, "code": {wrong}, "next": {"/account"}})
	expectPage(t, p, 401, "Incorrect code", token)
	p = b.post("/signin/second-factor", url.Values{"mfa_token": {token}, "method": {"totp"}, "code": {totpCode(t, secret, h.clock.Now())}, "next": {"/account"}})
	expectRedirect(t, p, "/account")
	expectPage(t, b.get("/account"), 200, "Your account")
	// The token is used up; an open redirect in next is dropped.
	p = b.post("/signin/second-factor", url.Values{"mfa_token": {token}, "method": {"recovery_code"}, "code": {codes[0]}})
	expectPage(t, p, 401, "Please sign in again")
	b2 := h.browser("Mozilla/5.0 (X11; Linux x86_64) Chrome/120.0")
	p = b2.post("/", url.Values{"username": {"paula"}, "password": {testPassword}, "next": {"//evil.test/"}})
	token = regexp.MustCompile(`name="mfa_token" value="([^"]+)"`).FindStringSubmatch(p.body)[1]
	p = b2.post("/signin/second-factor", url.Values{"mfa_token": {token}, "method": {"recovery_code"}, "code": {codes[1]}, "next": {"//evil.test/"}})
	expectRedirect(t, p, "/account")
}

// TestMFAUserDisabledBetweenSteps: an account disabled after its password step gets no
// credential from the second step.
func TestMFAUserDisabledBetweenSteps(t *testing.T) {
	h, _ := mfaHarness(t, nil, nil, options{})
	u := h.addUser("dan", gatehouse.RoleUser)
	access, _ := h.loginToken("dan", testPassword)
	_, codes := enrolTOTPOverAPI(t, h, access)
	p := startLogin(t, h, "dan", "token")
	admin, _ := h.loginToken("admin", h.adminPW)
	expect(t, h.do("PATCH", "/api/admin/users/"+u.ID, map[string]any{"disabled": true}, bearer(admin)...), 200, "")
	r := h.do("POST", "/api/login/mfa", map[string]string{"mfa_token": p.str("mfa_token"), "method": "recovery_code", "code": codes[0]})
	expect(t, r, 403, "forbidden")
	if r.str("access_token") != "" {
		t.Fatalf("a disabled account got tokens: %s", r.raw)
	}
}

// TestPageTOTPSetup sets an authenticator app up from the account page (the key as an inline
// SVG QR code and as text), then signs in with a code computed from the shown key.
func TestPageTOTPSetup(t *testing.T) {
	h, _ := mfaHarness(t, nil, nil, options{})
	h.addUser("quinn", gatehouse.RoleUser)
	b := h.browser("Mozilla/5.0 (X11; Linux x86_64) Chrome/120.0")
	expectRedirect(t, b.post("/", url.Values{"username": {"quinn"}, "password": {testPassword}}), "/account")
	expectPage(t, b.get("/account"), 200, "Set up an authenticator app")
	p := b.post("/account/mfa/totp", url.Values{})
	expectPage(t, p, 200, "<svg", `aria-label="QR code of the key"`, `id="totp-secret"`)
	secret := regexp.MustCompile(`id="totp-secret">([A-Z2-7]+)<`).FindStringSubmatch(p.body)[1]
	p = b.post("/account/mfa/totp/confirm", url.Values{"code": {totpCode(t, secret, h.clock.Now())}})
	expectPage(t, p, 200, "Authenticator app set up", `id="recovery-codes"`)
	if n := strings.Count(p.body, "<li><code>"); n != 10 {
		t.Fatalf("%d recovery codes shown", n)
	}
	// A forged form (no synchronizer token) changes nothing.
	refusedForm := b.post("/account/mfa/totp", url.Values{"csrf": {"forged"}})
	if refusedForm.status != 403 {
		t.Fatalf("a forged set-up form answered %d", refusedForm.status)
	}
	h.clock.Advance(30 * time.Second)
	b2 := h.browser("Mozilla/5.0 (X11; Linux x86_64) Chrome/120.0")
	p = b2.post("/", url.Values{"username": {"quinn"}, "password": {testPassword}})
	expectPage(t, p, 200, "Second step")
	token := regexp.MustCompile(`name="mfa_token" value="([^"]+)"`).FindStringSubmatch(p.body)[1]
	expectRedirect(t, b2.post("/signin/second-factor", url.Values{"mfa_token": {token}, "method": {"totp"}, "code": {totpCode(t, secret, h.clock.Now())}}), "/account")
}
