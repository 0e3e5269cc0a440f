package main

import (
	"context"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"
)

// TestMain stops the browser tests' shared chromium after the tests.
func TestMain(m *testing.M) {
	code := m.Run()
	sharedChromium.Stop()
	os.Exit(code)
}

const (
	demoAdminPW = "correct horse battery staple admin"
	demoAlicePW = "correct horse battery staple alice"
)

// startDemo runs the demo on a free 127.0.0.1 port with cheap hashing, until the test
// ends.
func startDemo(t *testing.T) demoReady {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan demoReady, 1)
	done := make(chan error, 1)
	go func() {
		done <- runDemo(ctx, demoOptions{
			Addr: "127.0.0.1:0", Data: t.TempDir(), CatalogMaxAge: time.Minute,
			AdminPassword: demoAdminPW, AlicePassword: demoAlicePW, Argon2Memory: 64, Argon2Time: 1,
		}, io.Discard, ready)
	}()
	select {
	case r := <-ready:
		t.Cleanup(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("demo: %v", err)
			}
		})
		return r
	case err := <-done:
		cancel()
		t.Fatalf("demo did not start: %v", err)
	case <-time.After(30 * time.Second):
		cancel()
		t.Fatal("demo did not start within 30 s")
	}
	return demoReady{}
}

// TestDemoOverHTTP walks the demo as a browser without JavaScript would: the pages, the
// stateless catalog and the stateful cart.
func TestDemoOverHTTP(t *testing.T) {
	d := startDemo(t)
	base := "http://" + d.Addr
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, Timeout: 10 * time.Second}
	get := func(path string, hdr ...string) (*http.Response, string) {
		t.Helper()
		req, _ := http.NewRequest("GET", base+path, nil)
		for i := 0; i+1 < len(hdr); i += 2 {
			req.Header.Set(hdr[i], hdr[i+1])
		}
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, string(b)
	}
	post := func(path string, form url.Values) (*http.Response, string) {
		t.Helper()
		req, _ := http.NewRequest("POST", base+path, strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Sec-Fetch-Site", "same-origin")
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, string(b)
	}

	resp, body := get("/shop/catalog")
	etag := resp.Header.Get("ETag")
	if resp.StatusCode != 200 || etag == "" || !strings.Contains(body, "Brass key") {
		t.Fatalf("catalog: %d %q", resp.StatusCode, etag)
	}
	if resp, _ := get("/shop/catalog", "If-None-Match", etag); resp.StatusCode != 304 {
		t.Fatalf("catalog revalidation: %d", resp.StatusCode)
	}
	// The cart needs a session: the sign-in page, then back to the cart.
	resp, body = get("/shop/cart")
	if resp.Request.URL.Path != "/" || !strings.Contains(body, "Sign in") {
		t.Fatalf("cart signed out ended at %s", resp.Request.URL)
	}
	resp, body = post("/", url.Values{"username": {"alice"}, "password": {demoAlicePW}, "next": {"/shop/cart"}})
	if resp.Request.URL.Path != "/shop/cart" || !strings.Contains(body, "Your cart is empty") {
		t.Fatalf("sign-in with next ended at %s: %s", resp.Request.URL, body)
	}
	resp, body = post("/shop/cart/add", url.Values{"product": {"padlock"}, "quantity": {"3"}})
	if resp.Request.URL.Path != "/shop/cart" || !strings.Contains(body, "Combination padlock") || !strings.Contains(body, "€47.25") {
		t.Fatalf("add: %s %s", resp.Request.URL, body)
	}
	// The account page links to the shop; the session's store is the demo's SQLite.
	if _, body := get("/account"); !strings.Contains(body, `href="/shop/"`) {
		t.Fatal("account page has no shop link")
	}
	if _, body := get("/shop/"); !strings.Contains(body, "SQLite") {
		t.Fatal("how page does not name the stores")
	}
	if st := d.Shop.Stats(); st.CatalogNotModified != 1 || st.CartWrites != 1 {
		t.Fatalf("stats %+v", st)
	}
}
