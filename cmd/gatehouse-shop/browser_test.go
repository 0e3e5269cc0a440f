package main

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"
	"github.com/gatehouse-auth/gatehouse/internal/browsertest"
	"github.com/gatehouse-auth/gatehouse/internal/testkit"
)

// The browser tests drive Debian's chromium (headless) through the demo as a person would.
// Without chromium they skip, unless CI is set, where they fail. Screenshots of every page go
// to $GATEHOUSE_SCREENSHOT_DIR (default testdata/screenshots, ignored by git).

// chrome is one headless chromium process and the demo it browses.
type chrome struct {
	t       *testing.T
	browser context.Context
	base    string
	demo    demoReady
	shots   string
}

// sharedChromium is one headless chromium for all the browser tests of the package (each test
// works in browser contexts of its own, so nothing leaks between tests); TestMain stops it.
var sharedChromium browsertest.Shared

func newChrome(t *testing.T) *chrome {
	browser := sharedChromium.Browser(t)
	d := startDemo(t)
	shots := os.Getenv("GATEHOUSE_SCREENSHOT_DIR")
	if shots == "" {
		shots = filepath.Join("testdata", "screenshots")
	}
	if err := os.MkdirAll(shots, 0o755); err != nil {
		t.Fatal(err)
	}
	return &chrome{t: t, browser: browser, base: "http://" + d.Addr, demo: d, shots: shots}
}

// tab is a tab in a browser context of its own: its own cookies, like another device.
type tab struct {
	c   *chrome
	ctx context.Context
}

func (c *chrome) tab(userAgent string) *tab {
	c.t.Helper()
	ctx, cancel := chromedp.NewContext(c.browser, chromedp.WithNewBrowserContext())
	c.t.Cleanup(cancel)
	// Each step of a test is bounded; a hung page fails the test instead of the whole run.
	ctx, cancelTimeout := context.WithTimeout(ctx, 3*time.Minute)
	c.t.Cleanup(cancelTimeout)
	tb := &tab{c: c, ctx: ctx}
	if userAgent == phoneUA {
		tb.do(chromedp.EmulateViewport(390, 844, chromedp.EmulateScale(2)))
	} else {
		tb.do(chromedp.EmulateViewport(1100, 760))
	}
	if userAgent != "" {
		tb.do(chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
			_, err := cdp.Call(ctx, t, emulation.SetUserAgentOverride, emulation.SetUserAgentOverrideParams{UserAgent: userAgent})
			return err
		}))
	}
	return tb
}

func (tb *tab) do(steps ...chromedp.Action[chromedp.Void]) {
	tb.c.t.Helper()
	if err := chromedp.Do(tb.ctx, steps...); err != nil {
		tb.c.t.Fatal(err)
	}
}

// load runs steps that navigate, waits for the page and returns its HTTP status. No page may
// answer with a server error.
func (tb *tab) load(steps ...chromedp.Action[chromedp.Void]) int64 {
	tb.c.t.Helper()
	resp, err := chromedp.RunResponse(tb.ctx, steps...)
	if err != nil {
		tb.c.t.Fatal(err)
	}
	if resp.Status >= 500 {
		tb.c.t.Fatalf("%s answered %d", resp.URL, resp.Status)
	}
	return resp.Status
}

func (tb *tab) open(path string) int64 { return tb.load(chromedp.Navigate(tb.c.base + path)) }

// click clicks the first element that matches the CSS selector and waits for the next page.
func (tb *tab) click(sel string) int64 {
	tb.c.t.Helper()
	return tb.load(chromedp.Click(chromedp.CSS(sel), chromedp.NodeVisible))
}

func (tb *tab) fill(fields ...string) {
	tb.c.t.Helper()
	for i := 0; i+1 < len(fields); i += 2 {
		tb.do(chromedp.SetValue(chromedp.CSS(fields[i]), fields[i+1]))
	}
}

