package access

import (
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const sample = `# rules for the example deployment
rules:
  - domain: public.example.com
    policy: bypass
  - domain: "*.example.com"
    path: "^/admin(/|$)"
    policy: role:admin
  - domain: [app.example.com, wiki.example.com]
    methods: [GET, HEAD]
    networks: [10.0.0.0/8, "::1"]
    policy: bypass
  - domain: team.example.com
    policy: group:engineering
  - domain: "*.example.com"
    policy: authenticated
  - domain: closed.example.org
    policy: deny
`

func mustParse(t testing.TB, doc string, def Policy) *Rules {
	t.Helper()
	rs, err := Parse([]byte(doc), def)
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	return rs
}

func TestDecide(t *testing.T) {
	rs := mustParse(t, sample, Policy{Kind: Deny})
	lan, wan := netip.MustParseAddr("10.1.2.3"), netip.MustParseAddr("203.0.113.9")
	cases := []struct {
		host, path, method string
		client             netip.Addr
		want               string
		line               int
	}{
		{"public.example.com", "/", "GET", wan, "bypass", 3},
		{"PUBLIC.Example.COM:8443", "/x", "POST", wan, "bypass", 3}, // case and port do not matter
		{"public.example.com.", "/", "GET", wan, "bypass", 3},       // nor a final dot
		{"app.example.com", "/admin", "GET", wan, "role:admin", 5},  // rule order: the admin rule comes first
		{"app.example.com", "/admin/users", "GET", lan, "role:admin", 5},
		{"app.example.com", "/administrator", "GET", wan, "authenticated", 14},
		{"app.example.com", "/", "GET", lan, "bypass", 8},
		{"app.example.com", "/", "POST", lan, "authenticated", 14}, // method not listed
		{"app.example.com", "/", "GET", wan, "authenticated", 14},  // network not listed
		{"app.example.com", "/", "GET", netip.MustParseAddr("::1"), "bypass", 8},
		{"app.example.com", "/", "GET", netip.MustParseAddr("::ffff:10.0.0.1"), "bypass", 8}, // mapped v4
		{"team.example.com", "/", "GET", wan, "group:engineering", 12},
		{"a.b.example.com", "/", "GET", wan, "authenticated", 14}, // a wildcard covers every depth
		{"example.com", "/", "GET", wan, "deny", 0},               // but not the domain itself
		{"evilexample.com", "/", "GET", wan, "deny", 0},           // nor a name that merely ends alike
		{"example.com.evil.net", "/", "GET", wan, "deny", 0},
		{"closed.example.org", "/", "GET", wan, "deny", 16},
		{"other.org", "/", "GET", wan, "deny", 0},
		{"", "/", "GET", netip.Addr{}, "deny", 0},
		{"[::1]:80", "/", "GET", wan, "deny", 0},
	}
	for _, c := range cases {
		d := rs.Decide(&Request{Host: c.host, Path: c.path, Method: c.method, Client: c.client})
		if d.String() != c.want || d.Line != c.line {
			t.Errorf("%s %s%s from %v: %s (line %d), want %s (line %d)", c.method, c.host, c.path, c.client, d, d.Line, c.want, c.line)
		}
	}
}

func TestDefaultPolicy(t *testing.T) {
	rs := mustParse(t, "", Policy{Kind: Authenticated})
	if d := rs.Decide(&Request{Host: "x", Path: "/", Method: "GET"}); d.Kind != Authenticated || d.Line != 0 {
		t.Fatalf("empty rules with default authenticated: %v", d)
	}
	var nilRules *Rules
	if d := nilRules.Decide(&Request{}); d.Kind != Deny {
		t.Fatalf("nil rules: %v, want deny", d)
	}
	if NewHolder(nil).Load().Decide(&Request{}).Kind != Deny {
		t.Fatal("an empty holder must deny")
	}
}

func TestParseErrorsNameTheLine(t *testing.T) {
	cases := []struct{ doc, want string }{
		{"rules:\n  - domain: a.com\n    policy: maybe\n", "line 3: policy \"maybe\""},
		{"rules:\n  - domain: a.com\n    policy: mfa\n", "line 3: policy \"mfa\" is not available yet"},
		{"rules:\n  - domain: a.com\n", "line 2: the rule has no policy"},
		{"rules:\n  - domain: a.com\n    pathh: /x\n    policy: deny\n", "line 3: unknown key \"pathh\""},
		{"rules:\n  - path: '(['\n    policy: deny\n", "line 2: path: error parsing regexp"},
		{"rules:\n  - methods: [GET, FETCH]\n    policy: deny\n", "line 2: method \"FETCH\""},
		{"rules:\n  - networks: [10.0.0.0/33]\n    policy: deny\n", "line 2: network \"10.0.0.0/33\""},
		{"rules:\n  - domain: 'a..com'\n    policy: deny\n", "line 2: domain \"a..com\""},
		{"rules:\n  - domain: '*.*.com'\n    policy: deny\n", "line 2: domain"},
		{"rules:\n  - domain: 'exämple.com'\n    policy: deny\n", "line 2: domain"},
		{"rules:\n  - domain: []\n    policy: deny\n", "line 2: domain: an empty list"},
		{"rules:\n  - policy: deny\n    policy: bypass\n", "line 3: policy: given twice"},
		{"rules:\n  - policy: role:\n", "line 2"},
		{"rules:\n  - policy: 'role:'\n", "line 2: policy \"role:\""},
		{"rules:\n  - policy: group:a b\n", "line 2: policy \"group:a b\""},
		{"rules: {}\n", "line 1: rules: want a list"},
		{"rule:\n  - policy: deny\n", "line 1: unknown key \"rule\""},
		{"- policy: deny\n", "line 1: want a mapping"},
		{"rules:\n  - [deny]\n", "line 2: a rule is a mapping"},
		{"rules: [\n", "line 1"},
	}
	for _, c := range cases {
		_, err := Parse([]byte(c.doc), Policy{})
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: error %v, want one containing %q", c.doc, err, c.want)
		}
	}
	if _, err := ParsePolicy("mfa"); !errors.Is(err, ErrNotAvailable) {
		t.Errorf("mfa: %v, want ErrNotAvailable", err)
	}
}

