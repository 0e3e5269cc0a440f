package http_test

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse"
)

// amrOf returns the "amr" list and "acr" of an answer (GET /api/me, introspection) or of the
// claims of an access token.
func amrOf(t *testing.T, v map[string]any) ([]string, string) {
	t.Helper()
	var out []string
	if list, ok := v["amr"].([]any); ok {
		for _, m := range list {
			out = append(out, m.(string))
		}
	} else if v["amr"] != nil {
		t.Fatalf("amr is %T", v["amr"])
	}
	acr, _ := v["acr"].(string)
	return out, acr
}

// tokenClaims decodes the claims of a JWT without checking it (the server checks it).
func tokenClaims(t *testing.T, tok string) map[string]any {
	t.Helper()
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWT: %q", tok)
	}
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var c map[string]any
	if err := json.Unmarshal(raw, &c); err != nil {
		t.Fatal(err)
	}
	return c
}

// checkAMR checks that the access token, GET /api/me and introspection all say amr and acr.
func checkAMR(t *testing.T, h *harness, what, access, admin string, amr []string, acr string) {
	t.Helper()
	if got, gotACR := amrOf(t, tokenClaims(t, access)); !slices.Equal(got, amr) || gotACR != acr {
		t.Fatalf("%s: token claims amr %q acr %q, want %q %q", what, got, gotACR, amr, acr)
	}
	me := h.do("GET", "/api/me", nil, bearer(access)...)
	expect(t, me, 200, "")
	if got, gotACR := amrOf(t, me.body); !slices.Equal(got, amr) || gotACR != acr {
		t.Fatalf("%s: /api/me amr %q acr %q, want %q %q", what, got, gotACR, amr, acr)
	}
	in := h.introspect(access, bearer(admin))
	expect(t, in, 200, "")
	if got, gotACR := amrOf(t, in.body); in.body["active"] != true || !slices.Equal(got, amr) || gotACR != acr {
		t.Fatalf("%s: introspection %s, want amr %q acr %q", what, in.raw, amr, acr)
	}
}

// TestAMRInCredentials: how the user signed in is in the access token, in GET /api/me and in
// introspection, survives a refresh, and a session records it too; the clock is injected, so
// the TOTP codes are those of the server's time.
func TestAMRInCredentials(t *testing.T) {
	h, _ := mfaHarness(t, nil, nil, options{})
	h.addUser("tina", gatehouse.RoleUser)
	admin, _ := h.loginToken("admin", h.adminPW)
	access, _ := h.loginToken("tina", testPassword)
	checkAMR(t, h, "password", access, admin, []string{"pwd"}, "aal1")
	secret, codes := enrolTOTPOverAPI(t, h, access)

	p := startLogin(t, h, "tina", "token")
	h.clock.Advance(30 * time.Second) // a code of its own step: the enrolment used the first one
	r := h.do("POST", "/api/login/mfa", map[string]string{"mfa_token": p.str("mfa_token"), "method": "totp", "code": totpCode(t, secret, h.clock.Now())})
	expect(t, r, 200, "")
	mfa := []string{"pwd", "otp", "mfa"}
	checkAMR(t, h, "password and TOTP", r.str("access_token"), admin, mfa, "aal2")
	// A refreshed token carries what the family recorded at sign-in.
	h.clock.Advance(time.Minute)
	ref := h.do("POST", "/api/token/refresh", map[string]string{"refresh_token": r.str("refresh_token")})
	expect(t, ref, 200, "")
	checkAMR(t, h, "refreshed", ref.str("access_token"), admin, mfa, "aal2")

	// A session: the cookie's /api/me says the same.
	p = startLogin(t, h, "tina", "session")
	r = h.do("POST", "/api/login/mfa", map[string]string{"mfa_token": p.str("mfa_token"), "method": "recovery_code", "code": codes[0]})
	expect(t, r, 200, "")
	var sess string
	for _, c := range (&http.Response{Header: r.header}).Cookies() {
		if c.Name == h.server.CookieName() {
			sess = c.Name + "=" + c.Value
		}
	}
	me := h.do("GET", "/api/me", nil, cookie(sess)...)
	expect(t, me, 200, "")
	if got, acr := amrOf(t, me.body); !slices.Equal(got, mfa) || acr != "aal2" {
		t.Fatalf("session: /api/me amr %q acr %q", got, acr)
	}
}
