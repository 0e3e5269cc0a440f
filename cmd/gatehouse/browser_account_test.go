package main

import (
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/gatehouse-auth/gatehouse/internal/browsertest"
	"github.com/gatehouse-auth/gatehouse/internal/smtptest"
	"github.com/gatehouse-auth/gatehouse/internal/testkit"
)

// The account pages in a real browser, with the mail read back from a real SMTP server: the
// links are followed as a user would, from the text of the message.

// accountBrowser starts a server with self-registration and mail to a test SMTP server on a
// port known in advance (the links in the mail name it), and chromium.
func accountBrowser(t *testing.T) (newTab func() *btab, srv *smtptest.Server, base string) {
	t.Helper()
	browser := browsertest.Start(t, browsertest.Options{})
	srv = smtptest.Start(t, smtptest.Options{})
	t.Setenv("GATEHOUSE_ADMIN_PASSWORD", "the first admin password")
	base = "http://127.0.0.1:" + strconv.Itoa(freeRange(t, 0))
	startServe(t, "--addr", strings.TrimPrefix(base, "http://"), "--issuer", base, "--allow-registration",
		"--smtp-url", srv.URL(), "--mail-from", "Gatehouse <accounts@gatehouse.test>")
	return func() *btab {
		return &btab{t: t, ctx: browsertest.Tab(t, browser, time.Minute), base: base}
	}, srv, base
}

// mailedLink waits for the n-th message to addr with a link to path and returns that link.
func mailedLink(t *testing.T, srv *smtptest.Server, addr, path string, n int) string {
	t.Helper()
	re := regexp.MustCompile(`(http://[^\s]+/` + path + `\?token=[A-Za-z0-9_-]+)`)
	var links []string
	testkit.Eventually(t, 10*time.Second, "the "+path+" mail to "+addr, func() bool {
		links = links[:0]
		for _, m := range srv.Messages() {
			if len(m.To) != 1 || m.To[0] != addr {
				continue
			}
			text, err := m.Part("text/plain")
			if err != nil {
				t.Fatal(err)
			}
			if l := re.FindStringSubmatch(text); l != nil {
				links = append(links, l[1])
			}
		}
		return len(links) >= n
	})
	return links[n-1]
}

func (b *btab) click(sel string) {
	b.t.Helper()
	b.load(chromedp.Click(chromedp.CSS(sel), chromedp.NodeVisible))
}

// TestBrowserRegistrationAndVerification: from the sign-in page, "Create an account", the
// form, the verification mail read back from the SMTP server, its link opened in the browser,
// the button that confirms, and signing in.
func TestBrowserRegistrationAndVerification(t *testing.T) {
	testkit.Slow(t, "starts a browser")
	newTab, srv, base := accountBrowser(t)
	b := newTab()
	b.load(chromedp.Navigate(base + "/"))
	b.click("#register-link")
	if h := b.text("h1"); h != "Create an account" {
		t.Fatalf("the registration page says %q", h)
	}
	const pw = "a browser registration passphrase"
	b.fill("#username", "rosa")
	b.fill("#email", "rosa@example.test")
	b.fill("#password", pw)
	b.fill("#confirm_password", pw)
	b.click(`form[action="/register"] button`)
	if msg := b.text(".flash"); !strings.Contains(msg, "confirm your e-mail address") {
		t.Fatalf("after registering the page says %q", msg)
	}
	link := mailedLink(t, srv, "rosa@example.test", "verify", 1)
	if !strings.HasPrefix(link, base+"/verify?token=") {
		t.Fatalf("the link %q does not lead to this server", link)
	}
	b.load(chromedp.Navigate(link))
	b.click(`form[action="/verify"] button`)
	if h := b.text("h1"); h != "Address confirmed" {
		t.Fatalf("after confirming the page says %q", h)
	}
	b.load(chromedp.Navigate(link)) // used once: the second time it does not work
	b.click(`form[action="/verify"] button`)
	if h := b.text("h1"); h != "This link does not work" {
		t.Fatalf("a used link: %q", h)
	}
	b.load(chromedp.Navigate(base + "/"))
	b.fill("#username", "rosa")
	b.fill("#password", pw)
	b.click(`form[action="/"] button`)
	if h := b.text("h1"); h != "Your account" {
		t.Fatalf("after signing in the page says %q", h)
	}
}

// TestBrowserPasswordReset: a user signed in on one device forgets the password on another:
// "Forgot password?", the reset mail read back from the SMTP server, its link, the new
// password, and signing in with it; the first device's session is dead.
func TestBrowserPasswordReset(t *testing.T) {
	testkit.Slow(t, "starts a browser")
	newTab, srv, base := accountBrowser(t)
	const oldPW, newPW = "the old browser passphrase", "the new browser passphrase"
	reg := newTab()
	reg.load(chromedp.Navigate(base + "/register"))
	reg.fill("#username", "tomas")
	reg.fill("#email", "tomas@example.test")
	reg.fill("#password", oldPW)
	reg.fill("#confirm_password", oldPW)
	reg.click(`form[action="/register"] button`)
	signIn := func(b *btab, pw string) string {
		b.load(chromedp.Navigate(base + "/"))
		b.fill("#username", "tomas")
		b.fill("#password", pw)
		b.click(`form[action="/"] button`)
		return b.text("h1")
	}
	first := newTab()
	if h := signIn(first, oldPW); h != "Your account" {
		t.Fatalf("first device: %q", h)
	}
	second := newTab()
	second.load(chromedp.Navigate(base + "/"))
	second.click(`a[href="/forgot"]`)
	second.fill("#email", "tomas@example.test")
	second.click(`form[action="/forgot"] button`)
	if msg := second.text("#forgot-sent"); !strings.Contains(msg, "on its way") {
		t.Fatalf("after asking: %q", msg)
	}
	link := mailedLink(t, srv, "tomas@example.test", "reset", 1)
	second.load(chromedp.Navigate(link))
	second.fill("#password", newPW)
	second.fill("#confirm_password", newPW)
	second.click(`form[action="/reset"] button`)
	if msg := second.text(".flash"); !strings.Contains(msg, "new password is set") {
		t.Fatalf("after the reset: %q", msg)
	}
	if h := signIn(second, oldPW); h == "Your account" {
		t.Fatal("the old password still signs in")
	}
	if h := signIn(second, newPW); h != "Your account" {
		t.Fatalf("the new password: %q", h)
	}
	// The first device's session ended with the reset: its account page sends it to sign in.
	first.load(chromedp.Navigate(base + "/account"))
	if h := first.text("h1"); h != "Sign in" {
		t.Fatalf("the first device after the reset sees %q", h)
	}
}
