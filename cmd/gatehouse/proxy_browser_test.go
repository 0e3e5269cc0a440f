package main

import (
	"context"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/gatehouse-auth/gatehouse/internal/testkit"
)

// chromium returns Debian's chromium, or skips (fails under CI) without it. Like the shop's
// browser tests (cmd/gatehouse-shop/browser_test.go), whose start-up this follows.
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{os.Getenv("GATEHOUSE_CHROMIUM"), "/usr/bin/chromium", "chromium", "chromium-browser"} {
		if name == "" {
			continue
		}
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	skipOrFail(t, "chromium (apt-get install chromium)", exec.ErrNotFound)
	return ""
}

// browserFor starts a headless chromium whose only reachable names are the subdomains of
// example.test, all mapped to 127.0.0.1 (nothing leaves the machine).
func browserFor(t *testing.T) context.Context {
	t.Helper()
	exe := chromium(t)
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(exe),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("no-proxy-server", true),
		chromedp.Flag("host-resolver-rules", "MAP *."+proxyDomain+" 127.0.0.1 , MAP * ~NOTFOUND , EXCLUDE 127.0.0.1"),
		chromedp.Flag("disable-features", "Translate,OptimizationHints,MediaRouter,AutofillServerCommunication,HttpsUpgrades"),
	)
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	browser, cancelBrowser := chromedp.NewContext(alloc)
	t.Cleanup(func() { cancelBrowser(); cancelAlloc() })
	ctx, cancel := context.WithTimeout(browser, 2*time.Minute)
	t.Cleanup(cancel)
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("starting chromium: %v", err)
	}
	return ctx
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
