package token

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// MaxJWKSSize caps the JWK Set that ParseJWKS accepts.
const MaxJWKSSize = 1 << 20

// ParseJWKS returns a verify-only KeySet holding the EdDSA (Ed25519) and ES256 (P-256) public
// keys of a JWK Set, such as the one a gatehouse server publishes (its RS256 keys, which sign
// only the OpenID Provider's ID tokens, are kept but a set needs another key). Each key must name its alg,
// which binds it; keys of other types, keys without a kid, keys whose use is not "sig" or whose
// key_ops do not include "verify", and sets with private members are refused. The result can
// verify tokens but not sign them (Issue fails) and is never reloaded.
func ParseJWKS(data []byte, now func() time.Time) (*KeySet, error) {
	s, err := parseJWKSSnapshot(data)
	if err != nil {
		return nil, err
	}
	if now == nil {
		now = time.Now
	}
	ks := &KeySet{opts: KeyOptions{Alg: accessAlg(s.keys), Now: now}}
	ks.snap.Store(s)
	return ks, nil
}

// parseJWKSSnapshot builds the verify-only snapshot of a JWK Set (see ParseJWKS).
func parseJWKSSnapshot(data []byte) (*snapshot, error) {
	if len(data) > MaxJWKSSize {
		return nil, errors.New("token: JWK Set too large")
	}
	var set struct {
		Keys []map[string]any `json:"keys"`
	}
	if err := json.Unmarshal(data, &set); err != nil {
		return nil, fmt.Errorf("token: JWK Set: %w", err)
	}
	s := &snapshot{byKID: map[string]*key{}, digest: sha256.Sum256(data)}
	for i, m := range set.Keys {
		k, err := parseJWK(m)
		if err != nil {
			return nil, fmt.Errorf("token: JWK Set key %d: %w", i, err)
		}
		if _, dup := s.byKID[k.kid]; dup {
			return nil, fmt.Errorf("token: JWK Set: duplicate kid %q", k.kid)
		}
		s.keys = append(s.keys, k)
		s.byKID[k.kid] = k
	}
	if accessAlg(s.keys) == "" {
		return nil, errors.New("token: JWK Set has no usable key")
	}
	return s, nil
}

// accessAlg returns the algorithm of the first key that may verify access tokens: RS256 keys
// (the OpenID Provider's, for ID tokens) are kept in a parsed set but never count as one.
func accessAlg(keys []*key) string {
	for _, k := range keys {
		if k.alg != AlgRS256 {
			return k.alg
		}
	}
	return ""
}

func parseJWK(m map[string]any) (*key, error) {
	str := func(name string) string { v, _ := m[name].(string); return v }
	if _, private := m["d"]; private {
		return nil, errors.New("private key material in a public JWK Set")
	}
	kid, alg := str("kid"), str("alg")
	if kid == "" || len(kid) > maxKIDLen {
		return nil, errors.New("missing or oversized kid")
	}
	if use := str("use"); use != "" && use != "sig" {
		return nil, fmt.Errorf("kid %q: use %q is not sig", kid, use)
	}
	if ops, present := m["key_ops"]; present && !allowsVerify(ops) {
		return nil, fmt.Errorf("kid %q: key_ops %v does not include verify", kid, ops)
	}
	k := &key{kid: kid, alg: alg}
	switch {
	case alg == AlgEdDSA && str("kty") == "OKP" && str("crv") == "Ed25519":
		x, err := base64.RawURLEncoding.Strict().DecodeString(str("x"))
		if err != nil || len(x) != ed25519.PublicKeySize {
			return nil, fmt.Errorf("kid %q: bad Ed25519 x", kid)
		}
		k.method, k.verify = jwt.SigningMethodEdDSA, ed25519.PublicKey(x)
	case alg == AlgES256 && str("kty") == "EC" && str("crv") == "P-256":
		pub, err := parseP256(str("x"), str("y"))
		if err != nil {
			return nil, fmt.Errorf("kid %q: %w", kid, err)
		}
		k.method, k.verify = jwt.SigningMethodES256, pub
	case alg == AlgRS256 && str("kty") == "RSA":
		pub, err := parseRSA(str("n"), str("e"))
		if err != nil {
			return nil, fmt.Errorf("kid %q: %w", kid, err)
		}
		k.method, k.verify = jwt.SigningMethodRS256, pub
	default:
		return nil, fmt.Errorf("kid %q: unsupported key (kty %q, crv %q, alg %q)", kid, str("kty"), str("crv"), alg)
	}
	return k, nil
}

// allowsVerify reports whether a JWK's key_ops member (RFC 7517 section 4.3) lists "verify".
func allowsVerify(ops any) bool {
	list, _ := ops.([]any)
	for _, op := range list {
		if op == "verify" {
			return true
		}
	}
	return false
}

func parseP256(xs, ys string) (*ecdsa.PublicKey, error) {
	x, errx := base64.RawURLEncoding.Strict().DecodeString(xs)
	y, erry := base64.RawURLEncoding.Strict().DecodeString(ys)
	if errx != nil || erry != nil || len(x) != 32 || len(y) != 32 {
		return nil, errors.New("bad P-256 coordinates")
	}
	// ParseUncompressedPublicKey checks that the point is on the curve.
	return ecdsa.ParseUncompressedPublicKey(elliptic.P256(), append(append([]byte{4}, x...), y...))
}

// parseRSA decodes an RSA public key of at least minRSABits bits.
func parseRSA(ns, es string) (*rsa.PublicKey, error) {
	nb, err1 := base64.RawURLEncoding.Strict().DecodeString(ns)
	eb, err2 := base64.RawURLEncoding.Strict().DecodeString(es)
	if err1 != nil || err2 != nil || len(eb) == 0 || len(eb) > 4 {
		return nil, errors.New("bad RSA n or e")
	}
	n := new(big.Int).SetBytes(nb)
	e := int(new(big.Int).SetBytes(eb).Int64())
	if n.BitLen() < minRSABits || e < 3 || e%2 == 0 {
		return nil, fmt.Errorf("RSA key of %d bits or exponent %d refused", n.BitLen(), e)
	}
	return &rsa.PublicKey{N: n, E: e}, nil
}