func (tb *tab) text(sel string) string {
	tb.c.t.Helper()
	s, err := chromedp.Run(tb.ctx, chromedp.Text(chromedp.CSS(sel), chromedp.NodeVisible))
	if err != nil {
		tb.c.t.Fatalf("text of %s: %v", sel, err)
	}
	return s
}

// has reports whether something matches the CSS selector (the page is loaded already).
func (tb *tab) has(sel string) bool {
	return tb.eval(fmt.Sprintf("document.querySelector(%q) !== null", sel))
}

func (tb *tab) count(sel string) int {
	tb.c.t.Helper()
	n, err := chromedp.Run(tb.ctx, chromedp.Evaluate[int](fmt.Sprintf("document.querySelectorAll(%q).length", sel)))
	if err != nil {
		tb.c.t.Fatal(err)
	}
	return n
}

func (tb *tab) eval(expr string) bool {
	tb.c.t.Helper()
	ok, err := chromedp.Run(tb.ctx, chromedp.Evaluate[bool](expr))
	if err != nil {
		tb.c.t.Fatalf("%s: %v", expr, err)
	}
	return ok
}

// path is the path and query of the page shown.
func (tb *tab) path() string {
	tb.c.t.Helper()
	loc, err := chromedp.Run(tb.ctx, chromedp.Location())
	if err != nil {
		tb.c.t.Fatal(err)
	}
	u, _ := url.Parse(loc)
	return u.RequestURI()
}

func (tb *tab) expectText(sel string, want ...string) {
	tb.c.t.Helper()
	got := tb.text(sel)
	for _, w := range want {
		if !strings.Contains(strings.ToLower(got), strings.ToLower(w)) { // CSS may upper-case
			tb.c.t.Fatalf("%s on %s reads %q, want %q", sel, tb.path(), got, w)
		}
	}
}

// shot saves a screenshot of the whole page.
func (tb *tab) shot(name string) {
	tb.c.t.Helper()
	png, err := chromedp.Run(tb.ctx, chromedp.FullScreenshot(100))
	if err != nil {
		tb.c.t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(tb.c.shots, name+".png"), png, 0o644); err != nil {
		tb.c.t.Fatal(err)
	}
}

// signIn signs in through the form and checks where the browser lands.
func (tb *tab) signIn(user, pw, landing string) {
	tb.c.t.Helper()
	if tb.path() != "/" && !strings.HasPrefix(tb.path(), "/?") {
		tb.open("/")
	}
	tb.fill("#username", user, "#password", pw)
	tb.click(`form[action="/"] button[type=submit]`)
	if p := tb.path(); p != landing {
		tb.c.t.Fatalf("sign in as %s landed on %s, want %s", user, p, landing)
	}
}

const (
	laptopUA = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/140.0 Safari/537.36"
	phoneUA  = "Mozilla/5.0 (iPhone; CPU iPhone OS 18_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.0 Mobile/15E148 Safari/604.1"
)

