package main

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse"
)

// TestProviderCORS: a browser page at a public client's redirect-URI origin may call the token
// and userinfo endpoints; any page may read the discovery document and the JWKS; another
// origin gets no CORS header anywhere, and no endpoint ever allows credentials cross-origin
// (the provider library's own CORS, which reflected any origin with credentials, is off).
func TestProviderCORS(t *testing.T) {
	a, base := startApp(t, "EdDSA")
	spa, _, err := gatehouse.NewClient(gatehouse.ClientSpec{Name: "spa", Public: true, RedirectURIs: []string{"https://spa.example:8443/cb"}}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	conf, _, _ := gatehouse.NewClient(gatehouse.ClientSpec{Name: "server", RedirectURIs: []string{"https://server.example/cb"}}, time.Now())
	for _, c := range []*gatehouse.Client{spa, conf} {
		if err := a.clientStore().CreateClient(context.Background(), c); err != nil {
			t.Fatal(err)
		}
	}
	send := func(method, path, origin string) *http.Response {
		t.Helper()
		req, _ := http.NewRequest(method, base+path, strings.NewReader("grant_type=refresh_token&refresh_token=x"))
		req.Header.Set("Origin", origin)
		if method == "OPTIONS" {
			req.Header.Set("Access-Control-Request-Method", "POST")
		} else if method == "POST" {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.Header.Get("Access-Control-Allow-Credentials") != "" {
			t.Fatalf("%s %s from %s allows credentials", method, path, origin)
		}
		return resp
	}
	good := "https://spa.example:8443"
	for _, c := range []struct{ method, path string }{{"OPTIONS", "/oauth2/token"}, {"POST", "/oauth2/token"}, {"OPTIONS", "/oidc/userinfo"}, {"GET", "/oidc/userinfo"}} {
		if got := send(c.method, c.path, good).Header.Get("Access-Control-Allow-Origin"); got != good {
			t.Errorf("%s %s from the public client's origin: Access-Control-Allow-Origin %q", c.method, c.path, got)
		}
		for _, bad := range []string{"https://evil.example", "https://server.example", "https://spa.example", "null"} {
			if got := send(c.method, c.path, bad).Header.Get("Access-Control-Allow-Origin"); got != "" {
				t.Errorf("%s %s from %s: Access-Control-Allow-Origin %q", c.method, c.path, bad, got)
			}
		}
	}
	for _, path := range []string{"/.well-known/openid-configuration", "/.well-known/jwks.json"} {
		if got := send("GET", path, "https://evil.example").Header.Get("Access-Control-Allow-Origin"); got != "*" {
			t.Errorf("GET %s: Access-Control-Allow-Origin %q, want *", path, got)
		}
	}
	for _, path := range []string{"/oidc/authorize?client_id=" + spa.ID, "/oidc/login?id=x"} {
		if got := send("GET", path, good).Header.Get("Access-Control-Allow-Origin"); got != "" {
			t.Errorf("GET %s: Access-Control-Allow-Origin %q", path, got)
		}
	}
}
