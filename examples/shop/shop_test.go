package shop_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse"
	"github.com/gatehouse-auth/gatehouse/examples/shop"
	"github.com/gatehouse-auth/gatehouse/internal/testkit"
	"github.com/gatehouse-auth/gatehouse/memory"
	"github.com/gatehouse-auth/gatehouse/session"
	"github.com/gatehouse-auth/gatehouse/sqlite"
)

// fixture is a shop behind real gatehouse sessions (memory stores) on a 127.0.0.1 listener.
type fixture struct {
	t        *testing.T
	shop     *shop.Shop
	srv      *httptest.Server
	sessions *session.Manager
}

const cookieName = "gatehouse_session"

func newFixture(t *testing.T, carts shop.CartStore) *fixture {
	t.Helper()
	f := &fixture{t: t, sessions: session.NewManager(memory.NewSessionStore(), memory.NewRevocationStore(), session.Options{})}
	s, err := shop.New(shop.Options{
		Carts: carts,
		Authenticate: func(r *http.Request) (gatehouse.Principal, error) {
			c, err := r.Cookie(cookieName)
			if err != nil {
				return gatehouse.Principal{}, gatehouse.ErrTokenMissing
			}
			sess, err := f.sessions.Authenticate(r.Context(), c.Value)
			if err != nil {
				return gatehouse.Principal{}, err
			}
			return sess.User, nil
		},
		SessionStore: "memory", CartStore: "test",
	})
	if err != nil {
		t.Fatal(err)
	}
	f.shop = s
	f.srv = httptest.NewServer(s)
	t.Cleanup(f.srv.Close)
	return f
}

// login returns a session cookie for a user.
func (f *fixture) login(userID string) string {
	f.t.Helper()
	secret, _, err := f.sessions.Create(context.Background(), gatehouse.Principal{UserID: userID, Username: userID}, gatehouse.MethodPassword, "127.0.0.1", "test")
	if err != nil {
		f.t.Fatal(err)
	}
	return cookieName + "=" + secret
}

type answer struct {
	status int
	header http.Header
	body   string
}

