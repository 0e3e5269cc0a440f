package main

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/webauthn"
	"github.com/chromedp/chromedp"

	"github.com/gatehouse-auth/gatehouse/internal/browsertest"
	"github.com/gatehouse-auth/gatehouse/internal/testkit"
)

// freeLoopbackPort returns a port that was free on 127.0.0.1 a moment ago: the browser test
// needs the server's origin (with its port) before the server starts, for --webauthn-origins.
func freeLoopbackPort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
}

// ceremony clicks the button of a WebAuthn form (sel) and waits for the page the script's
// form submission loads; when none loads, it fails with what the page's script said.
func (b *btab) ceremony(sel string) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 20*time.Second)
	defer cancel()
	resp, err := chromedp.RunResponse(ctx, chromedp.Click(chromedp.CSS(sel), chromedp.NodeVisible))
	if err != nil {
		said, _ := chromedp.Run(b.ctx, chromedp.Evaluate[string](`(document.querySelector("[data-webauthn-status]") || {}).textContent || ""`))
		b.t.Fatalf("the ceremony of %s loaded no page (%v); the page says %q", sel, err, said)
	}
	if resp.Status >= 500 {
		b.t.Fatalf("%s answered %d", resp.URL, resp.Status)
	}
}

// addVirtualAuthenticator gives the tab Chrome's virtual authenticator: a platform
// authenticator (CTAP2, internal transport) that keeps passkeys and verifies its user.
func (b *btab) addVirtualAuthenticator() {
	b.t.Helper()
	if _, err := chromedp.Call(b.ctx, webauthn.Enable, webauthn.EnableParams{}); err != nil {
		b.t.Fatalf("WebAuthn.enable: %v", err)
	}
	_, err := chromedp.Call(b.ctx, webauthn.AddVirtualAuthenticator, webauthn.AddVirtualAuthenticatorParams{
		Options: &webauthn.VirtualAuthenticatorOptions{Protocol: webauthn.AuthenticatorProtocolCtap2,
			Ctap2version: webauthn.Ctap2versionCtap21, Transport: webauthn.AuthenticatorTransportInternal,
			HasResidentKey: true, HasUserVerification: true, IsUserVerified: true, AutomaticPresenceSimulation: true}})
	if err != nil {
		b.t.Fatalf("WebAuthn.addVirtualAuthenticator: %v", err)
	}
}

// scriptPolicyHolds checks, in the browser, that the page's policy runs a script added to the
// page (as injected markup would be) only with the response's nonce.
func (b *btab) scriptPolicyHolds() {
	b.t.Helper()
	const inject = `((withNonce) => {
		const s = document.createElement("script");
		if (withNonce) s.nonce = document.querySelector("script[nonce]").nonce;
		s.textContent = "window.injected = (window.injected || 0) + 1";
		document.head.appendChild(s);
		return window.injected || 0;
	})`
	without, err := chromedp.Run(b.ctx, chromedp.Evaluate[int](inject+`(false)`))
	if err != nil || without != 0 {
		b.t.Fatalf("an inline script without the nonce ran (%d, %v)", without, err)
	}
	with, err := chromedp.Run(b.ctx, chromedp.Evaluate[int](inject+`(true)`))
	if err != nil || with != 1 {
		b.t.Fatalf("an inline script with the page's nonce did not run (%d, %v): the check above proves nothing", with, err)
	}
}

// shot saves a screenshot of the page as name.png in $GATEHOUSE_SCREENSHOT_DIR, when it is set.
func (b *btab) shot(name string) {
	b.t.Helper()
	dir := os.Getenv("GATEHOUSE_SCREENSHOT_DIR")
	if dir == "" {
		return
	}
	png, err := chromedp.Run(b.ctx, chromedp.FullScreenshot(100))
	if err == nil {
		err = os.WriteFile(filepath.Join(dir, name+".png"), png, 0o644)
	}
	if err != nil {
		b.t.Fatal(err)
	}
}

