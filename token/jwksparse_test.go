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
	} {
		if _, err := token.ParseJWKS([]byte(set), nil); err == nil {
			t.Errorf("ParseJWKS(%s) accepted", set)
		}
	}
}
