package http_test

import (
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse"
	"github.com/gatehouse-auth/gatehouse/authn"
)

// TestRefreshReuseAuditedOnEveryPath: the reuse of a rotated refresh token revokes its family
// and writes exactly one refresh_reuse audit event, naming the user, whether the token came
// back through POST /api/token/refresh or through the OAuth token endpoint.
func TestRefreshReuseAuditedOnEveryPath(t *testing.T) {
	h := newHarness(t, options{})
	alice := h.addUser("alice", gatehouse.RoleUser)
	for i, present := range []func(string) response{h.refreshJSON, h.refreshForm} {
		_, r0 := h.loginToken("alice", testPassword)
		r1 := present(r0)
		expect(t, r1, 200, "")
		if r := present(r0); r.status != 401 && r.status != 400 {
			t.Fatalf("path %d: reuse answered %d %s", i, r.status, r.raw)
		}
		if r := present(r1.str("refresh_token")); r.status == 200 {
			t.Fatalf("path %d: the family survived the reuse", i)
		}
		events := h.auditEvents(gatehouse.AuditRefreshReuse)
		if n := countEvents(events, gatehouse.AuditFailure, alice.ID); n != i+1 {
			t.Fatalf("path %d: %d refresh_reuse events for alice, want %d: %v", i, n, i+1, events)
		}
	}
}

// TestRefreshReuseDeniesFamilyAccessTokens: once the reuse of a rotated refresh token is
// detected, every access token issued from its family answers 401 at once (the one issued at
// login and the one issued with the rotation), introspection calls them inactive, while the
// user's other families go on working.
func TestRefreshReuseDeniesFamilyAccessTokens(t *testing.T) {
	h := oauthHarness(t)
	h.addUser("alice", gatehouse.RoleUser)
	a0, r0 := h.loginToken("alice", testPassword)
	other, _ := h.loginToken("alice", testPassword)
	r1 := h.refreshJSON(r0)
	expect(t, r1, 200, "")
	a1 := r1.str("access_token")
	expect(t, h.do("GET", "/api/me", nil, bearer(a1)...), 200, "")
	expect(t, h.refreshJSON(r0), 401, "invalid_token") // reuse: the thief or the victim, we cannot tell
	for i, a := range []string{a0, a1} {
		if r := h.do("GET", "/api/me", nil, bearer(a)...); r.status != 401 {
			t.Fatalf("access token %d of the reused family: %d %s", i, r.status, r.raw)
		}
		if r := h.introspect(a, clientAuth); r.status != 200 || r.body["active"] != false {
			t.Fatalf("introspection of access token %d: %d %s", i, r.status, r.raw)
		}
	}
	expect(t, h.do("GET", "/api/me", nil, bearer(other)...), 200, "")
}

// TestOAuthRefreshCountsFailedTokens: invalid refresh tokens presented to the OAuth token
// endpoint count against the client's address like those of the JSON route, so that the form
// endpoint is no way around the scanning throttle.
func TestOAuthRefreshCountsFailedTokens(t *testing.T) {
	h := newHarness(t, options{limits: authn.Limits{Credential: gatehouse.Backoff{Free: 3, Base: time.Second, Max: time.Minute}}})
	_, valid := h.loginToken("admin", h.adminPW)
	for i := 0; i < 3; i++ {
		r := h.refreshForm("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")
		if r.status != 400 || r.str("error") != "invalid_grant" {
			t.Fatalf("invalid token %d: %d %s", i, r.status, r.raw)
		}
	}
	r := h.refreshForm("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")
	if r.status != 429 || r.header.Get("Retry-After") == "" || r.str("error") == "" {
		t.Fatalf("past the budget: %d %v %s", r.status, r.header, r.raw)
	}
	// A valid refresh token is never refused: failures alone are counted.
	expect(t, h.refreshForm(valid), 200, "")
}
