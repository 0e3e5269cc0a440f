package main

// End-to-end test of the OpenID Provider with oauth2-proxy (v7, built from its Go module by
// scripts/build-oauth2-proxy.sh) as the relying party: it protects a small upstream app, and
// headless chromium signs in through gatehouse's sign-in and consent pages.

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"golang.org/x/oauth2"

	"github.com/gatehouse-auth/gatehouse"
	"github.com/gatehouse-auth/gatehouse/internal/browsertest"
	"github.com/gatehouse-auth/gatehouse/internal/testkit"
)

// oauth2ProxyRefresh is oauth2-proxy's --cookie-refresh in the test: how long a session cookie
// is trusted before oauth2-proxy refreshes it at gatehouse's token endpoint.
const oauth2ProxyRefresh = 2 * time.Second

// pastRefresh is how long to wait for oauth2-proxy to find a session older than
// oauth2ProxyRefresh: it measures a session's age from the current time truncated to the second
// (SessionState.Age), so an age can read up to a second short, and the wait covers that second.
const pastRefresh = oauth2ProxyRefresh + 1500*time.Millisecond

// oauth2ProxyBinary returns oauth2-proxy: $GATEHOUSE_OAUTH2_PROXY, else the binary that
// scripts/build-oauth2-proxy.sh keeps in its cache directory. The test never builds it (that
// takes minutes): without it the test skips, and fails when CI is set (.ci/run builds it first).
func oauth2ProxyBinary(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("GATEHOUSE_OAUTH2_PROXY"); p != "" {
		if _, err := os.Stat(p); err != nil {
			t.Fatalf("GATEHOUSE_OAUTH2_PROXY: %v", err)
		}
		return p
	}
	script, err := os.ReadFile("../../scripts/build-oauth2-proxy.sh")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`OAUTH2_PROXY_VERSION:-(v[0-9.]+)\}`).FindSubmatch(script)
	if m == nil {
		t.Fatal("scripts/build-oauth2-proxy.sh names no default version")
	}
	tmp := os.Getenv("TMPDIR")
	if tmp == "" {
		tmp = "/tmp"
	}
	bin := filepath.Join(tmp, "gatehouse-oauth2-proxy-"+string(m[1]), "oauth2-proxy")
	if _, err := os.Stat(bin); err != nil {
		msg := "oauth2-proxy is not built: run `bash scripts/build-oauth2-proxy.sh` once (or set GATEHOUSE_OAUTH2_PROXY)"
		if os.Getenv("CI") != "" {
			t.Fatalf("%s; CI is set, so this fails", msg)
		}
		t.Skip("skipping: " + msg)
	}
	return bin
}

// startIdentityApp starts the app behind oauth2-proxy: a page that shows the identity headers
// oauth2-proxy passes to it. Its icon is inline, so that the browser makes no second request.
func startIdentityApp(t *testing.T) *httptest.Server {
	app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprint(w, `<!doctype html><title>wiki</title><link rel="icon" href="data:,"><h1 id="app">wiki</h1>`)
		for _, h := range []string{"X-Forwarded-User", "X-Forwarded-Email", "X-Forwarded-Preferred-Username", "X-Forwarded-Groups"} {
			fmt.Fprintf(w, `<p id="%s">%s</p>`, strings.ToLower(h), htmlEscape(strings.Join(r.Header.Values(h), ",")))
		}
		fmt.Fprintf(w, `<p id="path">%s</p>`, htmlEscape(r.URL.RequestURI()))
	}))
	t.Cleanup(app.Close)
	return app
}

