package main

import (
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// TestClusterFamilyRevocation: on a two-instance cluster, the moment a refresh family dies on
// instance A (the reuse of a rotated refresh token is detected, or the refresh token is
// revoked through /oauth2/revoke), every access token issued from that family answers 401 on
// A and on B, although B had just accepted them from its client-side cache: A answers only
// once every instance will reject them.
func TestClusterFamilyRevocation(t *testing.T) {
	b := newBackends(t, testRedis)
	args := append(append([]string{}, noThrottle...), revocationLease...)
	a, other := startInstance(t, b, args...), startInstance(t, b, args...)
	adminTok, _ := a.loginToken("admin", clusterAdminPassword)
	a.createUser(adminTok, "fam", "user")

	t.Run("reuse detected", func(t *testing.T) {
		a0, r0 := other.loginToken("fam", testUserPassword)
		rot := a.do("POST", "/api/token/refresh", map[string]string{"refresh_token": r0})
		expectStatus(t, "refresh", rot, 200, "")
		a1 := rot.str("access_token")
		warm(t, []*instance{a, other}, a0, a1)
		expectStatus(t, "reuse", a.do("POST", "/api/token/refresh", map[string]string{"refresh_token": r0}), 401, "invalid_token")
		rejectedEverywhere(t, []*instance{a, other}, a0, a1)
	})
	t.Run("oauth2 revoke of the refresh token", func(t *testing.T) {
		a0, r0 := other.loginToken("fam", testUserPassword)
		keep, _ := other.loginToken("fam", testUserPassword) // another family of the same user
		warm(t, []*instance{a, other}, a0, keep)
		if status := postForm(t, a, "/oauth2/revoke", url.Values{"token": {r0}, "token_type_hint": {"refresh_token"}}); status != 200 {
			t.Fatalf("revoke: %d", status)
		}
		rejectedEverywhere(t, []*instance{a, other}, a0)
		warm(t, []*instance{a, other}, keep)
	})
}

// warm uses each token twice on each instance, so that their revocation state is cached.
func warm(t *testing.T, ins []*instance, tokens ...string) {
	t.Helper()
	for _, in := range ins {
		for _, tok := range tokens {
			for range 2 {
				expectStatus(t, "live token on "+in.base, in.do("GET", "/api/protected", nil, bearerHdr(tok)...), 200, "")
			}
		}
	}
}

// rejectedEverywhere checks that each token answers 401 on each instance.
func rejectedEverywhere(t *testing.T, ins []*instance, tokens ...string) {
	t.Helper()
	for _, in := range ins {
		for i, tok := range tokens {
			if r := in.do("GET", "/api/protected", nil, bearerHdr(tok)...); r.status != 401 {
				t.Fatalf("access token %d of the revoked family on %s: %d %s", i, in.base, r.status, r.raw)
			}
		}
	}
}

// postForm posts an urlencoded form to the instance and returns the status.
func postForm(t *testing.T, in *instance, path string, form url.Values) int {
	t.Helper()
	req, err := http.NewRequest("POST", in.base+path, strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode
}