func TestParsePolicy(t *testing.T) {
	for _, s := range []string{"deny", "bypass", "authenticated", "role:admin", "group:ops-team.eu"} {
		p, err := ParsePolicy(s)
		if err != nil || p.String() != s {
			t.Errorf("ParsePolicy(%q) = %v, %v", s, p, err)
		}
	}
	for _, s := range []string{"", "Deny", "role", "role:", "team:x", "role:editor", "group:" + strings.Repeat("x", 65)} {
		if _, err := ParsePolicy(s); err == nil {
			t.Errorf("ParsePolicy(%q) accepted", s)
		}
	}
}

func TestLoadFile(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "rules.yaml")
	if err := os.WriteFile(p, []byte(sample), 0o600); err != nil {
		t.Fatal(err)
	}
	rs, err := LoadFile(p, Policy{})
	if err != nil || rs.Len() != 6 {
		t.Fatalf("LoadFile: %v, %d rules", err, rs.Len())
	}
	if err := os.WriteFile(p, []byte("rules:\n  - policy: nope\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadFile(p, Policy{}); err == nil || !strings.Contains(err.Error(), p+": line 2:") {
		t.Fatalf("bad file: %v, want the file and line named", err)
	}
	if err := os.WriteFile(p, make([]byte, MaxFileBytes+1), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadFile(p, Policy{}); err == nil || !strings.Contains(err.Error(), "larger than") {
		t.Fatalf("huge file: %v", err)
	}
	if _, err := LoadFile(filepath.Join(dir, "missing.yaml"), Policy{}); err == nil {
		t.Fatal("a missing file loaded")
	}
}

// TestDecideAllocatesNothing: a decision on the hot path allocates nothing, whichever rule
// (or the default) decides.
func TestDecideAllocatesNothing(t *testing.T) {
	rs := mustParse(t, sample, Policy{})
	reqs := []Request{
		{Host: "app.example.com:443", Path: "/admin/x", Method: "GET", Client: netip.MustParseAddr("203.0.113.9")},
		{Host: "app.example.com", Path: "/", Method: "GET", Client: netip.MustParseAddr("10.0.0.1")},
		{Host: "nowhere.test", Path: "/a/b/c", Method: "DELETE", Client: netip.MustParseAddr("::1")},
	}
	for i := range reqs {
		if n := testing.AllocsPerRun(200, func() { rs.Decide(&reqs[i]) }); n != 0 {
			t.Errorf("Decide(%+v) allocates %.1f times", reqs[i], n)
		}
	}
}

func BenchmarkDecide(b *testing.B) {
	rs := mustParse(b, sample, Policy{})
	req := Request{Host: "wiki.example.com", Path: "/page/42", Method: "GET", Client: netip.MustParseAddr("203.0.113.9")}
	b.ReportAllocs()
	for b.Loop() {
		rs.Decide(&req)
	}
}