// oauth2ProxyArgs is the command line of docs/oidc.md with the test's addresses.
func oauth2ProxyArgs(issuer, clientID, secret, proxy, upstream string) []string {
	return []string{
		"--provider=oidc", "--oidc-issuer-url=" + issuer,
		"--client-id=" + clientID, "--client-secret=" + secret,
		"--redirect-url=" + proxy + "/oauth2/callback",
		"--code-challenge-method=S256", "--scope=openid profile email groups offline_access",
		"--email-domain=*", "--skip-provider-button",
		"--cookie-secret=" + cookieSecret(),
		"--cookie-refresh=" + oauth2ProxyRefresh.String(),
		"--upstream=" + upstream,
		// Only because the test runs on plain HTTP.
		"--cookie-secure=false", "--http-address=127.0.0.1:" + proxy[strings.LastIndex(proxy, ":")+1:],
	}
}

// cookieSecret returns a key for oauth2-proxy's cookies as the documentation makes one: 32 bytes
// from crypto/rand, base64url.
func cookieSecret() string {
	b := make([]byte, 32)
	rand.Read(b)
	return base64.URLEncoding.EncodeToString(b)
}

// adminJSON calls gatehouse's admin API with the bearer token and decodes the answer into out.
func adminJSON(t *testing.T, base, token, method, path string, body, out any) {
	t.Helper()
	raw, _ := json.Marshal(body)
	req, _ := http.NewRequest(method, base+path, bytes.NewReader(raw))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 300 {
		t.Fatalf("%s %s: %d", method, path, resp.StatusCode)
	}
	if out != nil {
		if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
	}
}

// addVerifiedUser creates a user through the admin API, in groups, with an address marked
// verified as the link of the verification mail would (oauth2-proxy refuses an address whose
// email_verified is false).
func addVerifiedUser(t *testing.T, a *app, base, token, name string, groups ...string) (id, password string) {
	t.Helper()
	password = "a long password for " + name + " only"
	var created struct {
		User gatehouse.User `json:"user"`
	}
	adminJSON(t, base, token, "POST", "/api/admin/users", map[string]string{"username": name, "password": password,
		"role": "user", "name": strings.ToUpper(name[:1]) + name[1:], "email": name + "@example.org"}, &created)
	verified := true
	if _, err := a.users.UpdateUser(context.Background(), created.User.ID, gatehouse.UserUpdate{EmailVerified: &verified, Groups: &groups}); err != nil {
		t.Fatal(err)
	}
	return created.User.ID, password
}

