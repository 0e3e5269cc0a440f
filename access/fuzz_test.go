package access

import (
	"net/netip"
	"net/url"
	"strings"
	"testing"
)

// FuzzParse: no document makes Parse panic or hang, and rules that parse decide without panic.
func FuzzParse(f *testing.F) {
	f.Add([]byte(sample), "app.example.com", "/admin", "GET")
	f.Add([]byte("rules:\n  - policy: deny\n"), "", "", "")
	f.Add([]byte("rules: [{domain: '*.a', path: 'x+', methods: GET, networks: ::/0, policy: group:g}]"), "b.a", "xx", "POST")
	f.Fuzz(func(t *testing.T, doc []byte, host, path, method string) {
		rs, err := Parse(doc, Policy{Kind: Deny})
		if err != nil {
			if rs != nil {
				t.Fatal("an error with rules")
			}
			return
		}
		d := rs.Decide(&Request{Host: host, Path: path, Method: method, Client: netip.MustParseAddr("192.0.2.1")})
		if d.Line == 0 && d.Policy != rs.Default() {
			t.Fatalf("no rule decided, yet the policy is %v", d)
		}
	})
}

// FuzzDecide: wildcard and exact domains never match a host outside them.
func FuzzDecide(f *testing.F) {
	rs := mustParse(f, "rules:\n  - domain: '*.example.com'\n    policy: authenticated\n  - domain: example.org\n    policy: bypass\n", Policy{})
	f.Add("a.example.com", "/", "GET")
	f.Add("example.org:80", "/x", "PUT")
	f.Add("EXAMPLE.ORG.", "", "")
	f.Fuzz(func(t *testing.T, host, path, method string) {
		d := rs.Decide(&Request{Host: host, Path: path, Method: method})
		h := strings.ToLower(hostOnly(host))
		switch d.Kind {
		case Authenticated:
			if !strings.HasSuffix(h, ".example.com") || h == ".example.com" {
				t.Fatalf("%q matched *.example.com", host)
			}
		case Bypass:
			if h != "example.org" {
				t.Fatalf("%q matched example.org", host)
			}
		}
	})
}

// FuzzReturns: an accepted return address is a local path or an http(s) URL whose host, as
// Go's URL parser reads it, is on an allowed domain, with no userinfo and nothing a browser
// would read differently (backslashes, control characters, spaces).
func FuzzReturns(f *testing.F) {
	r, _ := NewReturns([]string{"example.com"})
	for _, s := range []string{"/x", "https://a.example.com/", "//evil", "/\\evil", "https://example.com@evil/", "javascript:x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		got, ok := r.Check(raw)
		if !ok {
			return
		}
		if got != raw || strings.ContainsAny(raw, "\\ \t\r\n") {
			t.Fatalf("accepted %q", raw)
		}
		u, err := url.Parse(raw)
		if err != nil || u.User != nil {
			t.Fatalf("accepted %q: %v", raw, err)
		}
		if strings.HasPrefix(raw, "/") {
			if u.Host != "" || strings.HasPrefix(raw, "//") {
				t.Fatalf("accepted %q as a local path", raw)
			}
			return
		}
		h := strings.ToLower(u.Hostname())
		if (u.Scheme != "https" && u.Scheme != "http" && !strings.EqualFold(u.Scheme, "https") && !strings.EqualFold(u.Scheme, "http")) ||
			(h != "example.com" && !strings.HasSuffix(h, ".example.com")) {
			t.Fatalf("accepted %q (scheme %q, host %q)", raw, u.Scheme, h)
		}
	})
}
