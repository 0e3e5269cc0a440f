package http_test

import (
	"github.com/gatehouse-auth/gatehouse/authn"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	ghttp "github.com/gatehouse-auth/gatehouse/http"
)

// TestHSTSUnderTLS: every answer over TLS (the server's own, or a trusted proxy's that says so
// in X-Forwarded-Proto) carries Strict-Transport-Security with the configured max-age (one year
// by default); plain HTTP answers carry none (browsers ignore it there), and a negative max-age
// turns it off.
func TestHSTSUnderTLS(t *testing.T) {
	for _, c := range []struct {
		maxAge time.Duration
		want   string
	}{
		{0, "max-age=31536000"},
		{10 * time.Minute, "max-age=600"},
		{-1, ""},
	} {
		h := newHarness(t, options{proxies: proxied, configure: func(_ *authn.Deps, cfg *ghttp.Config) { cfg.HSTSMaxAge = c.maxAge }})
		tls := httptest.NewTLSServer(h.server)
		for _, path := range []string{"/healthz", "/api/protected", "/", "/no/such/route"} {
			resp, err := tls.Client().Get(tls.URL + path)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if got := resp.Header.Get("Strict-Transport-Security"); got != c.want {
				t.Errorf("max-age %v, TLS %s: Strict-Transport-Security %q, want %q", c.maxAge, path, got, c.want)
			}
		}
		tls.Close()
		if got := h.do("GET", "/healthz", nil).header.Get("Strict-Transport-Security"); got != "" {
			t.Errorf("plain HTTP: Strict-Transport-Security %q", got)
		}
		if got := h.do("GET", "/healthz", nil, "X-Forwarded-Proto", "https").header.Get("Strict-Transport-Security"); got != c.want {
			t.Errorf("max-age %v, behind a TLS proxy: Strict-Transport-Security %q, want %q", c.maxAge, got, c.want)
		}
	}
	// A peer that is not a trusted proxy cannot claim TLS.
	h := newHarness(t, options{})
	if got := h.do("GET", "/healthz", nil, "X-Forwarded-Proto", "https").header.Get("Strict-Transport-Security"); got != "" {
		t.Errorf("untrusted X-Forwarded-Proto: Strict-Transport-Security %q", got)
	}
}

// TestClearSiteDataOnBrowserSignOut: a browser's sign-out (the page, the API with a cookie,
// signing out everywhere, ending its own session) asks it to drop the site's cookies; a token
// client's logout has no cookies to drop.
func TestClearSiteDataOnBrowserSignOut(t *testing.T) {
	h := newHarness(t, options{})
	cleared := func(what string, hdr http.Header) {
		t.Helper()
		if got := hdr.Get("Clear-Site-Data"); got != `"cookies"` {
			t.Errorf("%s: Clear-Site-Data %q, want \"cookies\"", what, got)
		}
	}
	c := h.loginSession("admin", h.adminPW)
	r := h.do("POST", "/api/logout", nil, cookie(c)...)
	expect(t, r, 204, "")
	cleared("POST /api/logout with a cookie", r.header)
	c = h.loginSession("admin", h.adminPW)
	r = h.do("POST", "/api/logout-all", nil, cookie(c)...)
	expect(t, r, 204, "")
	cleared("POST /api/logout-all with a cookie", r.header)

	b := h.browser("browser")
	b.signIn("admin", h.adminPW)
	p := b.post("/signout", nil)
	expectRedirect(t, p, "/?msg=signed-out")
	cleared("the sign-out button", p.header)
	b.signIn("admin", h.adminPW)
	p = b.post("/account/signout-everywhere", nil)
	cleared("sign out everywhere", p.header)

	access, _ := h.loginToken("admin", h.adminPW)
	r = h.do("POST", "/api/logout", nil, bearer(access)...)
	expect(t, r, 204, "")
	if got := r.header.Get("Clear-Site-Data"); got != "" {
		t.Errorf("token logout: Clear-Site-Data %q", got)
	}
}
