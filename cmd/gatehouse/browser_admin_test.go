package main

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/gatehouse-auth/gatehouse"
	"github.com/gatehouse-auth/gatehouse/internal/browsertest"
	"github.com/gatehouse-auth/gatehouse/internal/testkit"
)

// TestBrowserAdminRegistersClient: an admin registers an application on the admin page of the
// real server in chromium: a mistake comes back next to its field, then the secret is shown
// once, the application signs a user in with it, it is on no later page and in no log line;
// the application is deleted after ticking the box.
func TestBrowserAdminRegistersClient(t *testing.T) {
	testkit.Slow(t, "starts a browser")
	browser := browsertest.Start(t, browsertest.Options{})
	t.Setenv("GATEHOUSE_ADMIN_PASSWORD", "the first admin password")
	addr, stop := startServe(t)
	base := "http://" + addr
	b := &btab{t: t, ctx: browsertest.Tab(t, browser, time.Minute), base: base}
	b.signIn()
	b.load(chromedp.Navigate(base + "/admin"))

	b.fill("#client-name", "Team wiki")
	b.fill("#client-redirect_uris", "http://wiki.example/oauth2/callback")
	b.click(`form[action="/admin/clients"] button[type=submit]`)
	if msg := b.text("#client-redirect_uris-error"); !strings.Contains(msg, "must use https") {
		t.Fatalf("the refused redirect URI says %q", msg)
	}
	b.fill("#client-redirect_uris", "https://wiki.example/oauth2/callback\nhttp://127.0.0.1/callback")
	b.tick("#client-scope-offline_access") // untick: every scope is ticked at first
	b.click(`form[action="/admin/clients"] button[type=submit]`)
	id, secret := b.text("#client-id"), b.text("#client-secret")
	if !gatehouse.ValidID(id) || !gatehouse.ValidSecret(secret) {
		t.Fatalf("registered %q with secret %q", id, secret)
	}
	if s := b.text(`section[aria-labelledby="facts-h"] dl`); !strings.Contains(s, "openid profile email groups") || strings.Contains(s, "offline_access") {
		t.Fatalf("the registered scopes read %q", s)
	}

	// The secret works: the application's sign-in in the same browser (consent, back to its
	// loopback redirect URI on any port, RFC 8252), then the code exchanged with the secret.
	codes := make(chan string, 1)
	app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case codes <- r.URL.Query().Get("code"):
		default:
		}
		io.WriteString(w, "signed in")
	}))
	t.Cleanup(app.Close)
	redirect := app.URL + "/callback"
	b.load(chromedp.Navigate(base + "/oidc/authorize?" + url.Values{"client_id": {id}, "redirect_uri": {redirect},
		"response_type": {"code"}, "scope": {"openid profile"}, "state": {"s1"}}.Encode()))
	b.click(`button[value="allow"]`)
	var code string
	select {
	case code = <-codes:
	case <-time.After(10 * time.Second):
		t.Fatal("the browser did not come back to the application")
	}
	if code == "" {
		t.Fatal("the application got no code")
	}
	exchange := func(secret string) int {
		form := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {redirect}}
		req, _ := http.NewRequest("POST", base+"/oauth2/token", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.SetBasicAuth(id, secret)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if wrong, got := exchange(secret+"x"), exchange(secret); wrong != 401 || got != 200 {
		t.Fatalf("code exchange: %d with a wrong secret, %d with the shown one; want 401 and 200", wrong, got)
	}

	// Shown once: the application's page, opened from the list, does not show it again.
	b.load(chromedp.Navigate(base + "/admin"))
	b.click(`a[href="/admin/clients/` + id + `"]`)
	if h := b.text("h1"); h != "Team wiki" {
		t.Fatalf("the application's page says %q", h)
	}
	html, err := chromedp.Run(b.ctx, chromedp.OuterHTML(chromedp.CSS("html")))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(html, secret) {
		t.Fatal("the secret is shown again")
	}
	b.tick("#confirm-delete")
	b.click(`form[action$="/delete"] button[type=submit]`)
	if msg := b.text(".flash"); !strings.Contains(msg, "The application is deleted") {
		t.Fatalf("after deleting the page says %q", msg)
	}
	if logs := stop(); strings.Contains(logs, secret) || !strings.Contains(logs, id) {
		t.Fatal("the logs hold the client secret, or do not name the client")
	}
}

// tick clicks a checkbox (no page load follows).
func (b *btab) tick(sel string) {
	b.t.Helper()
	if err := chromedp.Do(b.ctx, chromedp.Click(chromedp.CSS(sel), chromedp.NodeVisible)); err != nil {
		b.t.Fatal(err)
	}
}
