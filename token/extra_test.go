package token

import (
	"crypto/rsa"
	"encoding/json"
	"path/filepath"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// TestExtraAlgRS256: an RS256 key is kept beside the signing key, published in the JWKS,
// handed out for ID tokens, rotated with the signing key and retired by its own successor;
// it never signs or verifies access tokens, and a parsed JWKS that holds it still verifies.
func TestExtraAlgRS256(t *testing.T) {
	clock := newTestClock()
	path := filepath.Join(t.TempDir(), "keys.json")
	ks, err := LoadKeySet(path, KeyOptions{Alg: AlgEdDSA, Now: clock.Now, ExtraAlgs: []string{AlgRS256}})
	if err != nil {
		t.Fatal(err)
	}
	kid, priv, ok := ks.PrivateSigningKeyFor(AlgRS256)
	rk, isRSA := priv.(*rsa.PrivateKey)
	if !ok || !isRSA || rk.N.BitLen() < 2048 {
		t.Fatalf("no RS256 key: %v %T", ok, priv)
	}
	if _, _, ok := ks.PrivateSigningKeyFor(AlgES256); ok {
		t.Fatal("a key of an algorithm the set does not keep")
	}
	var set struct {
		Keys []map[string]any `json:"keys"`
	}
	if err := json.Unmarshal(ks.JWKS(), &set); err != nil || len(set.Keys) != 2 {
		t.Fatalf("JWKS %s: %v", ks.JWKS(), err)
	}
	for _, k := range set.Keys {
		if k["kid"] == kid && (k["kty"] != "RSA" || k["alg"] != "RS256" || k["n"] == nil || k["e"] != "AQAB" || k["d"] != nil) {
			t.Fatalf("RSA JWK %v", k)
		}
	}
	// Reopening keeps the key; a rotation adds one of each algorithm.
	again, err := LoadKeySet(path, KeyOptions{Alg: AlgEdDSA, Now: clock.Now, ExtraAlgs: []string{AlgRS256}})
	if err != nil {
		t.Fatal(err)
	}
	if k2, _, _ := again.PrivateSigningKeyFor(AlgRS256); k2 != kid {
		t.Fatal("reopening changed the RS256 key")
	}
	clock.Advance(2 * time.Second)
	if _, err := ks.Rotate(); err != nil {
		t.Fatal(err)
	}
	newKid, _, _ := ks.PrivateSigningKeyFor(AlgRS256)
	if newKid == kid || len(ks.snap.Load().keys) != 4 {
		t.Fatalf("a rotation did not add an RS256 key: %d keys", len(ks.snap.Load().keys))
	}
	// Retirement: each old key goes once its own successor is old enough.
	clock.Advance(time.Hour)
	ch, err := ks.Maintain(KeyPolicy{RetireAfter: 30 * time.Minute})
	if err != nil || len(ch.Retired) != 2 {
		t.Fatalf("retired %v, %v; want the old EdDSA and RS256 keys", ch.Retired, err)
	}
	if k3, _, ok := ks.PrivateSigningKeyFor(AlgRS256); !ok || k3 != newKid {
		t.Fatal("the current RS256 key was retired")
	}
	// Access tokens: never RS256, and a verifier on the parsed JWKS still works.
	s := mustService(t, ks, clock, nil)
	raw, _ := mustIssue(t, s, clock)
	parsed, err := ParseJWKS(ks.JWKS(), clock.Now)
	if err != nil || parsed.SigningAlg() != AlgEdDSA {
		t.Fatalf("ParseJWKS of a set with an RS256 key: %v", err)
	}
	if _, err := mustService(t, parsed, clock, func(c *Config) { c.Algorithms = []string{AlgEdDSA} }).Verify(raw); err != nil {
		t.Fatalf("verify on the parsed set: %v", err)
	}
	_, rsaKey, _ := ks.PrivateSigningKeyFor(AlgRS256)
	forged := jwt.NewWithClaims(jwt.SigningMethodRS256, jwt.MapClaims{"iss": testIssuer, "aud": testAudience, "sub": "x",
		"jti": "j", "iat": clock.Now().Unix(), "exp": clock.Now().Add(time.Minute).Unix()})
	forged.Header["typ"], forged.Header["kid"] = TypAccessToken, newKid
	signed, err := forged.SignedString(rsaKey)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Verify(signed); err == nil {
		t.Fatal("an access token signed with the RS256 key was accepted")
	}
	if _, err := LoadKeySet(filepath.Join(t.TempDir(), "k.json"), KeyOptions{Alg: AlgEdDSA, ExtraAlgs: []string{AlgHS256}}); err == nil {
		t.Fatal("HS256 accepted as an extra algorithm")
	}
}
