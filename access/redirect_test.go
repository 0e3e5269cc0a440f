package access

import "testing"

func TestReturnsCheck(t *testing.T) {
	r, err := NewReturns([]string{"example.com", "Other.Test"})
	if err != nil {
		t.Fatal(err)
	}
	ok := []string{
		"/", "/account", "/a/b?c=d#e", "/%2F%2Fevil.com", // a local path, escapes included
		"https://example.com/", "https://app.example.com/x?y=1#z", "http://a.b.example.com:8080/",
		"HTTPS://APP.EXAMPLE.COM/", "https://other.test", "https://x.other.test/?rd=https://evil.com",
	}
	bad := []string{
		"", "evil.com", "app.example.com/x", "//evil.com", "///evil.com", "/\\evil.com", "\\\\evil.com",
		"https:\\\\evil.com", "https://evil.com", "https://example.com.evil.com/", "https://evilexample.com/",
		"https://example.com@evil.com/", "https://a.com@example.com/", "https://example.com:443@evil.com/",
		"https://user:pw@app.example.com/", "javascript:alert(1)", "JavaScript://example.com/%0aalert(1)",
		"data:text/html,x", "ftp://example.com/", "https:example.com", "https:/example.com",
		"https://example.com%2eevil.com/", "https://evil.com%23.example.com/", "https://exa%6Dple.com/",
		"https://exаmple.com/",     // a Cyrillic "а"
		"https://app.example。com/", // an ideographic full stop
		"https://xn--exmple-cua.com/", "https://[::1]/", "https://127.0.0.1/", "https://example.com:99999/",
		"https://example.com:/", "https://example.com:8o/", "https://example.com./", "https://.example.com/",
		"/a\tb", "/a\nb", "/a\rb", "/a\x00", "/a b", "https://app.example.com/\x7f", "\t/account", " /account",
		"https://app.example.com\t.evil.com/", "/" + string(make([]byte, MaxReturnLen)),
	}
	for _, s := range ok {
		if got, good := r.Check(s); !good || got != s {
			t.Errorf("Check(%q) = %q, %v; want it allowed", s, got, good)
		}
	}
	for _, s := range bad {
		if got, good := r.Check(s); good || got != "" {
			t.Errorf("Check(%q) = %q, %v; want it refused", s, got, good)
		}
	}
	var none *Returns
	if _, good := none.Check("https://example.com/"); good {
		t.Error("nil Returns allowed an absolute address")
	}
	if _, good := none.Check("/account"); !good {
		t.Error("nil Returns refused a local path")
	}
	if _, err := NewReturns([]string{"exa mple.com"}); err == nil {
		t.Error("a bad domain was accepted")
	}
}