func (b *btab) signOut() {
	b.t.Helper()
	b.load(chromedp.Click(chromedp.CSS(`form[action="/signout"] button`), chromedp.NodeVisible))
	if h := b.text("h1"); h != "Sign in" {
		b.t.Fatalf("after signing out the page says %q", h)
	}
}

// TestBrowserPasskeys drives headless chromium, with its virtual authenticator, through the
// real server and the pages' script: add a passkey from the account page, sign out and sign in
// with it alone, sign in with the password and pass the second step with it, remove it (with
// the password), and see a sign-in with it refused.
func TestBrowserPasskeys(t *testing.T) {
	testkit.Slow(t, "starts a browser")
	t.Setenv("GATEHOUSE_ADMIN_PASSWORD", "the first admin password")
	port := freeLoopbackPort(t)
	origin := "http://localhost:" + port // a secure context over plain HTTP, as WebAuthn needs
	browser := browsertest.Start(t, browsertest.Options{HostResolverRules: browsertest.MapDomain("localhost")})
	startServe(t, "--addr", "127.0.0.1:"+port, "--webauthn-rp-id", "localhost", "--webauthn-origins", origin)
	ctx := browsertest.Tab(t, browser, 2*time.Minute)
	tab := &btab{t: t, ctx: ctx, base: origin}
	tab.addVirtualAuthenticator()

	tab.signIn()
	tab.fill("#name", "laptop")
	tab.load(chromedp.Click(chromedp.CSS(`form[action="/account/mfa/webauthn"] button`), chromedp.NodeVisible))
	tab.scriptPolicyHolds()
	tab.shot("passkey-add")
	tab.ceremony("#webauthn-create")
	if h := tab.text("h1"); !strings.Contains(h, "laptop") {
		t.Fatalf("after adding the key the page says %q", h)
	}
	if n := len(strings.Fields(tab.text("#recovery-codes"))); n != 10 {
		t.Fatalf("%d recovery codes shown with the first factor", n)
	}
	tab.load(chromedp.Navigate(origin + "/account"))
	if name := tab.text(".key-name"); name != "laptop" {
		t.Fatalf("the account page lists %q", name)
	}
	tab.shot("account-factors")

	// Without a password: the passkey alone.
	tab.signOut()
	tab.shot("signin-passkey")
	tab.load(chromedp.Click(chromedp.CSS("#passkey-signin"), chromedp.NodeVisible))
	tab.ceremony("#passkey-get")
	if h := tab.text("h1"); h != "Your account" {
		t.Fatalf("after the passkey the page says %q", h)
	}

	// After the password, as the second step.
	tab.signOut()
	tab.signIn()
	if h := tab.text("h1"); h != "Second step" {
		t.Fatalf("after the password the page says %q", h)
	}
	tab.shot("signin-second-step-key")
	tab.ceremony("#webauthn-get")
	if h := tab.text("h1"); h != "Your account" {
		t.Fatalf("after the key the page says %q", h)
	}

	// Removed (with the password), the passkey that the authenticator still holds signs nobody in.
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS("#keys details.remove summary"), chromedp.NodeVisible)); err != nil {
		t.Fatal(err)
	}
	tab.fill("#key0-password", "the first admin password")
	tab.load(chromedp.Click(chromedp.CSS(`#keys form[action$="/delete"] button`), chromedp.NodeVisible))
	if msg := tab.text(".flash"); !strings.Contains(msg, "removed") {
		t.Fatalf("after removing the key the page says %q", msg)
	}
	tab.signOut()
	tab.load(chromedp.Click(chromedp.CSS("#passkey-signin"), chromedp.NodeVisible))
	tab.ceremony("#passkey-get")
	if msg := tab.text("#signin-error"); !strings.Contains(msg, "not accepted") {
		t.Fatalf("a removed passkey: the page says %q", msg)
	}
}
