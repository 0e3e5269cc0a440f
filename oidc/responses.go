package oidc

import (
	"fmt"
	"net/url"
	"unicode/utf8"

	httphelper "github.com/zitadel/oidc/v3/pkg/http"
	"github.com/zitadel/oidc/v3/pkg/op"
)

// issuerResponses is the provider as its routes see it: the same *op.Provider, but every
// authorization response it sends to a client (a code or an error, in the query, the fragment
// or a form post) carries the provider's issuer as iss, the mix-up defence of RFC 9207. A
// client that talks to several providers checks iss against the provider it sent the user
// to, so a response from another one (or an attacker's) cannot be passed off as this one's.
// The library builds every authorization response with its Encoder and nothing else with it,
// which is why overriding Encoder reaches all of them.
type issuerResponses struct {
	*op.Provider
	enc issuerEncoder
}

func newIssuerResponses(p *op.Provider, issuer string) *issuerResponses {
	return &issuerResponses{Provider: p, enc: issuerEncoder{inner: p.Encoder(), issuer: issuer}}
}

// Encoder is the library's, adding iss.
func (p *issuerResponses) Encoder() httphelper.Encoder { return p.enc }

// issuerEncoder encodes an authorization response with the library's encoder and adds iss.
type issuerEncoder struct {
	inner  httphelper.Encoder
	issuer string
}

func (e issuerEncoder) Encode(src any, dst map[string][]string) error {
	if err := e.inner.Encode(src, dst); err != nil {
		return err
	}
	dst["iss"] = []string{e.issuer}
	return nil
}

// MaxStateBytes and MaxNonceBytes bound the state and the nonce of an authorization request:
// the state comes back in the URL of the redirect to the client and the nonce in the ID token,
// and both are kept with the request until then.
const (
	MaxStateBytes = 4096
	MaxNonceBytes = 4096
)

// checkEchoed returns why the state or nonce of an authorization request cannot be sent back
// byte for byte, or "": given more than once (RFC 6749 section 3.1 forbids it, and the library
// would take the last one), longer than its bound, or not UTF-8 (JSON, in which the request is
// kept and the ID token written, cannot carry other bytes). Such a request gets an error page
// rather than an error sent to the client, since that answer could not carry the state the
// client would match it by.
func checkEchoed(form url.Values) string {
	for _, p := range []struct {
		name string
		max  int
	}{{"state", MaxStateBytes}, {"nonce", MaxNonceBytes}} {
		vs := form[p.name]
		if len(vs) > 1 {
			return fmt.Sprintf("the %s is given more than once", p.name)
		}
		for _, v := range vs {
			switch {
			case len(v) > p.max:
				return fmt.Sprintf("the %s is longer than %d bytes", p.name, p.max)
			case !utf8.ValidString(v):
				return fmt.Sprintf("the %s is not valid UTF-8", p.name)
			}
		}
	}
	return ""
}
