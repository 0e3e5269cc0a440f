package token

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/gatehouse-auth/gatehouse"
	"github.com/golang-jwt/jwt/v5"
)

// The Wycheproof JSON Web Signature and JSON Web Key vectors (testdata/wycheproof, see its
// README.md for the source and licence) run against gatehouse's verifier.
//
// Why the signature layer: every Wycheproof JWS signs a payload such as "foo", "" or raw
// bytes, never a JSON claim set, and carries no typ. No JWT verifier can accept those through
// its claims parser (golang-jwt refuses a non-JSON payload before it looks at the signature),
// and gatehouse's exp/iss/aud/sub/jti/typ checks would reject every vector for reasons that
// have nothing to do with the signature. verifySignatureLayer therefore runs the steps of
// Service.Verify that come before the claims, with Verify's own objects: the size cap, the
// configured parser's base64url decoding (strict), the algorithm allow-list, the production
// keyFor (kid lookup in the key set, alg binding, crit refusal) and the key's bound method.
// TestWycheproofHarnessAgreesWithVerify checks that it decides like Verify on real tokens,
// and every vector is also fed to Verify itself, which must reject it.
//
// Keys are given to gatehouse the way gatehouse takes them: a JWK Set of public keys through
// ParseJWKS, and symmetric (oct) keys, which gatehouse never accepts in a JWK Set, through its
// key file (kid, alg and k copied verbatim), read by LoadKeySet.

// wycheproofAlgs is the widest allow-list gatehouse can be configured with.
var wycheproofAlgs = []string{AlgEdDSA, AlgES256, AlgHS256}

type wpFile struct {
	NumberOfTests int       `json:"numberOfTests"`
	TestGroups    []wpGroup `json:"testGroups"`
}

type wpGroup struct {
	Comment string          `json:"comment"`
	Public  json.RawMessage `json:"public"`
	Private json.RawMessage `json:"private"`
	Tests   []wpTest        `json:"tests"`
}

type wpTest struct {
	TcID    int    `json:"tcId"`
	Comment string `json:"comment"`
	JWS     string `json:"jws"`
	Result  string `json:"result"`
}

// wpContradictory lists the vectors whose label contradicts the file itself. They cannot be
// counted as valid or invalid: each is checked against the property that makes it
// contradictory (see checkContradictory).
var wpContradictory = map[string]map[int]string{
	"json_web_signature_test.json": {
		367: "same",  // "invalidBase64Padding": byte for byte the jws of tcId 357, labelled valid
		370: "same",  // "invalidBase64PaddingInPayload": likewise identical to tcId 357
		372: "alter", // labelled valid, but a '?' is inserted into the signed header
		373: "alter", // labelled valid, but a '?' is inserted into the signed payload
	},
}

// wpTally counts the outcomes of one file.
type wpTally struct{ accepted, rejected, policy, contradictory int }

func TestWycheproofJWS(t *testing.T) { runWycheproof(t, "json_web_signature_test.json") }

func TestWycheproofJWK(t *testing.T) { runWycheproof(t, "json_web_key_test.json") }

func runWycheproof(t *testing.T, name string) {
	f := loadWycheproof(t, name)
	var n wpTally
	verdicts := map[int]error{} // by tcId, for the contradictory vectors
	for _, g := range f.TestGroups {
		s, keyErr := wycheproofService(t, g)
		for _, tc := range g.Tests {
			err := keyErr
			if err == nil {
				err = s.verifySignatureLayer(tc.JWS)
				requireVerifyRejects(t, s, tc)
			}
			verdicts[tc.TcID] = err
			if _, ok := wpContradictory[name][tc.TcID]; ok {
				continue
			}
			checkVector(t, g, tc, err, &n)
		}
	}
	for id, kind := range wpContradictory[name] {
		checkContradictory(t, f, id, kind, verdicts)
		n.contradictory++
	}
	if total := n.accepted + n.rejected + n.policy + n.contradictory; total != f.NumberOfTests {
		t.Fatalf("%s: ran %d vectors, the file declares %d", name, total, f.NumberOfTests)
	}
	t.Logf("%s: %d valid accepted, %d invalid rejected, %d valid rejected by policy, %d contradictory checked",
		name, n.accepted, n.rejected, n.policy, n.contradictory)
}

