package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"

	"github.com/gatehouse-auth/gatehouse/internal/browsertest"
	"github.com/gatehouse-auth/gatehouse/internal/testkit"
)

// btab is a browser context (its own cookies, like another device) on the server at base.
type btab struct {
	t    *testing.T
	ctx  context.Context
	base string
}

func (b *btab) load(steps ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	resp, err := chromedp.RunResponse(b.ctx, steps...)
	if err != nil {
		b.t.Fatal(err)
	}
	if resp.Status >= 500 {
		b.t.Fatalf("%s answered %d", resp.URL, resp.Status)
	}
}

func (b *btab) fill(sel, value string) {
	b.t.Helper()
	if err := chromedp.Do(b.ctx, chromedp.SetValue(chromedp.CSS(sel), value)); err != nil {
		b.t.Fatal(err)
	}
}

func (b *btab) text(sel string) string {
	b.t.Helper()
	s, err := chromedp.Run(b.ctx, chromedp.Text(chromedp.CSS(sel), chromedp.NodeVisible))
	if err != nil {
		b.t.Fatalf("text of %s: %v", sel, err)
	}
	return s
}

func (b *btab) signIn() {
	b.t.Helper()
	b.load(chromedp.Navigate(b.base + "/"))
	b.fill("#username", "admin")
	b.fill("#password", "the first admin password")
	b.load(chromedp.Click(chromedp.CSS(`form[action="/"] button`), chromedp.NodeVisible))
}

// TestBrowserTOTPSetupAndSignIn drives headless chromium through the real server: sign in, set
// up an authenticator app from the account page with the key it shows, and sign in again on
// another device with the password and a code computed from that key.
func TestBrowserTOTPSetupAndSignIn(t *testing.T) {
	testkit.Slow(t, "starts a browser")
	browser := browsertest.Start(t, browsertest.Options{})
	t.Setenv("GATEHOUSE_ADMIN_PASSWORD", "the first admin password")
	addr, _ := startServe(t)
	newTab := func() *btab {
		return &btab{t: t, ctx: browsertest.Tab(t, browser, time.Minute), base: "http://" + addr}
	}
	code := func(secret string, at time.Time) string {
		c, err := totp.GenerateCodeCustom(strings.TrimSpace(secret), at, totp.ValidateOpts{Period: 30, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	one := newTab()
	one.signIn()
	if h := one.text("h1"); h != "Your account" {
		t.Fatalf("after signing in the page says %q", h)
	}
	one.load(chromedp.Click(chromedp.CSS(`form[action="/account/mfa/totp"] button`), chromedp.NodeVisible))
	secret := one.text("#totp-secret")
	modules, err := chromedp.Run(one.ctx, chromedp.Evaluate[int](`document.querySelector(".qr svg path").getAttribute("d").split("z").length`))
	if err != nil || modules < 100 {
		t.Fatalf("no QR code drawn: %d dark modules, %v", modules, err)
	}
	one.fill("#code", code(secret, time.Now()))
	one.load(chromedp.Click(chromedp.CSS(`form[action="/account/mfa/totp/confirm"] button`), chromedp.NodeVisible))
	if n := len(strings.Fields(one.text("#recovery-codes"))); n != 10 {
		t.Fatalf("%d recovery codes shown", n)
	}
	// Another device. The confirming code is used; the next step's code is within the skew.
	two := newTab()
	two.signIn()
	if h := two.text("h1"); h != "Second step" {
		t.Fatalf("after the password the page says %q", h)
	}
	two.fill("#code", code(secret, time.Now().Add(30*time.Second)))
	two.load(chromedp.Click(chromedp.CSS(`form[action="/signin/second-factor"] button`), chromedp.NodeVisible))
	if h := two.text("h1"); h != "Your account" {
		t.Fatalf("after the code the page says %q", h)
	}
}