// TestBrowserSessions: sign in on two devices, see both, sign the other out and see it
// rejected there, then sign out everywhere.
func TestBrowserSessions(t *testing.T) {
	testkit.Slow(t, "drives a browser")
	c := newChrome(t)
	laptop, phone := c.tab(laptopUA), c.tab(phoneUA)

	if st := laptop.open("/account"); st != 200 || laptop.path() != "/?next=%2Faccount" {
		t.Fatalf("signed-out account page: %d at %s", st, laptop.path())
	}
	laptop.shot("signin")
	laptop.fill("#username", "alice", "#password", "not alice's password at all")
	if st := laptop.click(`form[action="/"] button`); st != 401 {
		t.Fatalf("wrong password: %d", st)
	}
	laptop.expectText("#signin-error", "Incorrect username or password.")
	laptop.shot("signin-error")
	laptop.signIn("alice", demoAlicePW, "/account")
	phone.signIn("alice", demoAlicePW, "/account")

	laptop.open("/account")
	if n := laptop.count("table.sessions tbody tr"); n != 2 {
		t.Fatalf("%d sessions listed, want 2", n)
	}
	laptop.expectText("table.sessions tr.current", "this device", "Chrome on Linux")
	laptop.expectText("table.sessions tbody tr:not(.current)", "Safari on iOS", "127.0.0.1")
	laptop.shot("account")
	phone.open("/account")
	phone.shot("account-phone")

	// Sign the phone out from the laptop; the phone's next click lands on the sign-in page.
	laptop.click("table.sessions tbody tr:not(.current) button")
	laptop.expectText(".flash", "That session is signed out.")
	if n := laptop.count("table.sessions tbody tr"); n != 1 {
		t.Fatalf("%d sessions after signing one out, want 1", n)
	}
	phone.click(`a[href="/account"]`)
	if p := phone.path(); p != "/?msg=expired&next=%2Faccount" {
		t.Fatalf("signed-out phone landed on %s", p)
	}
	phone.expectText(".flash", "Your session has ended.")

	// Sign out everywhere from the laptop: both devices are out.
	phone.signIn("alice", demoAlicePW, "/account")
	phone.open("/account")
	laptop.open("/account")
	laptop.click(`form[action="/account/signout-everywhere"] button`)
	if p := laptop.path(); p != "/?msg=signed-out-everywhere" {
		t.Fatalf("after sign out everywhere: %s", p)
	}
	laptop.expectText(".flash", "signed out everywhere")
	phone.open("/account")
	if p := phone.path(); !strings.HasPrefix(p, "/?") {
		t.Fatalf("phone still signed in after sign out everywhere: %s", p)
	}
	laptop.open("/account")
	if p := laptop.path(); p != "/?next=%2Faccount" {
		t.Fatalf("laptop still signed in: %s", p)
	}
}

// TestBrowserAdminDemotes: an admin promotes and then demotes a user; the user loses the admin
// page on the next click.
func TestBrowserAdminDemotes(t *testing.T) {
	testkit.Slow(t, "drives a browser")
	c := newChrome(t)
	admin, alice := c.tab(laptopUA), c.tab(phoneUA)
	admin.signIn("admin", demoAdminPW, "/account")
	admin.click(`a[href="/admin"]`)
	if n := admin.count("table.users tbody tr"); n != 2 {
		t.Fatalf("%d users listed, want 2", n)
	}
	admin.shot("admin")

	// Create a user; the first try has errors shown next to the fields.
	admin.fill("#new-username", "bob smith", "#new-password", "short", "#new-email", "bob")
	if st := admin.click(`form[action="/admin/users"] button`); st != 400 {
		t.Fatalf("invalid create: %d", st)
	}
	admin.expectText("#new-username-error", "May contain only")
	admin.shot("admin-create-error")
	admin.fill("#new-username", "bob", "#new-password", "bob's long enough password", "#new-email", "bob@example.com", "#new-name", "Bob")
	admin.click(`form[action="/admin/users"] button`)
	admin.expectText(".flash", "The user is created.")
	admin.expectText("h1", "bob")

	// Search, open alice, promote her.
	admin.open("/admin")
	admin.fill("#q", "ALICE")
	admin.click(`form[role=search] button`)
	if n := admin.count("table.users tbody tr"); n != 1 {
		t.Fatalf("search found %d users, want 1", n)
	}
	admin.click(`table.users a`)
	admin.fill("#role", "admin")
	admin.click(`form[action$="/role"] button`)
	admin.expectText(".flash", "updated")

	alice.signIn("alice", demoAlicePW, "/account")
	alice.click(`a[href="/admin"]`)
	alice.expectText("h1", "Administration")

	// The admin sees alice's session on her page, and demotes her.
	admin.open(admin.path()[:strings.Index(admin.path(), "?")])
	admin.expectText("table.sessions", "Safari on iOS")
	admin.shot("admin-user")
	admin.fill("#role", "user")
	admin.click(`form[action$="/role"] button`)
	admin.expectText(".flash", "updated")

	// Alice's next click on the admin link: signed out, then no admin page for her.
	alice.click(`a[href="/admin"]`)
	if p := alice.path(); p != "/?msg=expired&next=%2Fadmin" {
		t.Fatalf("demoted alice landed on %s", p)
	}
	alice.signIn("alice", demoAlicePW, "/admin")
	alice.expectText("h1", "Not allowed")
	if alice.has(`nav a[href="/admin"]`) {
		t.Fatal("a user still sees the admin link")
	}
	if st := alice.open("/admin"); st != 403 {
		t.Fatalf("demoted alice's /admin: %d", st)
	}
}

