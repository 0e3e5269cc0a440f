package token

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"encoding/base64"
	"encoding/json"
	"testing"
)

func TestJWKS(t *testing.T) {
	clock := newTestClock()
	ks := mustKeySet(t, AlgEdDSA, clock)
	path := ks.Path()
	for _, opts := range []KeyOptions{{Alg: AlgES256}, {Alg: AlgHS256}} {
		opts.Now = clock.Now
		if _, err := LoadKeySet(path, opts); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := ks.Reload(); err != nil {
		t.Fatal(err)
	}
	if len(ks.KIDs()) != 3 {
		t.Fatalf("kids = %v", ks.KIDs())
	}
	var set struct{ Keys []map[string]string }
	if err := json.Unmarshal(ks.JWKS(), &set); err != nil {
		t.Fatal(err)
	}
	if len(set.Keys) != 2 {
		t.Fatalf("JWKS has %d keys, want 2 (no HMAC): %s", len(set.Keys), ks.JWKS())
	}
	for _, j := range set.Keys {
		k := ks.lookup(j["kid"])
		if k == nil || j["alg"] != k.alg || j["use"] != "sig" {
			t.Fatalf("JWK %v", j)
		}
		allowed := map[string]bool{"kty": true, "crv": true, "x": true, "y": true, "kid": true, "alg": true, "use": true}
		for m := range j {
			if !allowed[m] {
				t.Fatalf("JWK has member %q: %v", m, j)
			}
		}
		if !jwkMatches(t, j, k.verify) {
			t.Fatalf("JWK %v does not describe the key", j)
		}
	}
	if bytes.Contains(ks.JWKS(), []byte(`"d"`)) || bytes.Contains(ks.JWKS(), []byte(`"k"`)) {
		t.Fatalf("JWKS has private members: %s", ks.JWKS())
	}
}

// jwkMatches rebuilds a public key from j and compares it with pub.
func jwkMatches(t *testing.T, j map[string]string, pub any) bool {
	t.Helper()
	dec := func(s string) []byte {
		b, err := base64.RawURLEncoding.DecodeString(s)
		if err != nil {
			t.Fatalf("JWK member %q: %v", s, err)
		}
		return b
	}
	switch p := pub.(type) {
	case ed25519.PublicKey:
		return j["kty"] == "OKP" && j["crv"] == "Ed25519" && bytes.Equal(dec(j["x"]), p)
	case *ecdsa.PublicKey:
		raw := append(append([]byte{4}, dec(j["x"])...), dec(j["y"])...)
		got, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), raw)
		return err == nil && j["kty"] == "EC" && j["crv"] == "P-256" && got.Equal(p)
	}
	return false
}
