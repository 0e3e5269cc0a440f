package token

import (
	"strings"
	"testing"

	"github.com/gatehouse-auth/gatehouse"
)

// FuzzVerify feeds arbitrary strings to the bearer-token verifier of every algorithm: it must
// never panic, must answer with one of the contract's token errors, and must accept nothing but
// the one token it issued (no forgery by re-encoding, header games or truncation). Starting inputs are in
// testdata/fuzz/FuzzVerify and below.
func FuzzVerify(f *testing.F) {
	clock := newTestClock()
	type verifier struct {
		s     *Service
		valid string
	}
	var vs []verifier
	for _, alg := range []string{"EdDSA", "ES256", "HS256"} {
		ks := mustKeySet(f, alg, clock)
		s := mustService(f, ks, clock, nil)
		tok, _ := mustIssue(f, s, clock)
		vs = append(vs, verifier{s, tok})
		f.Add(tok)
		parts := strings.Split(tok, ".")
		f.Add(parts[0] + "." + parts[1] + ".")
		f.Add(parts[0] + "." + parts[1])
		f.Add(`eyJhbGciOiJub25lIiwidHlwIjoiYXQrand0In0.` + parts[1] + ".")
		f.Add(tok + "=")
	}
	f.Add("")
	f.Add("...")
	f.Add(strings.Repeat("A", DefaultMaxSize+1))
	f.Fuzz(func(t *testing.T, tok string) {
		for _, v := range vs {
			got, err := v.s.Verify(tok)
			if err == nil {
				if tok != v.valid {
					t.Fatalf("accepted a token it did not issue: %q", tok)
				}
				if got.UserID != testPrincipal.UserID {
					t.Fatalf("wrong principal %+v", got)
				}
				continue
			}
			switch code := gatehouse.ErrorCode(err); code {
			case gatehouse.EINVALIDTOKEN, gatehouse.ETOKENEXPIRED, gatehouse.ETOOLARGE:
			default:
				t.Fatalf("Verify(%q): error code %q (%v)", tok, code, err)
			}
		}
	})
}