// TestProviderOAuth2Proxy: oauth2-proxy protects an app with gatehouse as its OpenID Provider.
// A browser signs in through gatehouse's sign-in and consent pages and reaches the app with its
// identity; the next visit needs no sign-in; oauth2-proxy refreshes its session with gatehouse's
// refresh token; after a sign-out everywhere, and for a disabled user, that refresh fails and the
// app is closed; denying consent, or an address not verified, never reaches the app.
func TestProviderOAuth2Proxy(t *testing.T) {
	testkit.Slow(t, "runs oauth2-proxy (built once from its Go module), chromium and gatehouse")
	bin := oauth2ProxyBinary(t)
	a, base := startApp(t, "EdDSA")
	admin, _ := loginTokens(t, base)
	erinID, erinPassword := addVerifiedUser(t, a, base, admin, "erin", "staff", "wiki-editors")
	_, finnPassword := addVerifiedUser(t, a, base, admin, "finn")
	gusPassword := "a long password for gus only"
	adminJSON(t, base, admin, "POST", "/api/admin/users", map[string]string{"username": "gus", "password": gusPassword,
		"role": "user", "name": "Gus", "email": "gus@example.org"}, nil) // an address not verified

	// oauth2-proxy's host is not gatehouse's, as in a deployment: a browser keeps cookies per
	// host (not per port), and gatehouse's sign-out clears the cookies of its own host.
	proxy := "http://localhost:" + freeLoopbackPort(t)
	var client struct {
		ID     string `json:"client_id"`
		Secret string `json:"client_secret"`
	}
	adminJSON(t, base, admin, "POST", "/api/admin/clients", map[string]any{"name": "Wiki", "redirect_uris": []string{proxy + "/oauth2/callback"},
		"scopes": []string{"openid", "profile", "email", "groups", "offline_access"}}, &client)
	upstream := startIdentityApp(t)
	log := filepath.Join(t.TempDir(), "oauth2-proxy.log")
	startProcess(t, log, bin, oauth2ProxyArgs(base, client.ID, client.Secret, proxy, upstream.URL)...)
	port, _ := strconv.Atoi(proxy[strings.LastIndex(proxy, ":")+1:])
	waitListening(t, port, "oauth2-proxy", log)
	t.Cleanup(func() {
		if t.Failed() {
			raw, _ := os.ReadFile(log)
			t.Logf("oauth2-proxy's log:\n%s", raw)
		}
	})

	browser := browsertest.Start(t, browsertest.Options{Timeout: time.Minute, HostResolverRules: browsertest.MapDomain("localhost")})
	page := proxy + "/docs/page?x=1"
	tab := &rpTab{btab: btab{t: t, ctx: browsertest.Tab(t, browser, time.Minute), base: base}}

	// Signed out: oauth2-proxy sends the browser to gatehouse, which asks for a sign-in first,
	// then for consent.
	tab.load(chromedp.Navigate(page))
	tab.atSignIn("a first visit")
	tab.signInAs("erin", erinPassword)
	if h := tab.text("h1"); h != "Allow Wiki?" {
		t.Fatalf("after signing in the page says %q, want the consent page", h)
	}
	for _, scope := range []string{"see your e-mail address", "see the groups you belong to", "keep access while you are away"} {
		if !strings.Contains(tab.text("ul.scopes"), scope) {
			t.Fatalf("the consent page does not list %q", scope)
		}
	}
	tab.load(chromedp.Click(chromedp.CSS(`button[value="allow"]`), chromedp.NodeVisible))
	// oauth2-proxy names the user by the ID token's sub: gatehouse's user id.
	want := map[string]string{"x-forwarded-user": erinID, "x-forwarded-email": "erin@example.org",
		"x-forwarded-preferred-username": "erin", "x-forwarded-groups": "staff,wiki-editors", "path": "/docs/page?x=1"}
	tab.atApp(page, want)

	// The next visit goes through on oauth2-proxy's cookie alone.
	tab.load(chromedp.Navigate(page))
	tab.atApp(page, want)

	// Past the refresh period oauth2-proxy redeems gatehouse's refresh token and lets the
	// browser through without a sign-in.
	time.Sleep(pastRefresh)
	tab.load(chromedp.Navigate(page))
	tab.atApp(page, want)
	if raw, _ := os.ReadFile(log); !strings.Contains(string(raw), "Refreshing session") || strings.Contains(string(raw), "Unable to refresh session") {
		t.Fatalf("oauth2-proxy did not refresh the session at gatehouse:\n%s", raw)
	}

	// A sign-out everywhere at gatehouse revokes the refresh token: oauth2-proxy trusts its
	// cookie until the refresh period ends, then its refresh fails and the browser is sent to
	// gatehouse's sign-in page, not the app.
	tab.load(chromedp.Navigate(base + "/account"))
	tab.load(chromedp.Click(chromedp.CSS("form[action='/account/signout-everywhere'] button"), chromedp.NodeVisible))
	time.Sleep(pastRefresh)
	tab.load(chromedp.Navigate(page))
	tab.atSignIn("after a sign-out everywhere")
	refusedRefreshes(t, log, 1)
	// Signing in again leads straight back (the grant stands): the sign-in form's redirect
	// chain ends at oauth2-proxy's callback, on another origin.
	tab.signInAs("erin", erinPassword)
	tab.atApp(page, want)

	// A disabled user: the same, and no new sign-in.
	adminJSON(t, base, admin, "PATCH", "/api/admin/users/"+erinID, map[string]bool{"disabled": true}, nil)
	time.Sleep(pastRefresh)
	tab.load(chromedp.Navigate(page))
	tab.atSignIn("for a disabled user")
	refusedRefreshes(t, log, 2)
	tab.signInAs("erin", erinPassword)
	tab.atSignIn("a disabled user's sign-in")
	if msg := tab.text("#signin-error"); msg == "" {
		t.Fatal("a disabled user's sign-in shows no error")
	}

	// A user whose address is not verified: oauth2-proxy refuses the sign-in.
	unverified := &rpTab{btab: btab{t: t, ctx: browsertest.Tab(t, browser, time.Minute), base: base}}
	unverified.load(chromedp.Navigate(page))
	unverified.atSignIn("a user with an unverified address")
	unverified.signInAs("gus", gusPassword)
	unverified.refused(`button[value="allow"]`, proxy+"/oauth2/callback?code=")

	// Another user denies consent: oauth2-proxy answers an error, never the app.
	other := &rpTab{btab: btab{t: t, ctx: browsertest.Tab(t, browser, time.Minute), base: base}}
	other.load(chromedp.Navigate(page))
	other.atSignIn("another browser")
	other.signInAs("finn", finnPassword)
	other.refused(`button[value="deny"]`, proxy+"/oauth2/callback?error=access_denied")
}

