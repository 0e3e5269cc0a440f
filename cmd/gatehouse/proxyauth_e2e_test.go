package main

import (
	"context"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse/internal/testkit"
	"github.com/gatehouse-auth/gatehouse/verify"
)

// TestNginxForwardAuth: nginx with auth_request, configured by the shipped snippet.
func TestNginxForwardAuth(t *testing.T) {
	testkit.Slow(t, "runs nginx and gatehouse")
	p := &proxied{t: t, port: freeRange(t, 0), app: startEchoApp(t)}
	p.gatehouse = startProxiedGatehouse(t, p.port)
	startNginx(t, p, 0)
	exerciseProxy(t, p)
}

// exerciseProxy runs the end-to-end cases through the proxy of p.
func exerciseProxy(t *testing.T, p *proxied) {
	client := noRedirects()
	t.Run("anonymous browser goes to sign-in", func(t *testing.T) {
		st, h, _ := p.do(client, "GET", "app", "/docs?page=2&x=y", "Accept", "text/html")
		if want := signInLocation(p, "app", "/docs?page=2&x=y"); st != 302 || h.Get("Location") != want {
			t.Fatalf("%d to %q, want 302 to %q", st, h.Get("Location"), want)
		}
	})
	t.Run("anonymous API client gets 401", func(t *testing.T) {
		st, h, _ := p.do(client, "GET", "app", "/api/x", "Accept", "application/json")
		if st != 401 || !strings.HasPrefix(h.Get("WWW-Authenticate"), "Bearer") {
			t.Fatalf("%d %v, want 401 with a Bearer challenge", st, h)
		}
	})
	alice := addProxyUser(t, p, "alice")
	t.Run("bearer token reaches the app with its identity", func(t *testing.T) {
		tok := p.login("alice", alice, "token")
		st, _, body := p.do(client, "GET", "app", "/x", tok...)
		seen := echoed(t, body)
		if st != 200 || strings.Join(seen["Remote-User"], "|") != "alice" || strings.Join(seen["Remote-Groups"], "|") != "user" ||
			strings.Join(seen["Remote-Email"], "|") != "alice@example.org" {
			t.Fatalf("%d %v", st, seen)
		}
	})
	t.Run("client-supplied identity headers never reach the app", func(t *testing.T) {
		forged := []string{"Remote-User", "admin", "Remote-Groups", "admin", "Remote-Email", "admin@example.org", "Remote-Name", "Admin",
			"Remote-JWT", forgedAssertion, "remote-user", "admin2", "REMOTE-JWT", forgedAssertion}
		st, _, body := p.do(client, "GET", "public", "/", forged...)
		if seen := echoed(t, body); st != 200 || len(seen["Remote-User"]) != 0 || len(seen["Remote-Groups"]) != 0 ||
			len(seen["Remote-Email"]) != 0 || len(seen["Remote-Name"]) != 0 || len(seen["Remote-Jwt"]) != 0 {
			t.Fatalf("bypassed request: %d, the app saw %v", st, seen)
		}
		tok := p.login("alice", alice, "token")
		st, _, body = p.do(client, "GET", "app", "/", append(forged, tok...)...)
		seen := echoed(t, body)
		if st != 200 || strings.Join(seen["Remote-User"], "|") != "alice" || strings.Join(seen["Remote-Groups"], "|") != "user" ||
			len(seen["Remote-Jwt"]) != 1 || seen["Remote-Jwt"][0] == forgedAssertion {
			t.Fatalf("signed-in request: %d, the app saw %v", st, seen)
		}
	})
	t.Run("the app verifies the signed identity with the verify SDK", func(t *testing.T) {
		for _, mode := range []string{"token", "session"} {
			cred := p.login("alice", alice, mode)
			st, _, body := p.do(client, "GET", "app", "/x", cred...)
			seen := echoed(t, body)
			if st != 200 || len(seen["Remote-Jwt"]) != 1 {
				t.Fatalf("%s: %d, the app saw %v", mode, st, seen)
			}
			got, err := p.appVerifier(t, "http://"+p.host("app"), 0).Verify(seen["Remote-Jwt"][0])
			if err != nil || got.Username != "alice" || got.Email != "alice@example.org" || got.Role != "user" {
				t.Fatalf("%s: the app reads %+v, %v", mode, got, err)
			}
			if _, err := p.appVerifier(t, "http://"+p.host("wiki"), 0).Verify(seen["Remote-Jwt"][0]); err == nil {
				t.Fatalf("%s: another app accepts the assertion", mode)
			}
			if _, err := p.appVerifier(t, "http://"+p.host("app"), 3*time.Minute).Verify(seen["Remote-Jwt"][0]); err == nil {
				t.Fatalf("%s: the assertion is accepted three minutes later", mode)
			}
		}
	})
	t.Run("forged forwarded headers describe nothing", func(t *testing.T) {
		forged := []string{"Accept", "application/json", "X-Forwarded-Host", p.host("public"), "X-Forwarded-Uri", "/",
			"X-Forwarded-Method", "GET", "X-Original-URL", "http://" + p.host("public") + "/", "X-Original-Method", "GET",
			"X-Forwarded-For", "10.0.0.1"}
		if st, _, _ := p.do(client, "GET", "app", "/", forged...); st != 401 {
			t.Fatalf("anonymous request with forged forwarded headers: %d, want 401", st)
		}
		// Sent to gatehouse directly from an address that is not a trusted proxy: refused.
		if st := untrustedCheck(t, p); st != 403 {
			t.Fatalf("forward-auth from an untrusted peer: %d, want 403", st)
		}
	})
	t.Run("role rule refuses others", func(t *testing.T) {
		tok := p.login("alice", alice, "token")
		if st, _, _ := p.do(client, "GET", "app", "/admin/users", tok...); st != 403 {
			t.Fatalf("alice on /admin: %d, want 403", st)
		}
		if st, _, _ := p.do(client, "GET", "app", "/x/../admin/users", tok...); st != 403 && st != 400 {
			t.Fatalf("alice on /x/../admin: %d, want 403", st)
		}
		admin := p.login("admin", proxyAdminPassword, "token")
		st, _, body := p.do(client, "GET", "app", "/admin/users", admin...)
		if seen := echoed(t, body); st != 200 || strings.Join(seen["Remote-User"], "|") != "admin" {
			t.Fatalf("admin on /admin: %d %v", st, seen)
		}
	})
	t.Run("sign out everywhere refuses the next request", func(t *testing.T) {
		sess := p.login("alice", alice, "session")
		tok := p.login("alice", alice, "token")
		for _, c := range [][]string{sess, tok} {
			if st, _, _ := p.do(client, "GET", "app", "/", c...); st != 200 {
				t.Fatalf("before: %d", st)
			}
		}
		if st := p.api("POST", "/api/logout-all", sess); st != 204 {
			t.Fatalf("logout-all: %d", st)
		}
		for _, c := range [][]string{sess, tok} {
			if st, _, _ := p.do(client, "GET", "app", "/", append([]string{"Accept", "application/json"}, c...)...); st != 401 {
				t.Fatalf("after sign-out everywhere: %d, want 401", st)
			}
		}
	})
	t.Run("revoked token is refused", func(t *testing.T) {
		tok := p.login("alice", alice, "token")
		if st, _, _ := p.do(client, "GET", "app", "/", tok...); st != 200 {
			t.Fatalf("before: %d", st)
		}
		if st := p.api("POST", "/api/logout", tok); st != 204 {
			t.Fatalf("logout: %d", st)
		}
		if st, _, _ := p.do(client, "GET", "app", "/", tok...); st != 401 {
			t.Fatalf("revoked token: %d, want 401", st)
		}
	})
}

