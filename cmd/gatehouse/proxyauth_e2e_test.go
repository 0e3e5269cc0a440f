package main

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/url"
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
	t.Run("rule order, wildcards and path spellings through the proxy", func(t *testing.T) {
		tok := p.login("alice", alice, "token")
		// The admin rule comes before the wildcard rule; no spelling of its path slips past it.
		for _, path := range []string{"/admin", "/%61dmin/users", "/admin%2Fusers", "/x/%2e%2e/admin/", "/./admin"} {
			if st, _, _ := p.do(client, "GET", "app", path, tok...); st != 403 {
				t.Errorf("alice on %s: %d, want 403", path, st)
			}
		}
		// Paths that merely start alike are the wildcard rule's.
		if st, _, _ := p.do(client, "GET", "app", "/administrator", tok...); st != 200 {
			t.Errorf("alice on /administrator: %d, want 200", st)
		}
		admin := p.login("admin", proxyAdminPassword, "token")
		// Host names outside the rules' domains fall to the default, deny, whoever asks (nginx
		// asks gatehouse, which answers 403; Caddy serves only the sites it names): the app
		// never sees them. Case does not change what a name is.
		port := ":" + strconv.Itoa(p.port)
		for host, reaches := range map[string]bool{
			"app." + proxyDomain + ".evil.test" + port: false,
			"evil" + proxyDomain + port:                false,
			proxyDomain + port:                         false, // the wildcard covers subdomains only
			"APP.EXAMPLE.TEST" + port:                  true,
		} {
			st, body := p.doHost(client, host, "/", admin...)
			if got := st == 200 && strings.Contains(body, `"Remote-User":["admin"]`); got != reaches {
				t.Errorf("the admin at %s: %d %.100q; reaches the app %v, want %v", host, st, body, got, reaches)
			}
		}
	})
	t.Run("the sign-in page returns only to allowed domains through the proxy", func(t *testing.T) {
		sess := p.login("alice", alice, "session")
		back := "http://" + p.host("app") + "/x?y=1"
		cases := map[string]string{
			back:                 back,
			"https://evil.test/": "/account",
			"//evil.test/":       "/account",
			"/\\evil.test/":      "/account",
			"http://" + p.host("app") + "@evil.test/":   "/account",
			"http://evil.test\\@" + p.host("app") + "/": "/account",
			"javascript:alert(1)":                       "/account",
			"http://" + proxyDomain + ".evil.test/":     "/account",
			"http://app.example.test%2eevil.test/":      "/account",
		}
		for rd, want := range cases {
			st, h, _ := p.do(client, "GET", "auth", "/?rd="+url.QueryEscape(rd), sess...)
			if st != 303 || h.Get("Location") != want {
				t.Errorf("rd=%s: %d to %q, want 303 to %q", rd, st, h.Get("Location"), want)
			}
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

// doHost sends GET path to the proxy with the Host header host and returns the answer.
func (p *proxied) doHost(client *http.Client, host, path string, hdr ...string) (int, string) {
	p.t.Helper()
	req, err := http.NewRequest("GET", "http://127.0.0.1:"+strconv.Itoa(p.port)+path, nil)
	if err != nil {
		p.t.Fatal(err)
	}
	req.Host = host
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Add(hdr[i], hdr[i+1])
	}
	resp, err := client.Do(req)
	if err != nil {
		p.t.Fatalf("GET %s%s: %v", host, path, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return resp.StatusCode, string(raw)
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

// addProxyUser creates a user (in groups) with the admin's token and returns its password.
func addProxyUser(t *testing.T, p *proxied, name string, groups ...string) string {
	t.Helper()
	pw := "a long password for " + name + " only"
	admin := p.login("admin", proxyAdminPassword, "token")
	body := `{"username":"` + name + `","password":"` + pw + `","role":"user","name":"` + strings.ToUpper(name) + `","email":"` + name + `@example.org"}`
	var created struct {
		User struct {
			ID string `json:"id"`
		} `json:"user"`
	}
	if st := p.adminCall("POST", "/api/admin/users", body, admin, &created); st != 201 {
		t.Fatalf("create %s: %d", name, st)
	}
	if len(groups) > 0 {
		body = `{"groups":["` + strings.Join(groups, `","`) + `"]}`
		if st := p.adminCall("PATCH", "/api/admin/users/"+created.User.ID, body, admin, nil); st != 200 {
			t.Fatalf("groups of %s: %d", name, st)
		}
	}
	return pw
}

// adminCall sends a JSON body to gatehouse's admin API with the admin's credential and
// decodes the answer into out (if not nil).
func (p *proxied) adminCall(method, path, body string, admin []string, out any) int {
	p.t.Helper()
	req, _ := http.NewRequest(method, "http://"+p.gatehouse+path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(admin[0], admin[1])
	resp, err := checkedClient(p.t).Do(req)
	if err != nil {
		p.t.Fatal(err)
	}
	defer resp.Body.Close()
	if out != nil {
		json.NewDecoder(resp.Body).Decode(out)
	}
	return resp.StatusCode
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

// TestNginxForwardAuthThrottle and TestCaddyForwardAuthThrottle: a client that keeps sending a
// forged session cookie through the proxy is answered 429 with Retry-After once its address
// is over the budget of failed credentials (100 by default), through the shipped snippets;
// a valid cookie from the same address still passes.
func TestNginxForwardAuthThrottle(t *testing.T) {
	testkit.Slow(t, "runs nginx and gatehouse")
	p := &proxied{t: t, port: freeRange(t, 0), app: startEchoApp(t)}
	p.gatehouse = startProxiedGatehouse(t, p.port)
	startNginx(t, p, 0)
	exerciseProxyThrottle(t, p)
}

func TestCaddyForwardAuthThrottle(t *testing.T) {
	testkit.Slow(t, "runs Caddy and gatehouse")
	p := &proxied{t: t, port: freeRange(t, 0), app: startEchoApp(t)}
	p.gatehouse = startProxiedGatehouse(t, p.port)
	startCaddy(t, p)
	exerciseProxyThrottle(t, p)
}

func exerciseProxyThrottle(t *testing.T, p *proxied) {
	client := noRedirects()
	valid := p.login("admin", proxyAdminPassword, "session")
	forged := []string{"Cookie", strings.SplitN(valid[1], "=", 2)[0] + "=forged-session-id", "Accept", "application/json"}
	for i := range 100 {
		if st, _, _ := p.do(client, "GET", "app", "/", forged...); st != 401 {
			t.Fatalf("failure %d: %d, want 401 within the budget", i+1, st)
		}
	}
	for _, accept := range []string{"application/json", "text/html"} {
		st, h, body := p.do(client, "GET", "app", "/", forged[0], forged[1], "Accept", accept)
		if st != 429 || h.Get("Retry-After") == "" {
			t.Fatalf("over the budget (Accept %s): %d, Retry-After %q: %.200s", accept, st, h.Get("Retry-After"), body)
		}
	}
	if st, _, body := p.do(client, "GET", "app", "/", valid...); st != 200 || strings.Join(echoed(t, body)["Remote-User"], "") != "admin" {
		t.Fatalf("a valid cookie from the throttled address: %d", st)
	}
}

// TestNginxForwardAuthGroupRule: a group:NAME rule lets a member of the group through nginx,
// by session cookie and by bearer token, and answers 403 to a signed-in user outside it.
func TestNginxForwardAuthGroupRule(t *testing.T) {
	testkit.Slow(t, "runs nginx and gatehouse")
	p := &proxied{t: t, port: freeRange(t, 0), app: startEchoApp(t)}
	p.gatehouse = startProxiedGatehouse(t, p.port)
	startNginx(t, p, 0)
	client := noRedirects()
	ginaPW := addProxyUser(t, p, "gina", "engineering", "ops")
	hankPW := addProxyUser(t, p, "hank", "finance")
	for _, mode := range []string{"session", "token"} {
		st, _, body := p.do(client, "GET", "team", "/", p.login("gina", ginaPW, mode)...)
		seen := echoed(t, body)
		if st != 200 || strings.Join(seen["Remote-User"], "") != "gina" || strings.Join(seen["Remote-Groups"], "") != "user,engineering,ops" {
			t.Fatalf("gina by %s: %d %v", mode, st, seen)
		}
		got, err := p.appVerifier(t, "http://"+p.host("team"), 0).Verify(seen["Remote-Jwt"][0])
		if err != nil || strings.Join(got.Groups, ",") != "engineering,ops" {
			t.Fatalf("gina by %s: the assertion carries %+v, %v", mode, got, err)
		}
		if st, _, _ := p.do(client, "GET", "team", "/", append([]string{"Accept", "application/json"}, p.login("hank", hankPW, mode)...)...); st != 403 {
			t.Fatalf("hank by %s: %d, want 403", mode, st)
		}
	}
}