// refused clicks the consent page's button sel and checks that oauth2-proxy answers 403 at an
// address starting with at, not the app.
func (b *rpTab) refused(sel, at string) {
	b.t.Helper()
	resp, err := chromedp.RunResponse(b.ctx, chromedp.Click(chromedp.CSS(sel), chromedp.NodeVisible))
	if err != nil {
		b.t.Fatal(err)
	}
	if loc := b.location(); resp.Status != http.StatusForbidden || !strings.HasPrefix(loc, at) {
		b.t.Fatalf("after %s: %d at %s, want 403 at %s", sel, resp.Status, loc, at)
	}
	if n, _ := chromedp.Run(b.ctx, chromedp.Evaluate[int](`document.querySelectorAll("#app").length`)); n != 0 {
		b.t.Fatalf("after %s the browser reached the app", sel)
	}
}

// refusedRefreshes checks that oauth2-proxy's log records n refreshes that gatehouse refused
// (invalid_grant), each ending oauth2-proxy's session: that, not a lost cookie, closed the app.
func refusedRefreshes(t *testing.T, log string, n int) {
	t.Helper()
	raw, _ := os.ReadFile(log)
	if got := strings.Count(string(raw), "Fatal refresh error detected"); got != n || !strings.Contains(string(raw), `oauth2: "invalid_grant"`) {
		t.Fatalf("oauth2-proxy's log records %d ended sessions, want %d:\n%s", got, n, raw)
	}
}

// rpTab is a browser tab going through oauth2-proxy to gatehouse.
type rpTab struct{ btab }

func (b *rpTab) location() string {
	b.t.Helper()
	loc, err := chromedp.Run(b.ctx, chromedp.Location())
	if err != nil {
		b.t.Fatal(err)
	}
	return loc
}

// atSignIn checks that the tab shows gatehouse's sign-in page.
func (b *rpTab) atSignIn(when string) {
	b.t.Helper()
	if loc := b.location(); !strings.HasPrefix(loc, b.base+"/") || b.text("h1") != "Sign in" {
		b.t.Fatalf("%s: the browser is at %s, not gatehouse's sign-in page", when, loc)
	}
}

func (b *rpTab) signInAs(user, password string) {
	b.t.Helper()
	b.fill("#username", user)
	b.fill("#password", password)
	b.load(chromedp.Click(chromedp.CSS(`form[action="/"] button[type=submit]`), chromedp.NodeVisible))
}

// atApp checks that the tab shows the upstream app at page, with the identity headers want.
func (b *rpTab) atApp(page string, want map[string]string) {
	b.t.Helper()
	if loc := b.location(); loc != page {
		b.t.Fatalf("the browser is at %s (%q), want the app at %s", loc, b.text("h1"), page)
	}
	for id, v := range want {
		if got, _ := chromedp.Run(b.ctx, chromedp.TextContent(chromedp.CSS("#"+id))); got != v {
			b.t.Errorf("the app sees %s %q, want %q", id, got, v)
		}
	}
}