// checkVector asserts gatehouse's verdict on one vector and counts it.
func checkVector(t *testing.T, g wpGroup, tc wpTest, err error, n *wpTally) {
	t.Helper()
	where := fmt.Sprintf("tcId %d (%s, group %s)", tc.TcID, tc.Comment, g.Comment)
	switch {
	case tc.Result == "invalid":
		if err == nil {
			t.Errorf("%s: invalid vector accepted", where)
		}
		n.rejected++
	case tc.Result != "valid":
		t.Errorf("%s: unexpected result %q", where, tc.Result)
	case wpPolicyReason(tc.JWS) != "":
		// Valid JWS, but outside what gatehouse accepts by design (its documented allow-list
		// is EdDSA, ES256, HS256; compact serialization only): it must be refused.
		if err == nil {
			t.Errorf("%s: accepted although %s", where, wpPolicyReason(tc.JWS))
		}
		n.policy++
	default:
		if err != nil {
			t.Errorf("%s: valid vector rejected: %v", where, err)
		}
		n.accepted++
	}
}

// checkContradictory checks a vector whose label the file contradicts: "same" vectors are
// byte-identical to tcId 357 and must get 357's verdict (a verifier is a function of its
// input); "alter" vectors change the signed text, so the HMAC over it cannot match (RFC 7515
// section 5.2) and they must be rejected.
func checkContradictory(t *testing.T, f wpFile, id int, kind string, verdicts map[int]error) {
	t.Helper()
	jws := wpFind(f, id).JWS
	switch kind {
	case "same":
		if jws != wpFind(f, 357).JWS {
			t.Fatalf("tcId %d is no longer identical to tcId 357: classify it again", id)
		}
		if (verdicts[id] == nil) != (verdicts[357] == nil) {
			t.Errorf("tcId %d: verdict %v differs from identical tcId 357's %v", id, verdicts[id], verdicts[357])
		}
	case "alter":
		if !strings.Contains(jws, "?") {
			t.Fatalf("tcId %d no longer carries the inserted character: classify it again", id)
		}
		if verdicts[id] == nil {
			t.Errorf("tcId %d: a token whose signed text was altered was accepted", id)
		}
	}
}

func wpFind(f wpFile, id int) wpTest {
	for _, g := range f.TestGroups {
		for _, tc := range g.Tests {
			if tc.TcID == id {
				return tc
			}
		}
	}
	return wpTest{}
}

// wpPolicyReason says why gatehouse refuses a vector by design, or "" when it must accept a
// valid one.
func wpPolicyReason(jws string) string {
	if strings.HasPrefix(jws, "{") {
		return "it uses the JWS JSON serialization (gatehouse takes the compact form only)"
	}
	head, _, _ := strings.Cut(jws, ".")
	raw, _ := base64.RawURLEncoding.DecodeString(head)
	var h struct{ Alg string }
	_ = json.Unmarshal(raw, &h)
	if !slices.Contains(wycheproofAlgs, h.Alg) {
		return fmt.Sprintf("alg %q is outside the allow-list (EdDSA, ES256, HS256)", h.Alg)
	}
	return ""
}

// requireVerifyRejects feeds the vector to the full verifier: no Wycheproof JWS is an access
// token (no typ, no claim set), so Verify must refuse every one, valid or not.
func requireVerifyRejects(t *testing.T, s *Service, tc wpTest) {
	t.Helper()
	if _, err := s.Verify(tc.JWS); !errors.Is(err, gatehouse.ErrInvalidToken) && !errors.Is(err, gatehouse.ErrTooLarge) {
		t.Errorf("tcId %d: Verify = %v, want an invalid-token error", tc.TcID, err)
	}
}

