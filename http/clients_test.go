package http_test

import (
	"strings"
	"testing"

	"github.com/gatehouse-auth/gatehouse"
)

// TestAdminClients: the client registry through the admin API, every answer checked against
// docs/openapi.yaml: register (secret once), list, get (never the secret), patch, rotate the
// secret, delete; bad input changes nothing; a user who is not an admin is refused.
func TestAdminClients(t *testing.T) {
	h := newHarness(t, options{})
	adminTok, _ := h.loginToken("admin", h.adminPW)
	auth := bearer(adminTok)
	r := h.do("POST", "/api/admin/clients", map[string]any{"name": "Wiki", "redirect_uris": []string{"https://wiki.example/cb"},
		"scopes": []string{"openid", "email"}, "backchannel_logout_uri": "https://wiki.example/bcl",
		"post_logout_redirect_uris": []string{"https://wiki.example/bye"}, "id_token_signed_response_alg": "EdDSA"}, auth...)
	expect(t, r, 201, "")
	id, secret := r.str("client_id"), r.str("client_secret")
	if !gatehouse.ValidID(id) || !gatehouse.ValidSecret(secret) || r.str("backchannel_logout_uri") != "https://wiki.example/bcl" {
		t.Fatalf("registered: %s", r.raw)
	}
	pub := h.do("POST", "/api/admin/clients", map[string]any{"name": "SPA", "public": true, "redirect_uris": []string{"https://spa.example/cb"}}, auth...)
	expect(t, pub, 201, "")
	if pub.str("client_secret") != "" {
		t.Fatalf("a public client got a secret: %s", pub.raw)
	}
	for _, bad := range []any{
		map[string]any{"name": "x", "redirect_uris": []string{"http://evil.example/cb"}},
		map[string]any{"name": "x", "redirect_uris": []string{"https://a.example/cb"}, "scopes": []string{"admin"}},
		map[string]any{"name": "x", "redirect_uris": []string{"https://a.example/cb"}, "id_token_signed_response_alg": "none"},
		map[string]any{"name": "x", "redirect_uris": []string{"https://a.example/cb"}, "backchannel_logout_uri": "http://a.example/x"},
		map[string]any{"name": "", "redirect_uris": []string{"https://a.example/cb"}},
		map[string]any{"name": "x", "redirect_uris": []string{"https://a.example/cb"}, "secret": "mine"},
		`{"name": 5}`,
	} {
		expect(t, h.do("POST", "/api/admin/clients", bad, auth...), 400, "bad_request")
	}
	r = h.do("GET", "/api/admin/clients/"+id, nil, auth...)
	expect(t, r, 200, "")
	if r.str("client_secret") != "" || r.str("name") != "Wiki" {
		t.Fatalf("get: %s", r.raw)
	}
	r = h.do("GET", "/api/admin/clients?limit=1", nil, auth...)
	expect(t, r, 200, "")
	if len(r.body["clients"].([]any)) != 1 || r.str("next") == "" {
		t.Fatalf("list page: %s", r.raw)
	}
	r = h.do("PATCH", "/api/admin/clients/"+id, map[string]any{"name": "Wiki 2", "first_party": true}, auth...)
	expect(t, r, 200, "")
	if r.str("name") != "Wiki 2" || r.body["first_party"] != true || r.str("backchannel_logout_uri") != "https://wiki.example/bcl" {
		t.Fatalf("patched: %s", r.raw)
	}
	expect(t, h.do("PATCH", "/api/admin/clients/"+id, `{"nmae": "typo"}`, auth...), 400, "bad_request")
	expect(t, h.do("PATCH", "/api/admin/clients/"+id, map[string]any{"redirect_uris": []string{}}, auth...), 400, "bad_request")
	if c, err := h.authn.GetClient(t.Context(), id); err != nil || c.Name != "Wiki 2" || len(c.RedirectURIs) != 1 {
		t.Fatalf("a refused patch changed the client: %+v %v", c, err)
	}
	r = h.do("POST", "/api/admin/clients/"+id+"/secret", nil, auth...)
	expect(t, r, 200, "")
	if c, _ := h.authn.GetClient(t.Context(), id); r.str("client_secret") == secret || !c.VerifySecret(r.str("client_secret")) || c.VerifySecret(secret) {
		t.Fatalf("rotated: %s", r.raw)
	}
	expect(t, h.do("POST", "/api/admin/clients/"+pub.str("client_id")+"/secret", nil, auth...), 400, "bad_request")
	for _, missing := range []string{"garbage", gatehouse.NewID(h.clock.Now())} {
		expect(t, h.do("GET", "/api/admin/clients/"+missing, nil, auth...), 404, "not_found")
		expect(t, h.do("PATCH", "/api/admin/clients/"+missing, map[string]any{"name": "x"}, auth...), 404, "not_found")
		expect(t, h.do("DELETE", "/api/admin/clients/"+missing, nil, auth...), 404, "not_found")
	}
	userTok, _ := h.loginToken(h.addUser("uma", gatehouse.RoleUser).Username, testPassword)
	expect(t, h.do("GET", "/api/admin/clients", nil, bearer(userTok)...), 403, "forbidden")
	page := h.do("GET", "/admin", nil, cookie(h.loginSession("admin", h.adminPW))...)
	if page.status != 200 || !strings.Contains(page.raw, "Wiki 2") || !strings.Contains(page.raw, id) {
		t.Fatalf("the admin page does not list the client: %d", page.status)
	}
	expect(t, h.do("DELETE", "/api/admin/clients/"+id, nil, auth...), 204, "")
	expect(t, h.do("GET", "/api/admin/clients/"+id, nil, auth...), 404, "not_found")
}