func (f *fixture) do(method, path, cookie string, form url.Values, hdr ...string) answer {
	f.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, _ := http.NewRequest(method, f.srv.URL+path, body)
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if cookie != "" {
		req.Header.Set("Cookie", cookie)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := (&http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}).Do(req)
	if err != nil {
		f.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	a := answer{resp.StatusCode, resp.Header, string(raw)}
	if a.status >= 500 {
		f.t.Fatalf("%s %s: %d %s", method, path, a.status, a.body)
	}
	return a
}

func TestCatalogIsStatelessAndCacheable(t *testing.T) {
	f := newFixture(t, shop.NewMemoryCarts())
	anon := f.do("GET", "/shop/catalog", "", nil)
	alice := f.do("GET", "/shop/catalog", f.login("alice"), nil)
	if anon.status != 200 || anon.body != alice.body {
		t.Fatalf("catalog differs between users or failed: %d", anon.status)
	}
	etag := anon.header.Get("ETag")
	if etag == "" || etag != alice.header.Get("ETag") || etag != f.shop.CatalogETag() {
		t.Fatalf("ETag %q / %q", etag, alice.header.Get("ETag"))
	}
	if cc := anon.header.Get("Cache-Control"); cc != "public, max-age=60" {
		t.Fatalf("Cache-Control = %q", cc)
	}
	if anon.header.Get("Set-Cookie") != "" || anon.header.Get("Vary") != "" {
		t.Fatalf("a cacheable answer must not set cookies or vary: %v", anon.header)
	}
	for _, p := range shop.Catalog {
		if !strings.Contains(anon.body, p.Name) || !strings.Contains(anon.body, p.Price()) {
			t.Fatalf("catalog lacks %s", p.Name)
		}
	}
	for _, inm := range []string{etag, "W/" + etag, `"other", ` + etag, "*"} {
		r := f.do("GET", "/shop/catalog", "", nil, "If-None-Match", inm)
		if r.status != 304 || r.body != "" || r.header.Get("ETag") != etag || r.header.Get("Cache-Control") == "" {
			t.Fatalf("If-None-Match %s: %d %q %v", inm, r.status, r.body, r.header)
		}
	}
	if r := f.do("GET", "/shop/catalog", "", nil, "If-None-Match", `"stale"`); r.status != 200 || r.body != anon.body {
		t.Fatalf("stale validator: %d", r.status)
	}
	if r := f.do("HEAD", "/shop/catalog", "", nil); r.status != 200 || r.body != "" {
		t.Fatalf("HEAD: %d", r.status)
	}
	js := f.do("GET", "/shop/catalog.json", "", nil)
	if js.status != 200 || !strings.Contains(js.body, `"brass-key"`) || js.header.Get("ETag") == "" {
		t.Fatalf("catalog.json: %d %s", js.status, js.body)
	}
	if r := f.do("GET", "/shop/catalog.json", "", nil, "If-None-Match", js.header.Get("ETag")); r.status != 304 {
		t.Fatalf("catalog.json revalidation: %d", r.status)
	}
	st := f.shop.Stats()
	if st.CatalogFull != 5 || st.CatalogNotModified != 5 || st.SessionLookups != 0 {
		t.Fatalf("stats %+v", st)
	}
}

func TestCartFlow(t *testing.T) {
	f := newFixture(t, shop.NewMemoryCarts())
	// Signed out: sent to sign in, coming back to the cart.
	r := f.do("GET", "/shop/cart", "", nil)
	if r.status != 303 || r.header.Get("Location") != "/?next=%2Fshop%2Fcart" {
		t.Fatalf("signed-out cart: %d %q", r.status, r.header.Get("Location"))
	}
	alice := f.login("alice")
	add := func(id, qty string) answer {
		return f.do("POST", "/shop/cart/add", alice, url.Values{"product": {id}, "quantity": {qty}}, "Sec-Fetch-Site", "same-origin")
	}
	if r := add("brass-key", "2"); r.status != 303 || r.header.Get("Location") != "/shop/cart?msg=added" {
		t.Fatalf("add: %d %q", r.status, r.header.Get("Location"))
	}
	add("bell", "")
	r = f.do("GET", "/shop/cart?msg=added", alice, nil)
	for _, want := range []string{"Brass key", "Desk bell", "€33.90", "3 articles", "Added to your cart.", "private, no-store"} {
		if !strings.Contains(r.body+r.header.Get("Cache-Control"), want) {
			t.Fatalf("cart lacks %q: %s", want, r.body)
		}
	}
	// Another device of the same user sees the same cart; another user has their own.
	if r := f.do("GET", "/shop/cart", f.login("alice"), nil); !strings.Contains(r.body, "Brass key") {
		t.Fatal("the cart does not follow the user")
	}
	if r := f.do("GET", "/shop/cart", f.login("bob"), nil); strings.Contains(r.body, "Brass key") || !strings.Contains(r.body, "Your cart is empty") {
		t.Fatal("bob sees alice's cart")
	}
	// Bad input: shown on the cart page, nothing changes.
	for _, c := range []struct{ id, qty, want string }{
		{"unicorn", "1", "That product is not in the catalog."},
		{"bell", "0", "Quantity: must be a whole number from 1 to 99."},
		{"bell", "100", "Quantity"},
		{"bell", "1e3", "Quantity"},
		{"<script>alert(1)</script>", "<script>", "Quantity"},
	} {
		r := add(c.id, c.qty)
		if r.status != 400 || !strings.Contains(r.body, c.want) || strings.Contains(r.body, "<script>") {
			t.Fatalf("add %q %q: %d %s", c.id, c.qty, r.status, r.body)
		}
	}
	r = f.do("POST", "/shop/cart/remove", alice, url.Values{"product": {"padlock"}})
	if r.status != 400 || !strings.Contains(r.body, "not in your cart") {
		t.Fatalf("remove absent: %d", r.status)
	}
	// Quantities add up to the cap.
	add("bell", "99")
	if r := f.do("GET", "/shop/cart", alice, nil); !strings.Contains(r.body, `<td data-label="Quantity" class="qty">99</td>`) {
		t.Fatalf("quantity not capped at 99: %s", r.body)
	}
	f.do("POST", "/shop/cart/remove", alice, url.Values{"product": {"bell"}})
	// Checkout empties the cart and keeps the order.
	r = f.do("POST", "/shop/cart/checkout", alice, url.Values{})
	if r.status != 303 || r.header.Get("Location") != "/shop/cart?msg=ordered" {
		t.Fatalf("checkout: %d", r.status)
	}
	r = f.do("GET", "/shop/cart?msg=ordered", alice, nil)
	if !strings.Contains(r.body, "Your order is placed") || !strings.Contains(r.body, "Your cart is empty") || !strings.Contains(r.body, "total <strong>€24.00</strong>") {
		t.Fatalf("after checkout: %s", r.body)
	}
	if r := f.do("POST", "/shop/cart/checkout", alice, url.Values{}); r.status != 400 || !strings.Contains(r.body, "Your cart is empty") {
		t.Fatalf("empty checkout: %d", r.status)
	}
}

func TestCartFormsRefuseOtherSites(t *testing.T) {
	f := newFixture(t, shop.NewMemoryCarts())
	alice := f.login("alice")
	for _, site := range []string{"cross-site", "same-site"} {
		r := f.do("POST", "/shop/cart/add", alice, url.Values{"product": {"bell"}}, "Sec-Fetch-Site", site)
		if r.status != 403 {
			t.Fatalf("%s add: %d", site, r.status)
		}
	}
	r := f.do("POST", "/shop/cart/checkout", alice, url.Values{}, "Origin", "http://evil.example")
	if r.status != 403 {
		t.Fatalf("cross-origin checkout: %d", r.status)
	}
	if r := f.do("GET", "/shop/cart", alice, nil); !strings.Contains(r.body, "Your cart is empty") {
		t.Fatal("a refused form changed the cart")
	}
	// A dead session: sent to sign in.
	if err := f.sessions.RevokeUser(context.Background(), "alice"); err != nil {
		t.Fatal(err)
	}
	r = f.do("POST", "/shop/cart/add", alice, url.Values{"product": {"bell"}})
	if r.status != 303 || !strings.HasPrefix(r.header.Get("Location"), "/?next=") {
		t.Fatalf("dead session add: %d %q", r.status, r.header.Get("Location"))
	}
}

func TestHowPage(t *testing.T) {
	f := newFixture(t, shop.NewMemoryCarts())
	f.do("GET", "/shop/catalog", "", nil)
	r := f.do("GET", "/shop/", "", nil)
	for _, want := range []string{"stateless", "stateful", f.shop.CatalogETag(), `<span id="catalog-200">1</span>`, "public, max-age=60"} {
		if !strings.Contains(r.body, strings.ReplaceAll(want, `"`, "&#34;")) && !strings.Contains(r.body, want) {
			t.Fatalf("how page lacks %q: %s", want, r.body)
		}
	}
	if r.header.Get("Cache-Control") != "private, no-store" {
		t.Fatalf("how page Cache-Control %q", r.header.Get("Cache-Control"))
	}
	if r := f.do("GET", "/shop/nope", "", nil); r.status != 404 {
		t.Fatalf("unknown page: %d", r.status)
	}
	if r := f.do("GET", "/shop/assets/shop.css", "", nil); r.status != 200 || !strings.Contains(r.header.Get("Content-Type"), "text/css") {
		t.Fatalf("shop.css: %d", r.status)
	}
}

// TestCartStores runs the same contract against each CartStore.
func TestCartStores(t *testing.T) {
	stores := map[string]func(t *testing.T) shop.CartStore{
		"memory": func(*testing.T) shop.CartStore { return shop.NewMemoryCarts() },
		"sqlite": func(t *testing.T) shop.CartStore {
			db, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "g.db"), 0)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { db.Close() })
			s, err := shop.NewSQLiteCarts(context.Background(), db.SQL())
			if err != nil {
				t.Fatal(err)
			}
			return s
		},
	}
	for name, open := range stores {
		t.Run(name, func(t *testing.T) { testCartStore(t, open(t)) })
	}
}

