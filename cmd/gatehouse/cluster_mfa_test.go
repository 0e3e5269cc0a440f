package main

import (
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse/internal/testkit"
)

// TestClusterSecondFactors runs two instances on one PostgreSQL and Redis with admins required
// to use a second factor: the admin's password on one instance gets the enrolment step, whose
// token the other instance completes; then a TOTP code accepted by one instance is refused by
// the other (a replay), and the access token says how the admin signed in on both.
func TestClusterSecondFactors(t *testing.T) {
	testkit.Slow(t, "runs two instances on PostgreSQL and Redis")
	b := newBackends(t, testRedis)
	fk := filepath.Join(t.TempDir(), "factor.key")
	if err := createKeyFile(fk); err != nil {
		t.Fatal(err)
	}
	flags := []string{"--factor-key-file", fk, "--require-mfa-roles", "admin", "--login-throttle=false"}
	one, two := startInstance(t, b, flags...), startInstance(t, b, flags...)

	p := one.do("POST", "/api/login", map[string]string{"username": "admin", "password": clusterAdminPassword, "mode": "token"})
	if p.status != 200 || p.body["mfa_enrollment_required"] != true || p.str("access_token") != "" {
		t.Fatalf("admin's password alone: %d %s", p.status, p.raw)
	}
	en := two.do("POST", "/api/login/mfa/totp", map[string]string{"mfa_token": p.str("mfa_token")})
	expectStatus(t, "enrolment key on the other instance", en, 200, "")
	secret := en.str("secret")
	r := one.do("POST", "/api/login/mfa/totp/confirm", map[string]string{"mfa_token": p.str("mfa_token"), "code": codeAt(t, secret, time.Now())})
	expectStatus(t, "enrolment confirmed", r, 200, "")

	// A code of the next step (within the allowed skew, after the one used to enrol).
	code := codeAt(t, secret, time.Now().Add(30*time.Second))
	p1 := one.do("POST", "/api/login", map[string]string{"username": "admin", "password": clusterAdminPassword, "mode": "token"})
	p2 := two.do("POST", "/api/login", map[string]string{"username": "admin", "password": clusterAdminPassword, "mode": "token"})
	if p1.body["mfa_required"] != true || p2.body["mfa_required"] != true || p1.body["mfa_enrollment_required"] != nil {
		t.Fatalf("second sign-ins: %s / %s", p1.raw, p2.raw)
	}
	ok := one.do("POST", "/api/login/mfa", map[string]string{"mfa_token": p1.str("mfa_token"), "method": "totp", "code": code})
	expectStatus(t, "the code on the first instance", ok, 200, "")
	expectStatus(t, "the same code on the other instance", two.do("POST", "/api/login/mfa",
		map[string]string{"mfa_token": p2.str("mfa_token"), "method": "totp", "code": code}), 401, "invalid_credentials")
	for _, in := range []*instance{one, two} {
		me := in.do("GET", "/api/me", nil, bearerHdr(ok.str("access_token"))...)
		expectStatus(t, "the admin's token on "+in.base, me, 200, "")
		var amr []string
		for _, v := range me.body["amr"].([]any) {
			amr = append(amr, v.(string))
		}
		if !slices.Equal(amr, []string{"pwd", "otp", "mfa"}) || me.body["acr"] != "aal2" {
			t.Fatalf("amr %q acr %v", amr, me.body["acr"])
		}
	}
}
