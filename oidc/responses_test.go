package oidc

import (
	"net/url"
	"strings"
	"testing"

	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
)

// The encoder adds iss to both kinds of authorization response, next to what the library's
// encoder writes, and replaces an iss the response might carry.
func TestIssuerEncoder(t *testing.T) {
	enc := issuerEncoder{inner: oidc.NewEncoder(), issuer: "https://id.example"}
	for _, c := range []struct {
		src  any
		want url.Values
	}{
		{&op.CodeResponseType{Code: "c", State: "s t"}, url.Values{"code": {"c"}, "state": {"s t"}, "iss": {"https://id.example"}}},
		{&oidc.Error{ErrorType: oidc.AccessDenied, Description: "no", State: "s"},
			url.Values{"error": {"access_denied"}, "error_description": {"no"}, "state": {"s"}, "iss": {"https://id.example"}}},
		{&struct {
			Iss string `schema:"iss"`
		}{"https://other.example"}, url.Values{"iss": {"https://id.example"}}},
	} {
		dst := map[string][]string{}
		if err := enc.Encode(c.src, dst); err != nil {
			t.Fatal(err)
		}
		if got := url.Values(dst).Encode(); got != c.want.Encode() {
			t.Errorf("%T encoded as %s, want %s", c.src, got, c.want.Encode())
		}
	}
}

func TestCheckEchoed(t *testing.T) {
	for _, c := range []struct {
		form url.Values
		want string // part of the message; "" for none
	}{
		{url.Values{}, ""},
		{url.Values{"state": {"a b&c=d#e%/?ü\x01"}, "nonce": {"n"}}, ""},
		{url.Values{"state": {strings.Repeat("s", MaxStateBytes)}, "nonce": {strings.Repeat("n", MaxNonceBytes)}}, ""},
		{url.Values{"state": {strings.Repeat("s", MaxStateBytes+1)}}, "state is longer than 4096 bytes"},
		{url.Values{"nonce": {strings.Repeat("n", MaxNonceBytes+1)}}, "nonce is longer than 4096 bytes"},
		{url.Values{"state": {"\xff\xfe"}}, "state is not valid UTF-8"},
		{url.Values{"nonce": {"ok\xc3"}}, "nonce is not valid UTF-8"},
		{url.Values{"state": {"a", strings.Repeat("s", MaxStateBytes+1)}}, "state is given more than once"},
		{url.Values{"nonce": {"a", "a"}}, "nonce is given more than once"},
	} {
		got := checkEchoed(c.form)
		if c.want == "" && got != "" || c.want != "" && !strings.Contains(got, c.want) {
			t.Errorf("%q: %q, want %q", c.form.Encode(), got, c.want)
		}
	}
}
