package forwardauth

import (
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
)

func TestOriginalPathIsWhatTheAppSees(t *testing.T) {
	cases := map[string]string{
		"/":                "/",
		"/admin":           "/admin",
		"/%61dmin/":        "/admin/",
		"/x/../admin":      "/admin",
		"/x/./../admin/":   "/admin/",
		"/a//b":            "/a/b",
		"/../../etc":       "/etc",
		"/a%2Fb?c=/admin":  "/a/b",
		"/page#frag":       "/page",
		"/%2e%2e/admin":    "/admin",
		"/admin?x=1&y=%20": "/admin",
	}
	for uri, want := range cases {
		o := original{method: "GET", scheme: "https", host: "app.example.com", uri: uri}
		if err := o.check(); err != nil || o.path != want {
			t.Errorf("%q: path %q, %v; want %q", uri, o.path, err, want)
		}
	}
}

func TestClientAddress(t *testing.T) {
	h := New(Config{TrustedProxies: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("10.9.0.0/16")}})
	peer := netip.MustParseAddr("127.0.0.1")
	cases := []struct {
		xff  []string
		want string
	}{
		{nil, "127.0.0.1"},
		{[]string{"203.0.113.1"}, "203.0.113.1"},
		{[]string{"10.0.0.1, 203.0.113.1"}, "203.0.113.1"},             // the client wrote the left one
		{[]string{"203.0.113.1, 10.9.1.1"}, "203.0.113.1"},             // a trusted hop is skipped
		{[]string{"10.0.0.1", "203.0.113.1, 10.9.1.1"}, "203.0.113.1"}, // several header lines
		{[]string{"junk, 203.0.113.1"}, "203.0.113.1"},
		{[]string{"203.0.113.1, junk"}, "127.0.0.1"}, // garbage at the right: nothing past it is believed
		{[]string{"::ffff:198.51.100.7"}, "198.51.100.7"},
	}
	for _, c := range cases {
		r := httptest.NewRequest("GET", "/", nil)
		r.Header["X-Forwarded-For"] = c.xff
		if got := h.clientAddr(r, peer); got.String() != c.want {
			t.Errorf("%q: %v, want %s", c.xff, got, c.want)
		}
	}
}

// FuzzOriginal: no description of the original request panics, and an accepted one has a
// clean absolute path without dot segments, and a host of host-name characters.
func FuzzOriginal(f *testing.F) {
	f.Add("https://app.example.com/a/../b?c", "GET", "app.example.com", "/x", "https")
	f.Add("http://[::1]:80/%2e%2e/", "POST", "a:1", "//x", "ftp")
	f.Fuzz(func(t *testing.T, url, method, host, uri, proto string) {
		r := httptest.NewRequest("GET", "/", nil)
		r.Header.Set("X-Original-Url", url)
		r.Header.Set("X-Original-Method", method)
		r.Header.Set("X-Forwarded-Method", method)
		r.Header.Set("X-Forwarded-Host", host)
		r.Header.Set("X-Forwarded-Uri", uri)
		r.Header.Set("X-Forwarded-Proto", proto)
		for _, read := range []func(*http.Request) (original, error){originalURL, forwarded} {
			o, err := read(r)
			if err != nil {
				continue
			}
			if !strings.HasPrefix(o.path, "/") || strings.Contains(o.path, "/../") || strings.HasSuffix(o.path, "/..") ||
				strings.Contains(o.path, "//") || !validHost(o.host) || (o.scheme != "http" && o.scheme != "https") {
				t.Fatalf("accepted %+v", o)
			}
		}
	})
}
