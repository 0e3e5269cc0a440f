package oidc

import (
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
