package gatehouse_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse"
	"github.com/gatehouse-auth/gatehouse/internal/testkit"
)

func newClient(t *testing.T, public bool, uris ...string) (*gatehouse.Client, string) {
	t.Helper()
	c, secret, err := gatehouse.NewClient(gatehouse.ClientSpec{Name: "app", Public: public, RedirectURIs: uris}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return c, secret
}

// TestRedirectURIExact: a redirect URI matches only exactly, except for the port of a loopback
// IP (RFC 8252, 7.3).
func TestRedirectURIExact(t *testing.T) {
	c, _ := newClient(t, true, "https://app.example/cb?x=1", "http://127.0.0.1/native", "http://[::1]:8000/v6", "http://localhost:3000/dev")
	tests := []struct {
		uri  string
		want bool
	}{
		{"https://app.example/cb?x=1", true},
		{"https://app.example/cb", false},          // query dropped
		{"https://app.example/cb?x=1&y=2", false},  // query added
		{"https://app.example/cb?x=1/..", false},   // appended
		{"https://app.example/cb/?x=1", false},     // path
		{"https://app.example/CB?x=1", false},      // case of the path
		{"https://APP.example/cb?x=1", false},      // case of the host
		{"https://app.example/cb?x=1#frag", false}, // fragment
		{"https://app.example.evil/cb?x=1", false}, // host prefix
		{"https://app.example:443/cb?x=1", false},  // explicit port
		{"http://app.example/cb?x=1", false},       // scheme
		{"https://app.example/cb%3Fx=1", false},    // encoding
		{"http://127.0.0.1/native", true},          // registered as is
		{"http://127.0.0.1:51234/native", true},    // any port on a loopback IP
		{"http://127.0.0.1:51234/native/x", false}, // but the path exactly
		{"http://127.0.0.1:0/native", false},       // port 0
		{"http://127.0.0.1:65536/native", false},   // out of range
		{"http://127.0.0.1:080/native", false},     // non-canonical port
		{"http://127.0.0.1:80@evil.example/native", false},
		{"http://127.0.0.2:80/native", false},
		{"http://[::1]:9/v6", true},
		{"http://[::1]/v6", true},
		{"http://127.0.0.1:9/v6", false}, // another loopback address
		{"http://localhost:3000/dev", true},
		{"http://localhost:3001/dev", false}, // localhost is matched exactly
		{"", false},
	}
	for _, tt := range tests {
		if got := c.RedirectURIAllowed(tt.uri); got != tt.want {
			t.Errorf("RedirectURIAllowed(%q) = %v, want %v", tt.uri, got, tt.want)
		}
	}
}

func TestNewClientRejects(t *testing.T) {
	tests := []struct {
		name string
		spec gatehouse.ClientSpec
		want string
	}{
		{"no name", gatehouse.ClientSpec{RedirectURIs: []string{"https://a.example/cb"}}, "name"},
		{"long name", gatehouse.ClientSpec{Name: strings.Repeat("n", 101), RedirectURIs: []string{"https://a.example/cb"}}, "name"},
		{"no redirect", gatehouse.ClientSpec{Name: "a"}, "redirect_uris"},
		{"relative", gatehouse.ClientSpec{Name: "a", RedirectURIs: []string{"/cb"}}, "absolute"},
		{"fragment", gatehouse.ClientSpec{Name: "a", RedirectURIs: []string{"https://a.example/cb#x"}}, "fragment"},
		{"empty fragment", gatehouse.ClientSpec{Name: "a", RedirectURIs: []string{"https://a.example/cb#"}}, "fragment"},
		{"http", gatehouse.ClientSpec{Name: "a", RedirectURIs: []string{"http://a.example/cb"}}, "https"},
		{"userinfo", gatehouse.ClientSpec{Name: "a", RedirectURIs: []string{"https://u:p@a.example/cb"}}, "user"},
		{"javascript", gatehouse.ClientSpec{Name: "a", Public: true, RedirectURIs: []string{"javascript:alert(1)"}}, "https"},
		{"custom scheme confidential", gatehouse.ClientSpec{Name: "a", RedirectURIs: []string{"com.example.app:/cb"}}, "https"},
		{"space", gatehouse.ClientSpec{Name: "a", RedirectURIs: []string{"https://a.example/c b"}}, "valid"},
		{"iss in the query", gatehouse.ClientSpec{Name: "a", RedirectURIs: []string{"https://a.example/cb?iss=https://evil.example"}}, "iss query parameter"},
		{"code in the query", gatehouse.ClientSpec{Name: "a", RedirectURIs: []string{"https://a.example/cb?x=1&code=abc"}}, "code query parameter"},
		{"state in the query", gatehouse.ClientSpec{Name: "a", RedirectURIs: []string{"https://a.example/cb?state="}}, "state query parameter"},
		{"error in the query", gatehouse.ClientSpec{Name: "a", RedirectURIs: []string{"https://a.example/cb?error=x"}}, "error query parameter"},
		{"unknown scope", gatehouse.ClientSpec{Name: "a", RedirectURIs: []string{"https://a.example/cb"}, Scopes: []string{"openid", "admin"}}, "scopes"},
		{"no openid", gatehouse.ClientSpec{Name: "a", RedirectURIs: []string{"https://a.example/cb"}, Scopes: []string{"email"}}, "openid"},
	}
	for _, tt := range tests {
		c, secret, err := gatehouse.NewClient(tt.spec, time.Now())
		var ge *gatehouse.Error
		if !errors.As(err, &ge) || ge.Code != gatehouse.EBADREQUEST || !strings.Contains(ge.Message, tt.want) {
			t.Errorf("%s: NewClient = %v, %q, %v; want bad_request about %q", tt.name, c, secret, err, tt.want)
		}
	}
}

func TestNewClientSecret(t *testing.T) {
	c, secret := newClient(t, false, "https://a.example/cb", "https://a.example/cb")
	if !gatehouse.ValidSecret(secret) || !c.VerifySecret(secret) || c.SecretHash != gatehouse.HashSecret(secret) {
		t.Fatalf("confidential client: secret %q, hash %x", secret, c.SecretHash)
	}
	if len(c.RedirectURIs) != 1 || len(c.Scopes) != len(gatehouse.ClientScopes) || !c.AllowsScope(gatehouse.ScopeOpenID) {
		t.Fatalf("client = %+v; want duplicates dropped and every scope by default", c)
	}
	_, other := newClient(t, false, "https://a.example/cb")
	if other == secret || c.VerifySecret(other) {
		t.Fatal("two clients share a secret, or one accepts another's")
	}
	p, none := newClient(t, true, "com.example.app:/cb")
	if none != "" || p.VerifySecret("") || p.VerifySecret(secret) {
		t.Fatal("a public client has a secret")
	}
}

// TestClientPatchAndSecret: a patch is checked like a registration and leaves the original
// alone; a confidential client's secret rotates, a public client has none.
func TestClientPatchAndSecret(t *testing.T) {
	c, secret, err := gatehouse.NewClient(gatehouse.ClientSpec{Name: "app", RedirectURIs: []string{"https://app.example/cb"},
		PostLogoutRedirectURIs: []string{"https://app.example/bye"}, BackchannelLogoutURI: "https://app.example/bcl", IDTokenAlg: "RS256"}, testkit.Start())
	if err != nil || !c.PostLogoutRedirectAllowed("https://app.example/bye") || c.PostLogoutRedirectAllowed("https://app.example/bye/") {
		t.Fatalf("NewClient: %+v %v", c, err)
	}
	name, alg := "renamed", "EdDSA"
	p, err := c.Patched(gatehouse.ClientPatch{Name: &name, IDTokenAlg: &alg})
	if err != nil || p.Name != "renamed" || p.IDTokenAlg != "EdDSA" || c.Name != "app" || p.ID != c.ID || p.SecretHash != c.SecretHash {
		t.Fatalf("Patched: %+v, %v (original %+v)", p, err, c)
	}
	for _, bad := range []gatehouse.ClientPatch{
		{RedirectURIs: &[]string{}},
		{RedirectURIs: &[]string{"http://evil.example/cb"}},
		{Scopes: &[]string{"admin"}},
		{IDTokenAlg: ptr("HS256")},
		{BackchannelLogoutURI: ptr("javascript:alert(1)")},
		{BackchannelLogoutURI: ptr("http://app.example/bcl")},
		{PostLogoutRedirectURIs: &[]string{"https://app.example/bye#x"}},
		{Name: ptr(" ")},
	} {
		if _, err := c.Patched(bad); gatehouse.ErrorCode(err) != gatehouse.EBADREQUEST {
			t.Errorf("patch %+v: %v, want bad_request", bad, err)
		}
	}
	again, err := c.RotateSecret()
	if err != nil || again == secret || !c.VerifySecret(again) || c.VerifySecret(secret) {
		t.Fatalf("RotateSecret: %v", err)
	}
	pub, _, _ := gatehouse.NewClient(gatehouse.ClientSpec{Name: "spa", Public: true, RedirectURIs: []string{"https://spa.example/cb"}}, testkit.Start())
	if _, err := pub.RotateSecret(); gatehouse.ErrorCode(err) != gatehouse.EBADREQUEST {
		t.Fatalf("a public client's secret rotated: %v", err)
	}
}

func ptr(s string) *string { return &s }
