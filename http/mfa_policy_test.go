package http_test

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/gatehouse-auth/gatehouse"
	"github.com/gatehouse-auth/gatehouse/authn"
	"github.com/gatehouse-auth/gatehouse/internal/webauthntest"
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
