package web

import (
	"strings"
	"testing"

	"github.com/gatehouse-auth/gatehouse/access"
)

// TestSafeNext: the sign-in page follows only paths of this site (no open redirect).
func TestSafeNext(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"/account", "/account"},
		{"/admin/users/x?msg=1", "/admin/users/x?msg=1"},
		{"", ""},
		{"//evil.example/", ""},
		{"/\\evil.example", ""},
		{"https://evil.example/", ""},
		{"javascript:alert(1)", ""},
		{"/ok\r\nSet-Cookie: x=1", ""},
		{"/" + strings.Repeat("a", access.MaxReturnLen), ""},
	} {
		if got := safeNext(c.in); got != c.want {
			t.Errorf("safeNext(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

// TestCSRFToken: the synchronizer token is bound to the session secret and reveals nothing of it.
func TestCSRFToken(t *testing.T) {
	a, b := csrfToken("secret-one"), csrfToken("secret-two")
	if a == b || a != csrfToken("secret-one") || strings.Contains(a, "secret") || len(a) != 43 {
		t.Fatalf("csrfToken: %q, %q", a, b)
	}
}

// TestDeviceName: user agents are summarised; odd ones are cut, never echoed whole.
func TestDeviceName(t *testing.T) {
	for ua, want := range map[string]string{
		"": "Unknown device",
		"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36": "Chrome on Linux",
		"curl/8.5.0":             "curl",
		strings.Repeat("x", 100): strings.Repeat("x", 40) + "…",
	} {
		if got := deviceName(ua); got != want {
			t.Errorf("deviceName(%.20q) = %q, want %q", ua, got, want)
		}
	}
}
