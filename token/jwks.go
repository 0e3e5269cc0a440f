package token

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math/big"
)

// jwk is the public part of a key as RFC 7517/7518/8037 describe it. It has no field for
// private material, so none can leak into the JWK Set.
type jwk struct {
	Kty string `json:"kty"`
	Crv string `json:"crv,omitempty"`
	X   string `json:"x,omitempty"`
	Y   string `json:"y,omitempty"`
	N   string `json:"n,omitempty"`
	E   string `json:"e,omitempty"`
	Kid string `json:"kid"`
	Alg string `json:"alg"`
	Use string `json:"use"`
}

// buildJWKS returns the JWK Set of the asymmetric keys, newest first. HMAC keys are secret and
// never appear.
func buildJWKS(keys []*key) ([]byte, error) {
	set := struct {
		Keys []jwk `json:"keys"`
	}{Keys: []jwk{}}
	for i := len(keys) - 1; i >= 0; i-- {
		j, ok, err := publicJWK(keys[i])
		if err != nil {
			return nil, err
		}
		if ok {
			set.Keys = append(set.Keys, j)
		}
	}
	return json.Marshal(set)
}

// publicJWK returns the JWK of k; ok is false for keys that have no public half.
func publicJWK(k *key) (j jwk, ok bool, err error) {
	b64 := base64.RawURLEncoding.EncodeToString
	switch pub := k.verify.(type) {
	case ed25519.PublicKey:
		return jwk{Kty: "OKP", Crv: "Ed25519", X: b64(pub), Kid: k.kid, Alg: k.alg, Use: "sig"}, true, nil
	case *ecdsa.PublicKey:
		p, err := pub.Bytes() // 0x04 || X || Y, 32 bytes each for P-256
		if err != nil || len(p) != 65 {
			return jwk{}, false, fmt.Errorf("kid %q: cannot encode P-256 public key: %v", k.kid, err)
		}
		return jwk{Kty: "EC", Crv: "P-256", X: b64(p[1:33]), Y: b64(p[33:]), Kid: k.kid, Alg: k.alg, Use: "sig"}, true, nil
	case *rsa.PublicKey:
		return jwk{Kty: "RSA", N: b64(pub.N.Bytes()), E: b64(big.NewInt(int64(pub.E)).Bytes()), Kid: k.kid, Alg: k.alg, Use: "sig"}, true, nil
	}
	return jwk{}, false, nil
}
