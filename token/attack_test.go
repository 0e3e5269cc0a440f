package token

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"math/big"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/gatehouse-auth/gatehouse"
	"github.com/golang-jwt/jwt/v5"
)

func TestAlgNone(t *testing.T) {
	clock := newTestClock()
	ks := mustKeySet(t, AlgEdDSA, clock)
	lenient := mustService(t, ks, clock, func(c *Config) { c.Algorithms = []string{AlgEdDSA, AlgES256, AlgHS256} })
	strict := mustService(t, ks, clock, nil)
	for _, alg := range []string{"none", "None", "NONE", "nOnE"} {
		h := validHeader(ks)
		h["alg"] = alg
		unsigned := encodeJSON(t, h) + "." + encodeJSON(t, validClaims(clock))
		for _, tok := range []string{unsigned + ".", unsigned} {
			for _, s := range []*Service{strict, lenient} {
				_, err := s.Verify(tok)
				wantErr(t, err, gatehouse.ErrInvalidToken)
			}
		}
		// A "none" token carrying a real signature does not pass either.
		real := signWithKeySet(t, ks, validHeader(ks), validClaims(clock))
		_, err := strict.Verify(unsigned + "." + strings.Split(real, ".")[2])
		wantErr(t, err, gatehouse.ErrInvalidToken)
	}
}

// TestAlgConfusion signs HS256 tokens with the public key material of an asymmetric key,
// naming that key's kid: the classic RS256->HS256 confusion. It must fail even when HS256 is
// an accepted algorithm, because a key is bound to its algorithm.
func TestAlgConfusion(t *testing.T) {
	for _, alg := range []string{AlgEdDSA, AlgES256} {
		t.Run(alg, func(t *testing.T) {
			clock := newTestClock()
			ks := mustKeySet(t, alg, clock)
			k := ks.signingKey()
			secrets := map[string][]byte{"jwks": ks.JWKS()}
			switch pub := k.verify.(type) {
			case ed25519.PublicKey:
				secrets["raw"] = pub
			case *ecdsa.PublicKey:
				secrets["raw"], _ = pub.Bytes()
			}
			der, err := x509.MarshalPKIXPublicKey(k.verify)
			if err != nil {
				t.Fatal(err)
			}
			secrets["der"] = der
			secrets["pem"] = pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
			var set struct{ Keys []json.RawMessage }
			if err := json.Unmarshal(ks.JWKS(), &set); err != nil || len(set.Keys) != 1 {
				t.Fatalf("JWKS: %v", err)
			}
			secrets["jwk"] = set.Keys[0]
			services := []*Service{
				mustService(t, ks, clock, nil),
				mustService(t, ks, clock, func(c *Config) { c.Algorithms = []string{alg, AlgHS256} }),
			}
			for name, secret := range secrets {
				h := validHeader(ks)
				h["alg"] = AlgHS256
				tok := encodeSigned(t, jwt.SigningMethodHS256, secret, h, validClaims(clock))
				for i, s := range services {
					if _, err := s.Verify(tok); !isInvalid(err) {
						t.Errorf("HS256 with %s public key, service %d: %v", name, i, err)
					}
				}
			}
		})
	}
}

// isInvalid reports whether err is ErrInvalidToken and not also ErrTokenExpired.
func isInvalid(err error) bool {
	return errors.Is(err, gatehouse.ErrInvalidToken) && !errors.Is(err, gatehouse.ErrTokenExpired)
}

// TestCrossAlgorithmKID names a key of one algorithm in a token of another accepted one.
func TestCrossAlgorithmKID(t *testing.T) {
	clock := newTestClock()
	ks := mustKeySet(t, AlgEdDSA, clock)
	es, err := LoadKeySet(ks.Path(), KeyOptions{Alg: AlgES256, Now: clock.Now}) // adds an ES256 key
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ks.Reload(); err != nil {
		t.Fatal(err)
	}
	s := mustService(t, ks, clock, func(c *Config) { c.Algorithms = []string{AlgEdDSA, AlgES256} })
	esKey := es.signingKey()
	h := map[string]any{"alg": AlgES256, "kid": ks.SigningKID(), "typ": TypAccessToken}
	tok := encodeSigned(t, esKey.method, esKey.sign, h, validClaims(clock))
	err = verifyError(s, tok)
	wantErr(t, err, gatehouse.ErrInvalidToken)
	if !strings.Contains(err.Error(), "does not match") {
		t.Fatalf("err = %v, want the alg/key binding to refuse it", err)
	}
	// With its own kid the same ES256 token is fine.
	h["kid"] = esKey.kid
	if _, err := s.Verify(encodeSigned(t, esKey.method, esKey.sign, h, validClaims(clock))); err != nil {
		t.Fatalf("ES256 with its own kid: %v", err)
	}
	// And an ES256 token is refused by a service that accepts only EdDSA.
	only := mustService(t, ks, clock, nil)
	_, err = only.Verify(encodeSigned(t, esKey.method, esKey.sign, h, validClaims(clock)))
	wantErr(t, err, gatehouse.ErrInvalidToken)
}

