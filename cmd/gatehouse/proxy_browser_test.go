package main

import (
	"context"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/gatehouse-auth/gatehouse/internal/browsertest"
	"github.com/gatehouse-auth/gatehouse/internal/testkit"
)

// browserFor starts a headless chromium whose only reachable names are example.test and its
// subdomains, all mapped to 127.0.0.1 (nothing leaves the machine).
func browserFor(t *testing.T) context.Context {
	t.Helper()
	return browsertest.Start(t, browsertest.Options{HostResolverRules: browsertest.MapDomain(proxyDomain)})
}

// TestBrowserSignsInAcrossSubdomains: an anonymous browser opens a protected app through
// nginx, lands on the sign-in page on another subdomain, signs in, and is back at the original
// address with its identity visible to the app; signing out everywhere closes the app again.
func TestBrowserSignsInAcrossSubdomains(t *testing.T) {
	testkit.Slow(t, "runs chromium, nginx and gatehouse")
	p := &proxied{t: t, port: freeRange(t, 0), app: startEchoApp(t)}
	p.gatehouse = startProxiedGatehouse(t, p.port)
	startNginx(t, p, 0)
	pw := addProxyUser(t, p, "dana")
	ctx := browserFor(t)

	original := "http://" + p.host("app") + "/reports?year=2&q=a%20b"
	run := func(steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(ctx, steps...); err != nil {
			t.Fatal(err)
		}
	}
	load := func(steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		resp, err := chromedp.RunResponse(ctx, steps...)
		if err != nil {
			t.Fatal(err)
		}
		if resp.Status >= 500 {
			t.Fatalf("%s answered %d", resp.URL, resp.Status)
		}
	}
	location := func() string {
		t.Helper()
		loc, err := chromedp.Run(ctx, chromedp.Location())
		if err != nil {
			t.Fatal(err)
		}
		return loc
	}
	load(chromedp.Navigate(original))
	if want := signInLocation(p, "app", "/reports?year=2&q=a%20b"); location() != want {
		t.Fatalf("the browser is at %q, want the sign-in page %q", location(), want)
	}
	run(chromedp.SetValue(chromedp.CSS("#username"), "dana"), chromedp.SetValue(chromedp.CSS("#password"), pw))
	load(chromedp.Click(chromedp.CSS("button[type=submit]"), chromedp.NodeVisible))
	if location() != original {
		t.Fatalf("after signing in the browser is at %q, want %q", location(), original)
	}
	who, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("#who"), chromedp.NodeVisible))
	if err != nil || who != "dana" {
		t.Fatalf("the app sees %q (%v), want dana", who, err)
	}
	// The same cookie opens another app on another subdomain.
	load(chromedp.Navigate("http://" + p.host("wiki") + "/"))
	if who, _ := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("#who"), chromedp.NodeVisible)); who != "dana" {
		t.Fatalf("the second app sees %q, want dana", who)
	}
	// Sign out everywhere from the account page; the app is closed at the next request.
	load(chromedp.Navigate("http://" + p.host("auth") + "/account"))
	load(chromedp.Click(chromedp.CSS("form[action='/account/signout-everywhere'] button"), chromedp.NodeVisible))
	load(chromedp.Navigate(original))
	if want := signInLocation(p, "app", "/reports?year=2&q=a%20b"); location() != want {
		t.Fatalf("after signing out everywhere the browser is at %q, want the sign-in page", location())
	}
}