func testCartStore(t *testing.T, s shop.CartStore) {
	ctx := context.Background()
	t0 := testkit.Start()
	c, err := s.Cart(ctx, "u1")
	if err != nil || len(c.Items) != 0 {
		t.Fatalf("new cart %+v %v", c, err)
	}
	if _, err := s.UpdateCart(ctx, "u1", t0, func(c *shop.Cart) error { return c.Add("bell", 2) }); err != nil {
		t.Fatal(err)
	}
	// A failing update stores nothing.
	if _, err := s.UpdateCart(ctx, "u1", t0, func(c *shop.Cart) error { c.Add("padlock", 1); return shop.ErrBadItem }); err != shop.ErrBadItem {
		t.Fatalf("failing update: %v", err)
	}
	// Concurrent adds all count.
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() {
			if _, err := s.UpdateCart(ctx, "u1", t0, func(c *shop.Cart) error { return c.Add("brass-key", 1) }); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	c, _ = s.Cart(ctx, "u1")
	if c.Count() != 22 || len(c.Items) != 2 || c.Items[0].ProductID != "bell" {
		t.Fatalf("cart %+v", c)
	}
	if c2, _ := s.Cart(ctx, "u2"); len(c2.Items) != 0 {
		t.Fatal("carts are not per user")
	}
	// Checkout keeps the order; the cart survives as the order's holder.
	if _, err := s.UpdateCart(ctx, "u1", t0, func(c *shop.Cart) error { _, err := c.Checkout(t0); return err }); err != nil {
		t.Fatal(err)
	}
	c, _ = s.Cart(ctx, "u1")
	if len(c.Items) != 0 || c.LastOrder == nil || c.LastOrder.TotalCents != 2*990+20*1200 {
		t.Fatalf("after checkout %+v", c)
	}
	// Stale carts go; recent ones stay.
	s.UpdateCart(ctx, "u2", t0.Add(time.Hour), func(c *shop.Cart) error { return c.Add("bell", 1) })
	n, err := s.DeleteStaleCarts(ctx, t0.Add(time.Minute))
	if err != nil || n != 1 {
		t.Fatalf("DeleteStaleCarts = %d, %v", n, err)
	}
	if c, _ := s.Cart(ctx, "u2"); c.Count() != 1 {
		t.Fatal("a recent cart was deleted")
	}
	// Emptying a cart deletes it.
	s.UpdateCart(ctx, "u2", t0, func(c *shop.Cart) error { c.Remove("bell"); return nil })
	if n, _ := s.DeleteStaleCarts(ctx, t0.Add(48*time.Hour)); n != 0 {
		t.Fatalf("an emptied cart was still stored (%d)", n)
	}
}