// verifyError returns only the error of s.Verify(tok).
func verifyError(s *Service, tok string) error {
	_, err := s.Verify(tok)
	return err
}

func TestForeignKeyWithKnownKID(t *testing.T) {
	for _, alg := range testAlgs {
		t.Run(alg, func(t *testing.T) {
			clock := newTestClock()
			ks := mustKeySet(t, alg, clock)
			foreign := mustKeySet(t, alg, clock).signingKey()
			s := mustService(t, ks, clock, nil)
			tok := encodeSigned(t, foreign.method, foreign.sign, validHeader(ks), validClaims(clock))
			wantErr(t, verifyError(s, tok), gatehouse.ErrInvalidToken)
		})
	}
}

func TestTamperedClaims(t *testing.T) {
	for _, alg := range testAlgs {
		t.Run(alg, func(t *testing.T) {
			clock := newTestClock()
			s := mustService(t, mustKeySet(t, alg, clock), clock, nil)
			tok, _ := mustIssue(t, s, clock)
			parts := strings.Split(tok, ".")
			raw, _ := base64.RawURLEncoding.DecodeString(parts[1])
			forged := strings.Replace(string(raw), `"role":"user"`, `"role":"admin"`, 1)
			if forged == string(raw) {
				t.Fatal("role claim not found")
			}
			parts[1] = b64([]byte(forged))
			wantErr(t, verifyError(s, strings.Join(parts, ".")), gatehouse.ErrInvalidToken)
			// The untouched token still works (and is now cached); the forgery still fails.
			if _, err := s.Verify(tok); err != nil {
				t.Fatal(err)
			}
			wantErr(t, verifyError(s, strings.Join(parts, ".")), gatehouse.ErrInvalidToken)
		})
	}
}

