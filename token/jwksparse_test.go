package token_test

import (
	"testing"

	"github.com/gatehouse-auth/gatehouse/token"
)

func TestParseJWKSRefusesPrivateAndOddKeys(t *testing.T) {
	for _, set := range []string{
		`{"keys":[]}`, `not json`,
		`{"keys":[{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo","d":"nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A","kid":"a","alg":"EdDSA"}]}`,
		`{"keys":[{"kty":"oct","k":"c2VjcmV0","kid":"a","alg":"HS256"}]}`,
		`{"keys":[{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo","alg":"EdDSA"}]}`,
		`{"keys":[{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo","kid":"a","alg":"ES256"}]}`,
		`{"keys":[{"kty":"EC","crv":"P-256","x":"AAAA","y":"AAAA","kid":"a","alg":"ES256"}]}`,
		// Wycheproof's "rejectWrongKeyOps" key (tcId 356) with an alg: key_ops without verify.
		wycheproofECKey(`"key_ops":["encrypt"]`),
		wycheproofECKey(`"key_ops":"verify"`),
	} {
		if _, err := token.ParseJWKS([]byte(set), nil); err == nil {
			t.Errorf("ParseJWKS(%s) accepted", set)
		}
	}
}

// wycheproofECKey is the P-256 key of Wycheproof's JWS vectors as a JWK Set, with extra members.
func wycheproofECKey(extra string) string {
	return `{"keys":[{"kty":"EC","crv":"P-256","alg":"ES256","kid":"kid-ec-sign",` + extra +
		`,"x":"04N0xi21hshyvBp7I167sbE_bXqyqkAPfefdklMO7wY","y":"UI8exy-C06a7DUnjIdENkxeFtHM4-l_41LqEw9nVgmw"}]}`
}

func TestParseJWKSKeyOps(t *testing.T) {
	for _, extra := range []string{`"key_ops":["verify"]`, `"key_ops":["sign","verify"]`, `"use":"sig"`} {
		if _, err := token.ParseJWKS([]byte(wycheproofECKey(extra)), nil); err != nil {
			t.Errorf("ParseJWKS with %s: %v", extra, err)
		}
	}
}
