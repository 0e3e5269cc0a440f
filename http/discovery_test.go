package http_test

import (
	"testing"
)

func TestDiscoveryDocument(t *testing.T) {
	for _, alg := range []string{"EdDSA", "ES256"} {
		h := newHarness(t, options{alg: alg})
		for _, path := range []string{"/.well-known/openid-configuration", "/.well-known/oauth-authorization-server"} {
			r := h.do("GET", path, nil)
			expect(t, r, 200, "")
			if cc := r.header.Get("Cache-Control"); cc != "public, max-age=3600" {
				t.Errorf("%s Cache-Control = %q", path, cc)
			}
			want := map[string]string{
				"issuer":                               "http://gatehouse.test",
				"jwks_uri":                             "http://gatehouse.test/.well-known/jwks.json",
				"token_endpoint":                       "http://gatehouse.test/oauth2/token",
				"introspection_endpoint":               "http://gatehouse.test/oauth2/introspect",
				"revocation_endpoint":                  "http://gatehouse.test/oauth2/revoke",
				"gatehouse_revocation_stream_endpoint": "http://gatehouse.test/api/revocations/stream",
				"gatehouse_access_token_typ":           "at+jwt",
				"gatehouse_access_token_audience":      "gatehouse",
			}
			for k, v := range want {
				if got := r.str(k); got != v {
					t.Errorf("%s %s: %s = %q, want %q", alg, path, k, got, v)
				}
			}
			algs, _ := r.body["id_token_signing_alg_values_supported"].([]any)
			if len(algs) != 1 || algs[0] != alg {
				t.Errorf("%s: algorithms = %v", alg, algs)
			}
			if _, ok := r.body["introspection_endpoint_auth_methods_supported"]; ok {
				t.Errorf("no introspection secret configured, yet client_secret_basic advertised: %s", r.raw)
			}
		}
	}
}

func TestJWKSHeaders(t *testing.T) {
	h := newHarness(t, options{})
	r := h.do("GET", "/.well-known/jwks.json", nil)
	expect(t, r, 200, "")
	if ct := r.header.Get("Content-Type"); ct != "application/jwk-set+json" {
		t.Errorf("Content-Type = %q", ct)
	}
	// Short enough that retired keys vanish soon, and safe because a verifier that meets an
	// unknown kid refetches: a newly rotated key signs at once.
	if cc := r.header.Get("Cache-Control"); cc != "public, max-age=300" {
		t.Errorf("Cache-Control = %q", cc)
	}
	for _, k := range r.body["keys"].([]any) {
		m := k.(map[string]any)
		for _, member := range []string{"kid", "alg", "use", "kty", "crv", "x"} {
			if _, ok := m[member]; !ok {
				t.Errorf("JWK lacks %q: %v", member, m)
			}
		}
		for _, private := range []string{"d", "p", "q", "dp", "dq", "qi", "k"} {
			if _, ok := m[private]; ok {
				t.Errorf("JWK has private member %q", private)
			}
		}
	}
	expect(t, h.do("POST", "/.well-known/openid-configuration", nil), 405, "bad_request")
}