func loadWycheproof(t *testing.T, name string) wpFile {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("testdata", "wycheproof", name))
	if err != nil {
		t.Fatal(err)
	}
	var f wpFile
	if err := json.Unmarshal(raw, &f); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return f
}

// wycheproofService builds a Service on the group's key (its public JWK or JWK Set when it
// has one, else the private one, which for symmetric keys is the only one). A key gatehouse
// refuses is returned as the error every vector of the group gets.
func wycheproofService(t *testing.T, g wpGroup) (*Service, error) {
	t.Helper()
	jwk := g.Public
	if len(jwk) == 0 {
		jwk = g.Private
	}
	var set struct{ Keys []map[string]any }
	if err := json.Unmarshal(jwk, &set); err != nil || set.Keys == nil {
		var one map[string]any
		if err := json.Unmarshal(jwk, &one); err != nil {
			t.Fatalf("group %s: key: %v", g.Comment, err)
		}
		set.Keys = []map[string]any{one}
	}
	clock := newTestClock()
	ks, err := wycheproofKeySet(t, set.Keys, clock)
	if err != nil {
		return nil, fmt.Errorf("key refused: %w", err)
	}
	return mustService(t, ks, clock, func(c *Config) { c.Algorithms = wycheproofAlgs; c.CacheSize = -1 }), nil
}