// TestBrowserCrossSiteForm: a page on another origin (another port of 127.0.0.1, so the
// browser sends the SameSite=Lax cookie along) posts forms to gatehouse and the shop; both
// are refused and nothing changes.
func TestBrowserCrossSiteForm(t *testing.T) {
	testkit.Slow(t, "drives a browser")
	c := newChrome(t)
	evil := startEvilSite(t, c.base)
	alice := c.tab(laptopUA)
	alice.signIn("alice", demoAlicePW, "/account")

	alice.load(chromedp.Navigate(evil + "/"))
	if st := alice.click("#signout-everywhere"); st != 403 {
		t.Fatalf("cross-site sign out everywhere: %d", st)
	}
	alice.expectText("h1", "Request refused")
	alice.shot("csrf-refused")
	alice.load(chromedp.Navigate(evil + "/"))
	if st := alice.click("#add-to-cart"); st != 403 {
		t.Fatalf("cross-site add to cart: %d", st)
	}
	alice.load(chromedp.Navigate(evil + "/"))
	if st := alice.click("#change-password"); st != 403 {
		t.Fatalf("cross-site password change: %d", st)
	}
	// Still signed in, cart still empty, password unchanged.
	if st := alice.open("/shop/cart"); st != 200 || alice.path() != "/shop/cart" {
		t.Fatalf("after the attacks: %d at %s", st, alice.path())
	}
	alice.expectText("main", "Your cart is empty")
	if st := c.tab("").open("/"); st != 200 {
		t.Fatal("sign-in page")
	}
}

// TestBrowserShop: the cart persists across page loads and devices while the catalog is
// revalidated with 304.
func TestBrowserShop(t *testing.T) {
	testkit.Slow(t, "drives a browser")
	c := newChrome(t)
	alice := c.tab(laptopUA)
	alice.open("/shop/catalog")
	alice.shot("shop-catalog")
	before := c.demo.Shop.Stats()
	if st := alice.load(chromedp.Reload()); st != 200 && st != 304 {
		t.Fatalf("catalog reload: %d", st)
	}
	if after := c.demo.Shop.Stats(); after.CatalogNotModified <= before.CatalogNotModified {
		t.Fatalf("reloading the catalog did not revalidate with 304: %+v -> %+v", before, after)
	}

	// Adding signed out leads to sign-in, then back to the catalog.
	alice.fill("#qty-padlock", "2")
	alice.click(`form.add:has(#qty-padlock) button`)
	if p := alice.path(); p != "/?next=%2Fshop%2Fcatalog" {
		t.Fatalf("add signed out landed on %s", p)
	}
	alice.signIn("alice", demoAlicePW, "/shop/catalog")
	alice.fill("#qty-padlock", "2")
	alice.click(`form.add:has(#qty-padlock) button`)
	alice.expectText(".flash", "Added to your cart.")
	alice.open("/shop/catalog")
	alice.click(`form.add:has(#qty-bell) button`)
	alice.expectText("table.cart", "Combination padlock", "Desk bell", "€41.40")

	// Page loads and another device: the cart is the same.
	for range 2 {
		alice.load(chromedp.Reload())
		alice.expectText("table.cart tfoot", "3 articles", "€41.40")
	}
	alice.shot("shop-cart")
	phone := c.tab(phoneUA)
	phone.open("/shop/cart")
	phone.signIn("alice", demoAlicePW, "/shop/cart")
	phone.expectText("table.cart", "Combination padlock", "€41.40")
	// The catalog is still answered 304 for a signed-in user: it never depended on the cookie.
	before = c.demo.Shop.Stats()
	alice.open("/shop/catalog")
	alice.load(chromedp.Reload())
	if after := c.demo.Shop.Stats(); after.CatalogNotModified <= before.CatalogNotModified {
		t.Fatalf("signed-in catalog reload was not a 304: %+v -> %+v", before, after)
	}

	// Remove from the phone, check out from the laptop.
	phone.click(`table.cart tr:has(td[data-label=Article]) button`)
	phone.expectText(".flash", "Removed from your cart.")
	alice.open("/shop/cart")
	if n := alice.count("table.cart tbody tr"); n != 1 {
		t.Fatalf("laptop sees %d lines after the phone removed one, want 1", n)
	}
	alice.click(`form[action="/shop/cart/checkout"] button`)
	alice.expectText(".flash", "Your order is placed.")
	alice.expectText(".order", "total")
	alice.open("/shop/")
	alice.expectText("table.how", "stateless", "stateful")
	alice.shot("shop-how")
}