// forgedAssertion is a Remote-JWT a client sends itself: a well-formed JWT signed by no one.
const forgedAssertion = "eyJhbGciOiJub25lIiwidHlwIjoiYXQrand0In0.eyJzdWIiOiJhZG1pbiIsInJvbGUiOiJhZG1pbiJ9."

// appVerifier is the verify SDK as the app at origin runs it (gatehouse's JWK Set fetched over
// HTTP, its issuer, the app's origin as the audience), with its clock shifted by offset.
func (p *proxied) appVerifier(t *testing.T, origin string, offset time.Duration) *verify.Verifier {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	v, err := verify.New(ctx, verify.Config{Issuer: proxyIssuer(p.port), JWKSURL: "http://" + p.gatehouse + "/.well-known/jwks.json",
		Audience: origin, CacheSize: -1,
		Now: func() time.Time { return time.Now().Add(offset) }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { v.Close() })
	return v
}

// addProxyUser creates a user with the admin's token and returns its password.
func addProxyUser(t *testing.T, p *proxied, name string) string {
	t.Helper()
	pw := "a long password for " + name + " only"
	admin := p.login("admin", proxyAdminPassword, "token")
	body := `{"username":"` + name + `","password":"` + pw + `","role":"user","name":"` + strings.ToUpper(name) + `","email":"` + name + `@example.org"}`
	req, _ := http.NewRequest("POST", "http://"+p.gatehouse+"/api/admin/users", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(admin[0], admin[1])
	resp, err := checkedClient(t).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 201 {
		t.Fatalf("create %s: %d", name, resp.StatusCode)
	}
	return pw
}

// untrustedCheck asks gatehouse's forward-auth directly from 127.0.0.2, which is not a
// trusted proxy, with forged headers that describe a bypassed request.
func untrustedCheck(t *testing.T, p *proxied) int {
	t.Helper()
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP("127.0.0.2")}, Timeout: 5 * time.Second}
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DialContext: d.DialContext}}
	req, _ := http.NewRequest("GET", "http://"+p.gatehouse+"/api/authz/forward-auth", nil)
	for k, v := range map[string]string{"X-Forwarded-Method": "GET", "X-Forwarded-Proto": "http",
		"X-Forwarded-Host": "public." + proxyDomain + ":" + strconv.Itoa(p.port), "X-Forwarded-Uri": "/"} {
		req.Header.Set(k, v)
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// TestAccessRulesReloadOnSIGHUP: a SIGHUP puts a changed rules file in force without a restart;
// a file with an error leaves the rules in force.
func TestAccessRulesReloadOnSIGHUP(t *testing.T) {
	rules := filepath.Join(t.TempDir(), "rules.yaml")
	write := func(doc string) {
		if err := os.WriteFile(rules, []byte(doc), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("rules:\n  - domain: app.example.test\n    policy: deny\n")
	addr, stop := startServe(t, "--trusted-proxies", "127.0.0.1/32", "--access-rules", rules, "--session-store", "memory")
	check := func() int {
		req, _ := http.NewRequest("GET", "http://"+addr+"/api/authz/forward-auth", nil)
		for k, v := range map[string]string{"X-Forwarded-Method": "GET", "X-Forwarded-Host": "app.example.test", "X-Forwarded-Uri": "/"} {
			req.Header.Set(k, v)
		}
		resp, err := checkedClient(t).Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	hup := func(want int) {
		t.Helper()
		if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
			t.Fatal(err)
		}
		testkit.Eventually(t, 5*time.Second, "the reloaded rules answer", func() bool { return check() == want })
	}
	if st := check(); st != 403 {
		t.Fatalf("before the reload: %d, want 403", st)
	}
	write("rules:\n  - domain: app.example.test\n    policy: bypass\n")
	hup(200)
	write("rules:\n  - domain: app.example.test\n    policy: nonsense\n")
	syscall.Kill(os.Getpid(), syscall.SIGHUP)
	time.Sleep(200 * time.Millisecond)
	if st := check(); st != 200 {
		t.Fatalf("after a bad file: %d, want the rules in force (200)", st)
	}
	if logs := stop(); !strings.Contains(logs, "access rules not reloaded") || !strings.Contains(logs, "line 3") {
		t.Fatalf("the bad file was not logged with its line: %s", logs)
	}
}

// TestNginxForwardAuthJWTWithJose: the app behind nginx verifies Remote-JWT with the npm
// package jose (createRemoteJWKSet over gatehouse's JWK Set), as an app in another language
// would: accepted for its own origin, refused for another, refused once expired, refused
// after a byte of the signature changes.
func TestNginxForwardAuthJWTWithJose(t *testing.T) {
	testkit.Slow(t, "runs nginx, gatehouse and node")
	dir := installJose(t)
	p := &proxied{t: t, port: freeRange(t, 0), app: startEchoApp(t)}
	p.gatehouse = startProxiedGatehouse(t, p.port)
	startNginx(t, p, 0)
	client := noRedirects()
	var jwts []string
	for _, mode := range []string{"token", "session"} {
		st, _, body := p.do(client, "GET", "app", "/x", p.login("admin", proxyAdminPassword, mode)...)
		seen := echoed(t, body)
		if st != 200 || len(seen["Remote-Jwt"]) != 1 {
			t.Fatalf("%s: %d, the app saw %v", mode, st, seen)
		}
		jwts = append(jwts, seen["Remote-Jwt"][0])
	}
	keys := "http://" + p.gatehouse
	run := func(audience string, offset time.Duration, tokens ...string) []joseResult {
		return runJoseIssuer(t, dir, keys, proxyIssuer(p.port), audience, "EdDSA", offset, tokens...)
	}
	res := run("http://"+p.host("app"), 0, append(jwts, tamper(jwts[0]))...)
	for i := range jwts {
		if !res[i].OK || res[i].Role != "admin" || res[i].Sub == "" {
			t.Fatalf("jose refuses the assertion of a %d: %+v", i, res[i])
		}
	}
	if res[2].OK {
		t.Fatalf("jose accepts a tampered assertion: %+v", res[2])
	}
	if res := run("http://"+p.host("wiki"), 0, jwts[0]); res[0].OK || res[0].Code != "ERR_JWT_CLAIM_VALIDATION_FAILED" {
		t.Fatalf("jose accepts the assertion for another app: %+v", res[0])
	}
	if res := run("http://"+p.host("app"), 3*time.Minute, jwts[0]); res[0].OK || res[0].Code != "ERR_JWT_EXPIRED" {
		t.Fatalf("jose accepts an expired assertion: %+v", res[0])
	}
}

// TestForwardAuthJWTConfiguration: assertions need a public-key algorithm (an app cannot verify
// HS256 without the secret that signs every token) and a sane lifetime.
func TestForwardAuthJWTConfiguration(t *testing.T) {
	secret := strings.Repeat("s3cr3t-", 8)
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--forward-auth-jwt", "--signing-alg", "HS256", "--hmac-secret=" + secret}, "needs a public-key signing algorithm"},
		{[]string{"--forward-auth-jwt-ttl", "5s"}, "want 10s to 1h"},
		{[]string{"--forward-auth-jwt-ttl", "2h"}, "want 10s to 1h"},
	} {
		if _, err := serveConfig(t, append(c.args, "--data", t.TempDir())...); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: %v, want an error saying %q", c.args, err, c.want)
		}
	}
	if _, err := serveConfig(t, "--forward-auth-jwt", "--signing-alg", "ES256", "--data", t.TempDir()); err != nil {
		t.Errorf("ES256: %v", err)
	}
}