// wycheproofKeySet loads keys into gatehouse: a set of only symmetric keys through the key
// file, anything else through ParseJWKS.
func wycheproofKeySet(t *testing.T, keys []map[string]any, clock *testClock) (*KeySet, error) {
	t.Helper()
	allOct := true
	for _, k := range keys {
		allOct = allOct && k["kty"] == "oct"
	}
	if !allOct {
		set, _ := json.Marshal(map[string]any{"keys": keys})
		return ParseJWKS(set, clock.Now)
	}
	f := map[string]any{"version": keyFileVersion, "keys": []map[string]any{}}
	for _, k := range keys {
		f["keys"] = append(f["keys"].([]map[string]any), map[string]any{
			"kid": k["kid"], "alg": k["alg"], "key": k["k"], "created_at": clock.Now().UTC(),
		})
	}
	raw, _ := json.Marshal(f)
	path := filepath.Join(t.TempDir(), "keys.json")
	if err := os.WriteFile(path, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	return LoadKeySet(path, KeyOptions{Alg: AlgHS256, Now: clock.Now})
}

// verifySignatureLayer runs what Service.Verify (through jwt.Parser.ParseWithClaims) does
// before it decodes the claims, in the same order and with the same objects: the size cap, no
// line break, three segments, the configured parser's base64url decoding, a JSON header, a known alg on
// the allow-list, the production keyFor, and the bound method's signature check. Only typ is
// supplied when absent: it is an RFC 9068 access-token rule that the vectors do not carry.
func (s *Service) verifySignatureLayer(jws string) error {
	if len(jws) > s.cfg.MaxSize {
		return gatehouse.ErrTooLarge
	}
	if err := refuseLineBreaks(jws); err != nil {
		return err
	}
	parts := strings.Split(jws, ".")
	if len(parts) != 3 {
		return errors.New("not three segments")
	}
	headerJSON, err := s.parser.DecodeSegment(parts[0])
	if err != nil {
		return fmt.Errorf("header: %w", err)
	}
	var header map[string]any
	if err := json.Unmarshal(headerJSON, &header); err != nil {
		return fmt.Errorf("header: %w", err)
	}
	if _, err := s.parser.DecodeSegment(parts[1]); err != nil {
		return fmt.Errorf("payload: %w", err)
	}
	alg, _ := header["alg"].(string)
	method := jwt.GetSigningMethod(alg)
	if method == nil || !slices.Contains(s.cfg.Algorithms, alg) {
		return fmt.Errorf("alg %q not accepted", alg)
	}
	sig, err := s.parser.DecodeSegment(parts[2])
	if err != nil {
		return fmt.Errorf("signature: %w", err)
	}
	if _, ok := header["typ"]; !ok {
		header["typ"] = TypAccessToken
	}
	key, err := s.keyFor(&jwt.Token{Raw: jws, Header: header, Method: method})
	if err != nil {
		return err
	}
	return method.Verify(parts[0]+"."+parts[1], sig, key)
}

// TestWycheproofHarnessAgreesWithVerify checks that verifySignatureLayer decides like
// Service.Verify on real access tokens: it accepts what Verify accepts and rejects the
// signature-level forgeries Verify rejects.
func TestWycheproofHarnessAgreesWithVerify(t *testing.T) {
	for _, alg := range wycheproofAlgs {
		t.Run(alg, func(t *testing.T) {
			clock := newTestClock()
			ks := mustKeySet(t, alg, clock)
			s := mustService(t, ks, clock, func(c *Config) { c.Algorithms = wycheproofAlgs; c.CacheSize = -1 })
			good, _ := mustIssue(t, s, clock)
			if _, err := s.Verify(good); err != nil {
				t.Fatalf("Verify(issued) = %v", err)
			}
			if err := s.verifySignatureLayer(good); err != nil {
				t.Fatalf("verifySignatureLayer(issued) = %v", err)
			}
			for name, bad := range harnessForgeries(t, ks, clock, good) {
				_, verr := s.Verify(bad)
				herr := s.verifySignatureLayer(bad)
				if verr == nil || herr == nil {
					t.Errorf("%s: Verify = %v, verifySignatureLayer = %v; both must reject", name, verr, herr)
				}
			}
		})
	}
}

// harnessForgeries derives tokens from good that only a signature-level check refuses.
func harnessForgeries(t *testing.T, ks *KeySet, clock *testClock, good string) map[string]string {
	parts := strings.Split(good, ".")
	sig, _ := base64.RawURLEncoding.DecodeString(parts[2])
	sig[len(sig)/2] ^= 1
	other := validClaims(clock)
	other["sub"] = "someone-else"
	none := validHeader(ks)
	none["alg"] = "none"
	unknown := validHeader(ks)
	unknown["kid"] = "no-such-kid"
	return map[string]string{
		"flipped signature bit":   parts[0] + "." + parts[1] + "." + b64(sig),
		"changed payload":         parts[0] + "." + encodeJSON(t, other) + "." + parts[2],
		"alg none":                encodeJSON(t, none) + "." + parts[1] + ".",
		"unknown kid":             encodeJSON(t, unknown) + "." + parts[1] + "." + parts[2],
		"four segments":           good + ".",
		"line break in signature": parts[0] + "." + parts[1] + "." + parts[2][:8] + "\n" + parts[2][8:],
		"missing signature":       parts[0] + "." + parts[1] + ".",
	}
}

// TestLineBreakInTokenRejected is the regression test of a malleability found next to
// Wycheproof's "rejectsInvalidCharacterInsertedInMac" vectors: Go's base64 decoder skips CR and
// LF even in strict mode, so a line break inserted into the signature segment used to verify as
// a second spelling of the same token. Verify must refuse it, and still accept the original.
func TestLineBreakInTokenRejected(t *testing.T) {
	for _, alg := range testAlgs {
		clock := newTestClock()
		s := mustService(t, mustKeySet(t, alg, clock), clock, nil)
		tok, _ := mustIssue(t, s, clock)
		cut := strings.LastIndexByte(tok, '.') + 10
		for _, br := range []string{"\n", "\r\n", "\r"} {
			for _, bad := range []string{tok[:cut] + br + tok[cut:], tok + br, br + tok} {
				_, err := s.Verify(bad)
				wantErr(t, err, gatehouse.ErrInvalidToken)
			}
		}
		if _, err := s.Verify(tok); err != nil {
			t.Fatalf("%s: Verify(original) = %v", alg, err)
		}
	}
}