// TestBrowserScriptPayloads types script payloads into every field the pages have, and into
// the user agent; no page runs or shows them as markup, and none answers with a server error.
func TestBrowserScriptPayloads(t *testing.T) {
	testkit.Slow(t, "drives a browser")
	c := newChrome(t)
	const payload = `<script>window.__pwned=1</script><img src=x onerror="window.__pwned=1">`
	clean := func(tb *tab, where string) {
		t.Helper()
		if tb.eval("window.__pwned === 1") || tb.count("script") != 0 || tb.count(`img[src="x"]`) != 0 {
			t.Fatalf("%s: the payload became markup", where)
		}
	}
	visitor := c.tab(payload)
	visitor.open("/?next=" + url.QueryEscape(payload))
	visitor.fill("#username", payload, "#password", payload)
	visitor.click(`form[action="/"] button`)
	clean(visitor, "sign-in")
	if got, _ := chromedp.Run(visitor.ctx, chromedp.Value(chromedp.CSS("#username"))); got != payload {
		t.Fatalf("sign-in form does not keep the typed username as text: %q", got)
	}

	admin := c.tab(payload) // the user agent is shown on the sessions tables
	admin.signIn("admin", demoAdminPW, "/account")
	clean(admin, "account")
	admin.expectText("table.sessions", "<script>window.__pwned=1</script>")
	admin.fill("#current_password", payload, "#new_password", payload, "#confirm_password", payload)
	admin.click(`form[action="/account/password"] button`)
	clean(admin, "change password")

	admin.open("/admin?q=" + url.QueryEscape(payload))
	clean(admin, "search")
	admin.fill("#new-username", payload, "#new-password", payload, "#new-name", payload, "#new-email", payload)
	admin.click(`form[action="/admin/users"] button`)
	clean(admin, "create with errors")
	// Stored where the rules allow: name and e-mail.
	admin.fill("#new-username", "eve", "#new-password", "eve's password is long", "#new-name", payload, "#new-email", "<script>x</script>@example.com")
	admin.click(`form[action="/admin/users"] button`)
	clean(admin, "user page")
	admin.expectText(".facts", payload, "<script>x</script>@example.com")
	admin.fill("#password", payload)
	admin.click(`form[action$="/password"] button`)
	clean(admin, "set password")
	admin.open("/admin")
	clean(admin, "user list")
	admin.expectText("table.users", payload)
	admin.shot("payloads-escaped")

	// The shop: its only free field is a number; post the payload anyway.
	admin.open("/shop/catalog")
	admin.do(chromedp.SetAttributeValue(chromedp.CSS("#qty-bell"), "type", "text"))
	admin.fill("#qty-bell", payload)
	if st := admin.click(`form.add:has(#qty-bell) button`); st != 400 {
		t.Fatalf("shop with a payload quantity: %d", st)
	}
	clean(admin, "shop")
}