// TestKeyURLHeadersIgnored: jwk, jku, x5u and x5c headers never supply a key and are never
// fetched.
func TestKeyURLHeadersIgnored(t *testing.T) {
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"keys":[]}`))
	}))
	defer srv.Close()

	clock := newTestClock()
	ks := mustKeySet(t, AlgEdDSA, clock)
	s := mustService(t, ks, clock, nil)
	attacker := mustKeySet(t, AlgEdDSA, clock)
	ak := attacker.signingKey()
	var set struct{ Keys []json.RawMessage }
	if err := json.Unmarshal(attacker.JWKS(), &set); err != nil {
		t.Fatal(err)
	}
	cert := selfSignedCert(t)
	extras := map[string]any{
		"jku": srv.URL + "/jwks.json",
		"x5u": srv.URL + "/cert.pem",
		"jwk": set.Keys[0],
		"x5c": []string{base64.StdEncoding.EncodeToString(cert)},
	}
	for name, v := range extras {
		for _, kid := range []any{ak.kid, ks.SigningKID(), nil} {
			h := map[string]any{"alg": AlgEdDSA, "typ": TypAccessToken, name: v}
			if kid != nil {
				h["kid"] = kid
			}
			tok := encodeSigned(t, ak.method, ak.sign, h, validClaims(clock))
			wantErr(t, verifyError(s, tok), gatehouse.ErrInvalidToken)
		}
		// Our own token with the header added verifies: the header is simply ignored.
		h := validHeader(ks)
		h[name] = v
		if _, err := s.Verify(signWithKeySet(t, ks, h, validClaims(clock))); err != nil {
			t.Errorf("own token with %s header: %v", name, err)
		}
	}
	if n := hits.Load(); n != 0 {
		t.Fatalf("the key URL server received %d requests, want 0", n)
	}
}

// selfSignedCert returns the DER of a throwaway certificate for x5c.
func selfSignedCert(t *testing.T) []byte {
	t.Helper()
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &priv.PublicKey, priv)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

func TestHostileKID(t *testing.T) {
	clock := newTestClock()
	ks := mustKeySet(t, AlgEdDSA, clock)
	s := mustService(t, ks, clock, nil)
	big := mustService(t, ks, clock, func(c *Config) { c.MaxSize = 64 << 10 })
	kids := map[string]any{
		"path":        "../../etc/passwd",
		"abs path":    "/etc/passwd",
		"sql":         "x' OR '1'='1'; DROP TABLE users; --",
		"empty":       "",
		"nul":         "a\x00b",
		"10KB":        strings.Repeat("k", 10<<10),
		"number":      42,
		"float":       1.5,
		"bool":        true,
		"null":        nil,
		"array":       []string{ks.SigningKID()},
		"object":      map[string]any{"kid": ks.SigningKID()},
		"kid + space": ks.SigningKID() + " ",
		"kid upper":   strings.ToUpper(ks.SigningKID()),
	}
	for name, kid := range kids {
		h := validHeader(ks)
		h["kid"] = kid
		tok := signWithKeySet(t, ks, h, validClaims(clock))
		for _, svc := range []*Service{s, big} {
			_, err := svc.Verify(tok)
			if len(tok) > svc.cfg.MaxSize {
				wantErr(t, err, gatehouse.ErrTooLarge)
				continue
			}
			if !isInvalid(err) {
				t.Errorf("kid %s: err = %v, want invalid", name, err)
			}
		}
	}
}

func TestGarbage(t *testing.T) {
	clock := newTestClock()
	ks := mustKeySet(t, AlgEdDSA, clock)
	s := mustService(t, ks, clock, nil)
	good := signWithKeySet(t, ks, validHeader(ks), validClaims(clock))
	p := strings.Split(good, ".")
	hdr, claims := encodeJSON(t, validHeader(ks)), encodeJSON(t, validClaims(clock))
	// A valid token whose header surely has a "-" in base64url ("~~~" encodes as "fn5-"), so its
	// standard-base64 spelling differs from it.
	tilde := validHeader(ks)
	tilde["x"] = "~~~"
	withDash := signWithKeySet(t, ks, tilde, validClaims(clock))
	if _, err := s.Verify(withDash); err != nil {
		t.Fatalf("baseline with a dash: %v", err)
	}
	cases := map[string]string{
		"empty":             "",
		"one part":          "abc",
		"two parts":         p[0] + "." + p[1],
		"four parts":        good + ".x",
		"dots":              "..",
		"bad base64":        "!!!." + p[1] + "." + p[2],
		"padded base64":     p[0] + "=." + p[1] + "." + p[2],
		"std base64":        strings.NewReplacer("-", "+", "_", "/").Replace(withDash),
		"header array":      b64([]byte(`["alg","EdDSA"]`)) + "." + p[1] + "." + p[2],
		"header string":     b64([]byte(`"EdDSA"`)) + "." + p[1] + "." + p[2],
		"header not JSON":   b64([]byte(`{alg:EdDSA}`)) + "." + p[1] + "." + p[2],
		"claims array":      signWithKeySetRaw(t, ks, hdr, b64([]byte(`[1,2,3]`))),
		"claims null":       signWithKeySetRaw(t, ks, hdr, b64([]byte(`null`))),
		"claims not JSON":   signWithKeySetRaw(t, ks, hdr, b64([]byte(`sub=alice`))),
		"claims trailing":   signWithKeySetRaw(t, ks, hdr, b64([]byte(`{"sub":"a"} {}`))),
		"empty signature":   p[0] + "." + p[1] + ".",
		"short signature":   p[0] + "." + p[1] + "." + p[2][:20],
		"swapped parts":     p[1] + "." + p[0] + "." + p[2],
		"whitespace":        " " + good,
		"unsigned claims":   hdr + "." + claims + "." + p[2],
		"signature of junk": p[0] + "." + p[1] + "." + b64([]byte(strings.Repeat("\x00", 64))),
	}
	for name, tok := range cases {
		if _, err := s.Verify(tok); !isInvalid(err) {
			t.Errorf("%s: err = %v, want invalid", name, err)
		}
	}
	if _, err := s.Verify(good); err != nil {
		t.Fatalf("baseline: %v", err)
	}
}

// signWithKeySetRaw signs already encoded segments.
func signWithKeySetRaw(t *testing.T, ks *KeySet, header, claims string) string {
	t.Helper()
	k := ks.signingKey()
	sig, err := k.method.Sign(header+"."+claims, k.sign)
	if err != nil {
		t.Fatal(err)
	}
	return header + "." + claims + "." + b64(sig)
}

// TestNonCanonicalBase64 flips the unused low bits of the signature's last character: the
// bytes decode the same, but strict decoding refuses the second spelling.
func TestNonCanonicalBase64(t *testing.T) {
	clock := newTestClock()
	s := mustService(t, mustKeySet(t, AlgEdDSA, clock), clock, nil)
	tok, _ := mustIssue(t, s, clock)
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	last := strings.IndexByte(alphabet, tok[len(tok)-1])
	// A 64-byte signature is 86 characters; the last one carries 2 significant bits.
	twin := tok[:len(tok)-1] + string(alphabet[last|0x0f])
	if twin == tok {
		twin = tok[:len(tok)-1] + string(alphabet[last&^0x0f])
	}
	if _, err := base64.RawURLEncoding.DecodeString(strings.Split(twin, ".")[2]); err != nil {
		t.Fatalf("twin does not decode leniently: %v", err)
	}
	wantErr(t, verifyError(s, twin), gatehouse.ErrInvalidToken)
	if _, err := s.Verify(tok); err != nil {
		t.Fatal(err)
	}
}

// TestES256HighS builds the other valid ECDSA signature of an ES256 token, (r, N-s). Go's
// ECDSA verification accepts it, so Verify does too; what matters is that it returns the same
// jti, because revocation is keyed on the jti and not on the token string: the twin of a
// revoked token is therefore revoked as well.
func TestES256HighS(t *testing.T) {
	clock := newTestClock()
	s := mustService(t, mustKeySet(t, AlgES256, clock), clock, nil)
	tok, issued := mustIssue(t, s, clock)
	parts := strings.Split(tok, ".")
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil || len(sig) != 64 {
		t.Fatalf("signature: %d bytes, %v", len(sig), err)
	}
	n := elliptic.P256().Params().N
	sTwin := new(big.Int).Sub(n, new(big.Int).SetBytes(sig[32:]))
	twinSig := append(append([]byte(nil), sig[:32]...), sTwin.FillBytes(make([]byte, 32))...)
	parts[2] = b64(twinSig)
	twin := strings.Join(parts, ".")
	if twin == tok {
		t.Fatal("twin equals the token")
	}
	got, err := s.Verify(twin)
	if err != nil {
		t.Fatalf("Verify(high-S twin): %v (documented behaviour: accepted with the same jti)", err)
	}
	if got.ID != issued.ID || !reflect.DeepEqual(got.Principal, issued.Principal) {
		t.Fatalf("twin claims %+v differ from %+v", got, issued)
	}
	// Corrupting s otherwise still fails.
	twinSig[63] ^= 1
	parts[2] = b64(twinSig)
	wantErr(t, verifyError(s, strings.Join(parts, ".")), gatehouse.ErrInvalidToken)
}

// TestNumericDatesMustBeNumbers: exp, nbf and iat written as JSON strings (even strings that hold
// a valid number, which encoding/json and jwt.NumericDate would take) or as null make the token
// invalid, never accepted with a date read from a string (RFC 7519 section 2: a NumericDate is a
// JSON number). Only the key holder can sign such a token: this is defence in depth.
func TestNumericDatesMustBeNumbers(t *testing.T) {
	clock := newTestClock()
	ks := mustKeySet(t, AlgEdDSA, clock)
	s := mustService(t, ks, clock, func(c *Config) { c.CacheSize = -1 })
	now := clock.Now().Unix()
	num := func(n int64) string { return strconv.FormatInt(n, 10) }
	for _, claim := range []string{"exp", "nbf", "iat"} {
		want := map[string]int64{"exp": now + 900, "nbf": now, "iat": now}[claim]
		for _, bad := range []any{num(want), num(want) + ".5", nil, true, []int64{want}, map[string]int64{"n": want}} {
			c := validClaims(clock)
			c[claim] = bad
			_, err := s.Verify(signWithKeySet(t, ks, validHeader(ks), c))
			if !errors.Is(err, gatehouse.ErrInvalidToken) {
				t.Errorf("%s = %#v: err = %v, want invalid", claim, bad, err)
			}
		}
	}
	// The same claims as numbers (iat with a fraction, as gatehouse writes it) verify.
	c := validClaims(clock)
	c["iat"] = json.Number(num(now) + ".123")
	if _, err := s.Verify(signWithKeySet(t, ks, validHeader(ks), c)); err != nil {
		t.Fatalf("numbers: %v", err)
	}
}
