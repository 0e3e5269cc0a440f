package token

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse"
	"github.com/gatehouse-auth/gatehouse/internal/testkit"
	"github.com/golang-jwt/jwt/v5"
)

const (
	testIssuer   = "https://auth.example.test"
	testAudience = "gatehouse-test"
)

var testAlgs = []string{AlgEdDSA, AlgES256, AlgHS256}

// testClock is an injectable clock that tests move by hand.
type testClock = testkit.Clock

// newTestClock returns a clock at the real time plus half a second (JWT times are whole
// seconds: the half shows where they are truncated).
func newTestClock() *testClock {
	c := testkit.NewClock()
	c.Advance(500 * time.Millisecond)
	return c
}

var testPrincipal = gatehouse.Principal{
	UserID: "01hzzzzzzzzzzzzzzzzzzzzzzz", Username: "alice", Name: "Alice Example",
	Email: "alice@example.test", Role: gatehouse.RoleUser,
}

// mustKeySet loads (creating) a key set of alg in a temporary directory.
func mustKeySet(t testing.TB, alg string, clock *testClock) *KeySet {
	t.Helper()
	ks, err := LoadKeySet(filepath.Join(t.TempDir(), "data", "keys.json"), KeyOptions{Alg: alg, Now: clock.Now})
	if err != nil {
		t.Fatalf("LoadKeySet(%s): %v", alg, err)
	}
	return ks
}

// mustService returns a service on ks with the test issuer and audience; edit may change the
// config first.
func mustService(t testing.TB, ks *KeySet, clock *testClock, edit func(*Config)) *Service {
	t.Helper()
	cfg := Config{Issuer: testIssuer, Audience: testAudience, Now: clock.Now}
	if edit != nil {
		edit(&cfg)
	}
	s, err := NewService(ks, cfg)
	if err != nil {
		t.Fatalf("NewService: %v", err)
	}
	return s
}

// mustIssue issues a token for testPrincipal at the clock's time.
func mustIssue(t testing.TB, s *Service, clock *testClock) (string, *gatehouse.Token) {
	t.Helper()
	tok, tt, err := s.Issue(testPrincipal, "fam1", gatehouse.IssueStamp(clock.Now(), time.Time{}))
	if err != nil {
		t.Fatalf("Issue: %v", err)
	}
	return tok, tt
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// validHeader is the header Issue would write for the signing key of ks.
func validHeader(ks *KeySet) map[string]any {
	k := ks.signingKey()
	return map[string]any{"alg": k.alg, "kid": k.kid, "typ": TypAccessToken}
}

// validClaims is a claim set Verify accepts at the clock's time.
func validClaims(clock *testClock) map[string]any {
	now := clock.Now().Unix()
	return map[string]any{
		"sub": testPrincipal.UserID, "name": testPrincipal.Name, "email": testPrincipal.Email,
		"role": "user", "username": testPrincipal.Username, "iss": testIssuer, "aud": testAudience,
		"iat": now, "nbf": now, "exp": now + 900, "jti": gatehouse.NewID(clock.Now()),
	}
}

// encodeSigned serialises header and claims and signs them with method and key.
func encodeSigned(t testing.TB, method jwt.SigningMethod, key any, header, claims any) string {
	t.Helper()
	input := encodeJSON(t, header) + "." + encodeJSON(t, claims)
	sig, err := method.Sign(input, key)
	if err != nil {
		t.Fatalf("sign: %v", err)
	}
	return input + "." + b64(sig)
}

// signWithKeySet signs header and claims with the signing key of ks.
func signWithKeySet(t testing.TB, ks *KeySet, header, claims map[string]any) string {
	t.Helper()
	k := ks.signingKey()
	return encodeSigned(t, k.method, k.sign, header, claims)
}

func encodeJSON(t testing.TB, v any) string {
	t.Helper()
	if raw, ok := v.(json.RawMessage); ok {
		return b64(raw)
	}
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("marshal: %v", err)
	}
	return b64(b)
}

// wantErr fails unless err is want (and, for invalid tokens, not also "expired").
func wantErr(t testing.TB, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("err = %v, want %v", err, want)
	}
	if want == gatehouse.ErrInvalidToken && errors.Is(err, gatehouse.ErrTokenExpired) {
		t.Fatalf("err = %v is both invalid and expired", err)
	}
}