// TestProviderSignInFormAction: the sign-in page of an application's sign-in allows the
// application's redirect origin as a form-action (browsers apply it to the redirects after the
// form, and a user who granted access before goes from the form straight to the application);
// any other sign-in page allows this site only.
func TestProviderSignInFormAction(t *testing.T) {
	a, base := startApp(t, "EdDSA")
	r := newRP(t, a, base, false)
	policy := func(t *testing.T, u string) (string, *http.Response) {
		t.Helper()
		resp, err := browser(t).Get(u)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || resp.Request.URL.Path != "/" {
			t.Fatalf("%s: %d at %s, not the sign-in page", u, resp.StatusCode, resp.Request.URL)
		}
		return resp.Header.Get("Content-Security-Policy"), resp
	}
	csp, resp := policy(t, r.conf.AuthCodeURL("st", oauth2.S256ChallengeOption(oauth2.GenerateVerifier())))
	if !strings.Contains(csp, "form-action 'self' http://127.0.0.1:4711;") {
		t.Fatalf("the sign-in page of an application's sign-in: CSP %q", csp)
	}
	next := resp.Request.URL.Query().Get("next")
	for _, u := range []string{
		base + "/",
		base + "/?next=" + url.QueryEscape("/account"),
		base + "/?next=" + url.QueryEscape("/oidc/login?id="+gatehouse.NewSecret()),                         // no such request
		base + "/?next=" + url.QueryEscape("/oidc/login?id=x"),                                              // malformed
		base + "/?next=" + url.QueryEscape("http://evil.example"+next),                                      // not a path here
		base + "/?next=" + url.QueryEscape("//evil.example"+next),                                           // neither
		base + "/?next=" + url.QueryEscape("/oidc/login/x?id="+strings.TrimPrefix(next, "/oidc/login?id=")), // another path
	} {
		if csp, _ := policy(t, u); !strings.Contains(csp, "form-action 'self';") {
			t.Errorf("%s: CSP %q", u, csp)
		}
	}
}

// TestProviderEmailVerified: userinfo says whether the address is verified, false included
// (relying parties such as oauth2-proxy take an absent email_verified for a verified address).
func TestProviderEmailVerified(t *testing.T) {
	a, base := startApp(t, "EdDSA")
	ctx := context.Background()
	r := newRP(t, a, base, false)
	admin, err := a.users.UserByUsername(ctx, "admin")
	if err != nil {
		t.Fatal(err)
	}
	b := browser(t)
	for _, verified := range []bool{false, true} {
		email := "admin@example.org"
		if _, err := a.users.UpdateUser(ctx, admin.ID, gatehouse.UserUpdate{Email: &email, EmailVerified: &verified}); err != nil {
			t.Fatal(err)
		}
		verifier := oauth2.GenerateVerifier()
		loc, status := authorize(t, b, r.conf.AuthCodeURL("st", oauth2.S256ChallengeOption(verifier)), "admin", interopAdminPassword)
		if loc == nil || loc.Query().Get("code") == "" {
			t.Fatalf("no code: %v %d", loc, status)
		}
		tok, err := r.conf.Exchange(ctx, loc.Query().Get("code"), oauth2.VerifierOption(verifier))
		if err != nil {
			t.Fatal(err)
		}
		ui, err := r.provider.UserInfo(ctx, oauth2.StaticTokenSource(tok))
		if err != nil {
			t.Fatal(err)
		}
		var claims map[string]any
		if err := ui.Claims(&claims); err != nil || claims["email"] != email || claims["email_verified"] != verified {
			t.Fatalf("verified=%v: userinfo %v, %v", verified, claims, err)
		}
	}
}
